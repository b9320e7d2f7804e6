"""The alert triggers of a sync as a pure state machine (no I/O).

Each trigger of a sync has a level: ``ok``, ``warning`` or ``critical``. After a run,
:func:`evaluate` works out each trigger's new level from the run result and the sync's thresholds,
and returns the transitions that need a message: a message goes out only when a level changes
(ok → warning, warning → critical, critical → ok = recovery, …), never for a repeat.

Triggers:

- ``run_failed``: a ``failed`` run is critical; ``success`` and ``warning`` runs are ok.
- ``rejected_rows``: the share ``(rejected + invalid) / max(planned, 1)`` against the thresholds:
  at or above ``critical`` is critical, at or above ``warning`` is warning, otherwise ok. A level
  whose threshold is not set never fires.

A run that ended any other way (``skipped`` because another run of the sync held its lock,
``cancelled``, ``interrupted``) says nothing about either trigger, and a ``failed`` run says nothing
about rejected rows (it may have stopped before sending anything, so its zero counts would read as
a false recovery): those triggers keep their previous level. So an overlapping trigger neither
raises a failure alert nor resolves one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bcsync.config.alerts import RejectedRowsThresholds
from bcsync.run.results import RunResult

Level = Literal["ok", "warning", "critical"]
LEVELS: tuple[Level, ...] = ("ok", "warning", "critical")
RUN_FAILED = "run_failed"
REJECTED_ROWS = "rejected_rows"
TRIGGERS = (RUN_FAILED, REJECTED_ROWS)
_FINISHED = ("success", "warning")


def dedup_key(sync: str, trigger: str) -> str:
    """The stable key shared by every message of one trigger of one sync (PagerDuty's
    ``dedup_key``: a ``resolve`` closes the incident its ``trigger`` opened)."""
    return f"bcsync:{sync}:{trigger}"


@dataclass(frozen=True)
class Transition:
    """A trigger whose level changed in this run: what a message is about."""

    sync: str
    trigger: str
    previous: Level
    current: Level
    run_id: str
    detail: str  # why the trigger is at its level, e.g. "12 of 40 planned rows (30.0%) ..."

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.sync, self.trigger)

    @property
    def recovered(self) -> bool:
        return self.current == "ok"

    @property
    def escalated(self) -> bool:
        return LEVELS.index(self.current) > LEVELS.index(self.previous)


@dataclass(frozen=True)
class Evaluation:
    """Every trigger's level after the run, and the transitions that need a message."""

    levels: Mapping[str, Level]
    transitions: tuple[Transition, ...]


def rejected_share(result: RunResult) -> float:
    """Rejected plus invalid rows as a share of planned rows (an empty plan counts as one row)."""
    bad = int(result.counts.get("rejected", 0)) + int(result.counts.get("invalid", 0))
    return bad / max(int(result.counts.get("planned", 0)), 1)


def rejected_level(share: float, thresholds: RejectedRowsThresholds) -> Level:
    """The level of a rejected share: at or above a threshold reaches it; unset levels never do."""
    if thresholds.critical is not None and share >= thresholds.critical:
        return "critical"
    if thresholds.warning is not None and share >= thresholds.warning:
        return "warning"
    return "ok"


def _rejected_detail(result: RunResult, share: float, thresholds: RejectedRowsThresholds) -> str:
    counts = result.counts
    limits = ", ".join(
        f"{name} at {value:.1%}"
        for name, value in (("warning", thresholds.warning), ("critical", thresholds.critical))
        if value is not None
    )
    return (
        f"{counts.get('rejected', 0)} rejected + {counts.get('invalid', 0)} invalid of "
        f"{counts.get('planned', 0)} planned rows ({share:.1%}); {limits or 'no thresholds'}"
    )


def _new_levels(
    result: RunResult, thresholds: RejectedRowsThresholds, previous: Mapping[str, Level]
) -> dict[str, tuple[Level, str]]:
    levels: dict[str, tuple[Level, str]] = {}
    if result.status == "failed":
        levels[RUN_FAILED] = ("critical", "the run failed")
    elif result.status in _FINISHED:
        levels[RUN_FAILED] = ("ok", f"the run finished with status {result.status}")
    if result.status in _FINISHED:
        share = rejected_share(result)
        detail = _rejected_detail(result, share, thresholds)
        levels[REJECTED_ROWS] = (rejected_level(share, thresholds), detail)
    for trigger in TRIGGERS:
        levels.setdefault(trigger, (previous.get(trigger, "ok"), "unchanged"))
    return levels


def evaluate(
    result: RunResult,
    thresholds: RejectedRowsThresholds,
    previous: Mapping[str, Level],
) -> Evaluation:
    """The sync's trigger levels after ``result``, given their levels before it.

    ``previous`` maps a trigger to its stored level; a trigger missing from it counts as ``ok``
    (so a first run that is fine sends nothing). Transitions come in ``TRIGGERS`` order.
    """
    levels = _new_levels(result, thresholds, previous)
    transitions = tuple(
        Transition(
            sync=result.sync,
            trigger=trigger,
            previous=previous.get(trigger, "ok"),
            current=level,
            run_id=result.run_id,
            detail=detail,
        )
        for trigger, (level, detail) in levels.items()
        if level != previous.get(trigger, "ok")
    )
    return Evaluation({trigger: level for trigger, (level, _) in levels.items()}, transitions)
