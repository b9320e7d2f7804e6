"""When an ``after:`` schedule fires: every upstream sync has finished a run since the last
firing.

The firing is keyed by the upstream run that completed the set (the one that finished last):
``after:<its run id>``, so every scheduler that sees the same runs claims the same key and the
firing happens once. With ``when: success`` (the default) success and warning runs count; an
upstream run that failed (or was cancelled or interrupted), or whose rejected and invalid rows
are over ``stop_on_rejected_share`` of its planned rows, stops the chain: the firing is recorded
as a skipped run naming that run. ``when: always`` counts any run that ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bcsync.config.schedule import ScheduleConfig
from bcsync.state import RunRecord
from bcsync.state.run_queue import AFTER_PREFIX
from bcsync.vocabulary import RunStatus

_GOOD = (RunStatus.SUCCESS, RunStatus.WARNING)


@dataclass(frozen=True)
class ChainFiring:
    """An ``after:`` firing: its tick key, trigger, the run that set it off, and why it is
    skipped (None: it runs)."""

    key: str
    trigger: str
    set_off_by: RunRecord
    skipped_because: str | None


def rejected_share(run: RunRecord) -> float:
    """Rejected plus invalid rows over planned rows (an empty plan counts as one row), as the
    rejected-rows alert reads it."""
    counts = run.counts
    return (counts["rejected"] + counts["invalid"]) / max(counts["planned"], 1)


def chain_decision(
    schedule: ScheduleConfig, latest: Mapping[str, RunRecord | None]
) -> ChainFiring | None:
    """The firing due, given each upstream sync's latest run that ran since the last firing
    (None for one that has not run since); None while one has still to run."""
    upstream = [latest.get(name) for name in schedule.after or []]
    done = [run for run in upstream if run is not None]
    if not done or len(done) < len(upstream):
        return None
    last = max(done, key=lambda run: (run.finished_at or run.started_at, run.run_id))
    key, trigger = f"{AFTER_PREFIX}{last.run_id}", f"after:{last.sync}"
    if schedule.when == "always":
        return ChainFiring(key, trigger, last, None)
    for run in done:
        if run.status not in _GOOD:
            return ChainFiring(
                key,
                trigger,
                last,
                f"run {run.run_id} of {run.sync} ended {run.status}: the after: chain stops "
                "(when: success)",
            )
        limit = schedule.stop_on_rejected_share
        share = rejected_share(run)
        if limit is not None and share > limit:
            return ChainFiring(
                key,
                trigger,
                last,
                f"run {run.run_id} of {run.sync} rejected {share:.1%} of its planned rows, over "
                f"stop_on_rejected_share ({limit:.1%}): the after: chain stops",
            )
    return ChainFiring(key, trigger, last, None)
