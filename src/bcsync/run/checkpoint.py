"""Checkpointing a run: each chunk's row outcomes go to the snapshot and the run store at once.

The snapshot is written first because it is what the next run trusts about BigCommerce: a
confirmed write advances the row's hash and pins its id; a rejected one keeps the old hash and
is retried next run; a cleared or deleted record is forgotten. A crash between two chunks loses
nothing already checkpointed.

BigCommerce's row errors quote the values they refuse, and a value may hold a secret (an email
made of the access token): each outcome's error and note are masked with the run's ``redact``
before they reach the snapshot, the run store or the run's result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bcsync.alerts.redaction import Redactor
from bcsync.destinations.base import RowOutcome, landed_json
from bcsync.destinations.bigcommerce.calls import ApiCall
from bcsync.run.debugger import CallRecorder
from bcsync.run.planner import PlanCounts, PlannedRow
from bcsync.run.snapshot import Confirmed, Failed, Snapshot
from bcsync.state import RowOutcomeRecord, RunStore
from bcsync.vocabulary import Counts, Outcome, RowKind, SentByKind


@dataclass
class RunTally:
    """What a run has done so far: its counters, its calls, the rows it reports."""

    counts: Counts = field(default_factory=Counts)
    sent: SentByKind = field(default_factory=SentByKind)
    api_calls: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    recorder: CallRecorder | None = None
    # Masks the project's secrets in every text the run records (see the module docstring).
    redact: Redactor = field(default_factory=Redactor)

    def planned(self, found: PlanCounts, *, full_resync: bool) -> int:
        """Take the plan's counts; returns the rows to send (a full resync removes nothing)."""
        removed = 0 if full_resync else found.removed
        total = found.added + found.changed + removed
        self.counts = self.counts.with_values(
            queried=found.queried,
            added=found.added,
            changed=found.changed,
            removed=found.removed,
            planned=total,
        )
        return total

    def uncount(self, kind: str, rows: int) -> None:
        """``rows`` of ``kind`` turned out invalid when sent: counted as invalid instead."""
        self.counts = self.counts.plus(**{kind: -rows, "planned": -rows})

    def on_call(self, call: ApiCall) -> None:
        self.api_calls += 1
        if self.recorder is not None:
            self.recorder(call)


def checkpoint(
    store: RunStore,
    snapshot: Snapshot,
    run_id: str,
    tally: RunTally,
    outcomes: Sequence[RowOutcome],
    planned: Sequence[PlannedRow] = (),
    kind: RowKind | None = None,
) -> None:
    """Record one chunk's outcomes: snapshot first (what BigCommerce holds), then the run store.
    ``kind`` is the chunk's (added, changed, removed; None for rows invalid before sending).

    ``planned`` are the chunk's rows: a confirmed write of a row's planned values lets the
    snapshot cache that row's quick hash, so the next plan skips its md5.

    Long because the order of its steps is the crash-safety argument (snapshot first, then the run
    store), and it reads best in one place.
    """
    outcomes = [masked(o, tally.redact) for o in outcomes]
    quick = {row.pk: (row.row_hash, row.fast_hash) for row in planned}
    confirmed: list[Confirmed] = []
    failed: list[Failed] = []
    forgotten: list[str] = []
    released: list[tuple[str, str | None]] = []
    displaced: list[tuple[str, str | None]] = []
    for outcome in outcomes:
        if outcome.displaces is not None and outcome.dest_id is not None:
            displaced.append((outcome.displaces, None))
        if outcome.after == "forget" and outcome.status != "rejected":
            forgotten.append(outcome.pk)
        elif outcome.after == "release" and outcome.status != "rejected":
            released.append((outcome.pk, outcome.dest_id))
        elif outcome.status == "succeeded" or (
            outcome.status == Outcome.SKIPPED and outcome.dest_id is not None
        ):
            row_hash, fast_hash = quick.get(outcome.pk, (None, None))
            confirmed.append(
                Confirmed(
                    outcome.pk,
                    outcome.row_hash or "",
                    outcome.dest_id,
                    fast_hash if row_hash is not None and row_hash == outcome.row_hash else None,
                    landed_json(outcome.landed),
                    outcome.found_key,
                )
            )
        elif outcome.status == "rejected":
            failed.append(
                Failed(
                    outcome.pk, outcome.error or "", outcome.dest_id, landed_json(outcome.landed)
                )
            )
        if outcome.status == "rejected":
            tally.rejected.append({"pk": outcome.pk, "op": outcome.op, "error": outcome.error})
        elif outcome.status == "invalid":
            tally.invalid.append({"pk": outcome.pk, "reason": outcome.error})
    ended = Counter(Outcome(o.status).value for o in outcomes)
    tally.counts = tally.counts.plus(**ended)
    if kind is not None:
        tally.sent = tally.sent.plus(kind, ended)
    if confirmed or displaced:
        snapshot.confirm(confirmed, release=displaced)
    if failed:
        snapshot.fail(failed)
    if forgotten:
        snapshot.forget(forgotten)
    if released:
        snapshot.release(released)
    if tally.recorder is not None:
        tally.recorder.flush()
    store.add_outcomes(
        run_id,
        [
            RowOutcomeRecord(
                pk=o.pk, op=o.op, outcome=o.status, error=o.error or o.note, dest_id=o.dest_id
            )
            for o in outcomes
        ],
    )
    record_progress(store, run_id, tally)


def masked(outcome: RowOutcome, redact: Redactor) -> RowOutcome:
    """``outcome`` with the secrets in its error and note masked."""
    error = redact(outcome.error) if outcome.error else outcome.error
    note = redact(outcome.note) if outcome.note else outcome.note
    if error == outcome.error and note == outcome.note:
        return outcome
    return replace(outcome, error=error, note=note)


def record_progress(store: RunStore, run_id: str, tally: RunTally) -> None:
    """The run's counts so far, in the run store: a run started anywhere can be watched live."""
    store.record_progress(run_id, tally.counts, tally.api_calls, tally.sent)


@dataclass(frozen=True)
class Checkpoints:
    """``checkpoint`` for one run, then ``after`` (the run's lock is checked: a run that lost
    it must not send another chunk)."""

    store: RunStore
    snapshot: Snapshot
    run_id: str
    tally: RunTally
    after: Callable[[], None]

    def __call__(
        self,
        outcomes: Sequence[RowOutcome],
        planned: Sequence[PlannedRow] = (),
        kind: RowKind | None = None,
    ) -> None:
        checkpoint(self.store, self.snapshot, self.run_id, self.tally, outcomes, planned, kind)
        self.after()
