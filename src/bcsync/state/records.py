"""The values the run store hands out and takes in (frozen; no database types leak out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bcsync.vocabulary import Counts, RunStatus, SentByKind


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class RunRecord:
    """One run of one sync, as stored."""

    run_id: str
    sync: str
    status: RunStatus
    started_at: datetime  # UTC
    finished_at: datetime | None
    error: str | None
    counts: Counts  # a mapping of every counter is taken too
    api_calls: int
    full_resync: bool = False
    pid: int | None = None
    hostname: str | None = None
    trigger: str | None = None  # cli | api | manual | schedule | after:<sync>; None: unknown
    planning_at: datetime | None = None  # when the run reached each phase (None: not reached)
    syncing_at: datetime | None = None
    sent: SentByKind = field(
        default_factory=SentByKind
    )  # added, changed, removed rows: succeeded and rejected
    queued_at: datetime | None = None  # when a scheduler or the API queued it (None: not queued)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))
        object.__setattr__(self, "counts", Counts.of(self.counts))

    @property
    def running(self) -> bool:
        return self.status.running

    def to_json(self) -> dict[str, Any]:
        """The run JSON of DESIGN §1.2 without ``rejected_rows``/``invalid_rows``.

        The caller adds those from ``RunStore.outcomes()`` (at most 100 each, see
        ``RowOutcomeRecord.to_json``).
        """
        return {
            "run_id": self.run_id,
            "sync": self.sync,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
            "counts": self.counts.to_json(),
            "api_calls": self.api_calls,
        }


@dataclass(frozen=True)
class RowOutcomeRecord:
    """What happened to one row in one run.

    ``outcome`` is succeeded | rejected | invalid | skipped. ``op`` is the operation tried
    (create | update | clear | delete; None for an invalid row, which is never sent). ``error``
    is BigCommerce's message for a rejected row, or the reason a row is invalid or skipped.
    ``dest_id`` is the BigCommerce id written or matched, as text.
    """

    pk: str
    outcome: str
    op: str | None = None
    error: str | None = None
    dest_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The row's entry in the run JSON: ``{pk, op, error}`` if rejected, ``{pk, reason}`` if
        invalid, and all fields otherwise."""
        if self.outcome == "rejected":
            return {"pk": self.pk, "op": self.op, "error": self.error}
        if self.outcome == "invalid":
            return {"pk": self.pk, "reason": self.error}
        return {
            "pk": self.pk,
            "op": self.op,
            "outcome": self.outcome,
            "error": self.error,
            "dest_id": self.dest_id,
        }


@dataclass(frozen=True)
class ApiCallRecord:
    """One HTTP request of a run, for the debugger. Already redacted by the caller."""

    seq: int  # order within the run, unique per run
    started_at: datetime  # UTC
    duration_ms: float
    method: str
    path: str
    query: str = ""
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_body: str | None = None
    status: int | None = None  # None: no answer (see error)
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: str | None = None
    attempt: int = 1
    pks: Sequence[str] = ()  # primary keys of the rows the request carried
    error: str | None = None


@dataclass(frozen=True)
class AlertStateRecord:
    """The last known state of one alert trigger of one sync."""

    sync: str
    trigger: str
    state: str  # ok | warning | critical
    dedup_key: str | None
    updated_at: datetime
    last_run_id: str | None


@dataclass(frozen=True)
class SyncLockRecord:
    """Who holds a sync's run lock, and until when the lease runs without a heartbeat."""

    sync: str
    run_id: str
    pid: int
    hostname: str
    acquired_at: datetime
    heartbeat_at: datetime
    lease_expires_at: datetime
    lease_seconds: float
    process_token: str | None
