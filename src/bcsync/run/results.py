"""Values the engine returns: a run's result, a plan, a check report. JSON shapes of DESIGN §1.2."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bcsync.vocabulary import OPERATIONS, Counts, RunStatus

if TYPE_CHECKING:
    from bcsync.run.planner.warehouse.report import PlannerReport

OPERATION_KEYS = OPERATIONS
MAX_LISTED_ROWS = 100


@dataclass(frozen=True)
class RunResult:
    run_id: str
    sync: str
    status: RunStatus
    started_at: str
    finished_at: str | None
    error: str | None
    counts: Counts
    api_calls: int
    rejected_rows: Sequence[Mapping[str, Any]] = ()
    invalid_rows: Sequence[Mapping[str, Any]] = ()

    def __post_init__(self) -> None:  # the vocabulary's types, whatever the caller passed
        object.__setattr__(self, "status", RunStatus(self.status))
        if not isinstance(self.counts, Counts):
            object.__setattr__(self, "counts", Counts.of(self.counts))

    @property
    def exit_code(self) -> int:
        """1 for a run that stopped short; 0 otherwise, ``skipped`` included: another run of
        the sync was doing the work, so a scheduler's overlapping trigger is not a failure."""
        return 1 if self.status.stopped_short else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "sync": self.sync,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "counts": self.counts.to_json(),
            "api_calls": self.api_calls,
            "rejected_rows": [dict(r) for r in self.rejected_rows[:MAX_LISTED_ROWS]],
            "invalid_rows": [dict(r) for r in self.invalid_rows[:MAX_LISTED_ROWS]],
        }


@dataclass(frozen=True)
class PlanResult:
    sync: str
    counts: Counts
    operations: Mapping[str, int]
    estimated_api_calls: int
    estimated_seconds: float
    invalid_rows: Sequence[Mapping[str, Any]] = ()
    # Which planner ran, the model rows it scanned, the rows and bytes read out of the warehouse.
    planner: PlannerReport | None = None

    def to_json(self) -> dict[str, Any]:
        shape = {
            "sync": self.sync,
            "counts": self.counts.to_json(),
            "operations": {key: int(self.operations.get(key, 0)) for key in OPERATION_KEYS},
            "estimated_api_calls": self.estimated_api_calls,
            "estimated_seconds": round(self.estimated_seconds, 1),
        }
        if self.planner is not None:
            shape["planner"] = self.planner.to_json()
        return shape


@dataclass(frozen=True)
class CheckReport:
    """Problems found for one sync (``sync`` is None for project-wide checks)."""

    sync: str | None
    problems: Sequence[str] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems
