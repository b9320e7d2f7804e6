"""Sending one chunk (``bcsync.run.sending``): what a planned row becomes given its snapshot entry
(``row_op``), and what ``ChunkSender`` does before and around a destination's writes.

The destination is a small in-memory object implementing ``DestinationObject``; the snapshot is
a real file and the rows come from a real plan of a model against it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from bcsync.config.project import SyncConfig
from bcsync.destinations.base import Decision, Problem, RowOp, RowOutcome
from bcsync.run.planner import ChangeSet, PlannedRow, plan
from bcsync.run.sending import ChunkSender, row_op
from bcsync.run.snapshot import Confirmed, Failed, Snapshot, SnapshotEntry

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STORE_TIME = dt.datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)


# -- row_op: a planned row and its snapshot entry as a candidate write --------------------------


def entry(**fields: Any) -> SnapshotEntry:
    base: dict[str, Any] = {
        "pk": "7",
        "row_hash": "old-hash",
        "dest_id": None,
        "status": "synced",
        "attempts": 0,
        "last_error": None,
        "pending_op": None,
        "updated_at": NOW,
    }
    return SnapshotEntry(**{**base, **fields})


def planned_row(kind: Any, snapshot_entry: SnapshotEntry | None) -> PlannedRow:
    return PlannedRow("7", kind, {"id": 7, "email": "a@x.io"}, "new-hash", snapshot_entry)


def test_a_new_row_becomes_a_plain_create() -> None:
    assert row_op("added", planned_row("added", None)) == RowOp(
        "7", "create", {"id": 7, "email": "a@x.io"}, "new-hash"
    )


def test_a_synced_row_updates_the_record_it_holds_and_carries_what_landed() -> None:
    synced = entry(dest_id="101", landed='{"native": "abc", "metafield:wh.ltv": {"id": 9}}')
    op = row_op("changed", planned_row("changed", synced))
    assert (op.op, op.dest_id, op.row_hash) == ("update", "101", "new-hash")
    assert op.landed == {"native": "abc", "metafield:wh.ltv": {"id": 9}}
    assert (op.retry, op.in_doubt, op.hint, op.found_by, op.marked_at) == (
        False, False, None, None, None
    )  # fmt: skip


def test_a_row_whose_last_write_failed_is_a_retry() -> None:
    failed = entry(status="failed", dest_id="101", attempts=2, last_error="422")
    op = row_op("changed", planned_row("changed", failed))
    assert (op.op, op.dest_id, op.retry) == ("update", "101", True)


def test_a_failed_create_is_created_again_as_a_retry() -> None:
    failed = entry(status="failed", row_hash=None, attempts=1, last_error="email taken")
    op = row_op("added", planned_row("added", failed))
    assert (op.op, op.dest_id, op.retry, op.hint) == ("create", None, True, None)


def test_a_returning_row_holds_nothing_but_is_hinted_at_its_old_record() -> None:
    tombstone = entry(status="released", dest_id="101", row_hash=None)
    op = row_op("added", planned_row("added", tombstone))
    assert (op.op, op.dest_id, op.hint, op.retry) == ("create", None, "101", False)


def test_a_create_in_flight_is_in_doubt_with_its_key_and_mark() -> None:
    in_flight = entry(
        status="pending", row_hash=None, pending_op="create", pending_key="a@x.io", pending_at=NOW
    )
    op = row_op("added", planned_row("added", in_flight))
    assert (op.op, op.dest_id, op.in_doubt) == ("create", None, True)
    assert (op.found_by, op.marked_at, op.hint) == ("a@x.io", NOW, None)


def test_a_first_write_in_flight_finds_the_matched_record_again() -> None:
    # The row had matched record 555 and its first write was marked, never settled.
    in_flight = entry(status="pending", row_hash=None, pending_op="update", pending_key="555")
    op = row_op("added", planned_row("added", in_flight))
    assert (op.op, op.dest_id, op.in_doubt, op.found_by) == ("create", None, False, None)
    assert op.hint == "555"


def test_an_update_in_flight_to_a_held_record_stays_an_update_of_it() -> None:
    in_flight = entry(dest_id="101", pending_op="update", pending_key="101", pending_at=NOW)
    op = row_op("changed", planned_row("changed", in_flight))
    assert (op.op, op.dest_id, op.in_doubt, op.hint, op.marked_at) == (
        "update", "101", False, "101", None
    )  # fmt: skip


def test_unreadable_landed_json_sends_every_target() -> None:
    op = row_op("changed", planned_row("changed", entry(dest_id="101", landed="{not json")))
    assert op.landed == {}


# -- ChunkSender, through a destination kept in memory ------------------------------------------


@dataclass
class Customers:
    """Customers in memory: ``records`` maps an email to its record id. An email without ``@``
    is invalid; a create without a name cannot be made; ``gone`` ids no longer exist; writes to
    ``refused`` rows are rejected. Keeps every batch it was given and, for each write, the
    snapshot entry the row had when the write went out."""

    snapshot: Snapshot
    records: dict[str, str] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    created: dict[str, str] = field(default_factory=dict)  # found_by key -> id (find_created)
    name: str = "customers"
    probe_path: str = "/v3/customers?limit=1"
    resolved: list[list[RowOp]] = field(default_factory=list)
    applied: list[list[RowOp]] = field(default_factory=list)
    marked: dict[str, SnapshotEntry | None] = field(default_factory=dict)

    def column_problems(self, column_types: Mapping[str, str]) -> list[Problem]:
        return []

    async def prepare(
        self, column_types: Mapping[str, str], *, dry_run: bool = False
    ) -> list[Problem]:
        return []

    def predict(self, kind: str, dest_id: str | None) -> tuple[str, int]:
        return ("update", 0) if dest_id else ("create", 1)

    def estimate_calls(self, operations: Mapping[str, int], lookups: int) -> int:
        return sum(operations.values()) + lookups

    def static_problems(self) -> list[Problem]:
        return []

    def validate_row(self, values: Mapping[str, Any]) -> str | None:
        email = str(values.get("email"))
        return None if "@" in email else f"column 'email': {email!r} is not a valid email"

    def create_problem(self, values: Mapping[str, Any]) -> str | None:
        return None if values.get("name") else "column 'name' is empty; a customer needs one"

    async def resolve(self, rows: Sequence[RowOp]) -> Decision:
        self.resolved.append(list(rows))
        ops = []
        for op in rows:
            found = op.hint or self.records.get(str(op.values.get("email")).lower())
            if op.dest_id is None and found is not None:
                op = replace(op, op="update", dest_id=found)
            ops.append(op)
        return Decision(ops=ops)

    async def apply(self, ops: Sequence[RowOp]) -> list[RowOutcome]:
        self.applied.append(list(ops))
        if ops:
            held = self.snapshot.get([op.pk for op in ops])
            self.marked.update({op.pk: held.get(op.pk) for op in ops})
        outcomes = []
        for op in ops:
            if op.pk in self.refused:
                outcomes.append(RowOutcome(op.pk, op.op, "rejected", op.dest_id, "refused"))
            elif op.dest_id in self.gone:
                error = f"customer {op.dest_id} no longer exists"
                outcomes.append(
                    RowOutcome(op.pk, op.op, "rejected", op.dest_id, error, after="forget")
                )
            elif op.op == "create":
                new_id = str(900 + len(self.records))
                self.records[str(op.values["email"]).lower()] = new_id
                outcomes.append(RowOutcome(op.pk, "create", "succeeded", new_id, None, op.row_hash))
            else:
                outcomes.append(
                    RowOutcome(op.pk, op.op, "succeeded", op.dest_id, None, op.row_hash)
                )
        return outcomes

    def found_by(self, op: RowOp) -> str | None:
        email = op.values.get("email")
        return None if email is None else str(email)

    async def find_created(self, marks: Sequence[tuple[str, dt.datetime | None]]) -> dict[str, str]:
        return {key: self.created[key] for key, _ in marks if key in self.created}

    async def clock(self) -> dt.datetime:
        return STORE_TIME


def sync_config(mode: str = "upsert", on_delete: str = "nothing") -> SyncConfig:
    return SyncConfig.model_validate(
        {
            "name": "vip",
            "destination": "store",
            "object": "customers",
            "model": {"sql": "select * from customers", "primary_key": "id"},
            "mode": mode,
            "match": {"column": "email", "field": "email"},
            "mappings": [{"column": "name", "field": "first_name"}],
            "on_delete": on_delete,
        }
    )


@pytest.fixture
def snapshot(tmp_path: Path) -> Iterator[Snapshot]:
    with Snapshot(tmp_path / "vip.duckdb") as snap:
        yield snap


def planned(snapshot: Snapshot, rows: Sequence[tuple[int, str | None, str | None]]) -> ChangeSet:
    model = pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.int64()),
            "email": pa.array([r[1] for r in rows], pa.string()),
            "name": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    return plan(model.to_reader(), snapshot, primary_key="id", columns=["email", "name"])


@dataclass
class Run:
    """One plan of ``rows`` and a sender over it; ``send`` sends every added, then changed row."""

    snapshot: Snapshot
    store: Customers
    sync: SyncConfig
    changes: ChangeSet
    prepared: list[int] = field(default_factory=list)

    @property
    def sender(self) -> ChunkSender:
        async def prepare() -> bool:
            self.prepared.append(1)
            return len(self.prepared) == 1  # the first call loads the store's definitions

        return ChunkSender(self.sync, self.store, self.snapshot, self.changes, prepare)

    def send(self) -> dict[str, RowOutcome]:
        outcomes: list[RowOutcome] = []
        for kind in ("added", "changed"):
            for chunk in self.changes.rows(kind):
                outcomes += asyncio.run(self.sender.send(kind, chunk))
        by_pk = {o.pk: o for o in outcomes}
        assert len(by_pk) == len(outcomes), "one outcome per row"
        return by_pk

    def remove(self) -> dict[str, RowOutcome]:
        outcomes: list[RowOutcome] = []
        for entries in self.changes.removed():
            outcomes += asyncio.run(self.sender.remove(entries))
        return {o.pk: o for o in outcomes}


@pytest.fixture
def run(snapshot: Snapshot) -> Iterator[Any]:
    opened: list[ChangeSet] = []

    def start(
        rows: Sequence[tuple[int, str | None, str | None]],
        sync: SyncConfig | None = None,
        store: Customers | None = None,
    ) -> Run:
        changes = planned(snapshot, rows)
        opened.append(changes)
        return Run(snapshot, store or Customers(snapshot), sync or sync_config(), changes)

    yield start
    for changes in opened:
        changes.close()


def holding(snapshot: Snapshot, *held: tuple[int, str, str]) -> None:
    """Entries that hold records: (key, record id, email the record is found by)."""
    snapshot.confirm([Confirmed(str(k), "stale-hash", d, found_key=e) for k, d, e in held])


def test_insert_mode_skips_a_row_that_holds_a_record_without_checking_or_sending_it(
    snapshot: Snapshot, run: Any
) -> None:
    holding(snapshot, (1, "101", "a@x.io"))
    # Row 1 is invalid now, but insert mode never writes it: it is skipped, not invalid.
    sending = run([(1, "not-an-email", "Ann"), (2, "b@x.io", "Bob")], sync_config("insert"))
    outcomes = sending.send()
    skipped = outcomes["1"]
    assert (skipped.status, skipped.op, skipped.dest_id) == ("skipped", None, "101")
    assert skipped.error == "insert mode does not update existing customers"
    assert skipped.row_hash is not None and skipped.row_hash != "stale-hash"  # the hash advances
    assert [op.pk for ops in sending.store.applied for op in ops] == ["2"]
    assert outcomes["2"].status == "succeeded"


def test_insert_mode_retries_a_held_row_whose_last_write_failed(
    snapshot: Snapshot, run: Any
) -> None:
    holding(snapshot, (1, "101", "a@x.io"))
    snapshot.fail([Failed("1", "422: phone is too long", "101")])
    sending = run([(1, "a@x.io", "Ann")], sync_config("insert"))
    outcomes = sending.send()
    assert outcomes["1"].status == "succeeded"
    assert [
        (op.pk, op.op, op.dest_id, op.retry) for ops in sending.store.applied for op in ops
    ] == [("1", "update", "101", True)]


def test_invalid_rows_are_reported_with_their_reason_and_never_sent(
    snapshot: Snapshot, run: Any
) -> None:
    sending = run([(1, "nope", "Ann"), (2, "b@x.io", "Bob")])
    outcomes = sending.send()
    assert (outcomes["1"].status, outcomes["1"].error) == (
        "invalid", "column 'email': 'nope' is not a valid email"
    )  # fmt: skip
    assert [op.pk for ops in sending.store.resolved for op in ops] == ["2"]
    assert [op.pk for ops in sending.store.applied for op in ops] == ["2"]
    assert snapshot.get(["1"]) == {}


def test_a_chunk_of_invalid_rows_loads_nothing_from_the_store(snapshot: Snapshot, run: Any) -> None:
    sending = run([(1, "nope", "Ann"), (2, "nada", "Bob")])
    assert {o.status for o in sending.send().values()} == {"invalid"}
    assert sending.prepared == []


def test_a_create_the_store_would_refuse_is_invalid_and_not_sent(
    snapshot: Snapshot, run: Any
) -> None:
    sending = run([(1, "a@x.io", None), (2, "b@x.io", "Bob")])
    outcomes = sending.send()
    assert (outcomes["1"].status, outcomes["1"].op, outcomes["1"].error) == (
        "invalid", "create", "column 'name' is empty; a customer needs one"
    )  # fmt: skip
    assert [op.pk for ops in sending.store.applied for op in ops] == ["2"]


def test_creates_are_marked_in_flight_with_their_key_and_the_stores_time_before_sending(
    snapshot: Snapshot, run: Any
) -> None:
    sending = run([(1, "Ann@X.io", "Ann")])
    outcome = sending.send()["1"]
    marked = sending.store.marked["1"]
    assert marked is not None
    assert (marked.pending_op, marked.pending_key, marked.pending_at) == (
        "create", "Ann@X.io", STORE_TIME
    )  # fmt: skip
    (sent,) = sending.store.applied[0]
    assert sent.marked_at == STORE_TIME
    assert (outcome.status, outcome.dest_id, outcome.found_key) == ("succeeded", "900", "Ann@X.io")


def test_a_first_write_to_a_matched_record_is_marked_with_that_record(
    snapshot: Snapshot, run: Any
) -> None:
    store = Customers(snapshot, records={"a@x.io": "555"})
    sending = run([(1, "a@x.io", "Ann")], store=store)
    outcome = sending.send()["1"]
    marked = store.marked["1"]
    assert marked is not None
    assert (marked.pending_op, marked.pending_key) == ("update", "555")
    assert (outcome.op, outcome.status, outcome.dest_id) == ("update", "succeeded", "555")


def test_a_rejected_first_write_to_a_matched_record_does_not_hold_it(
    snapshot: Snapshot, run: Any
) -> None:
    store = Customers(snapshot, records={"a@x.io": "555"}, refused={"1"})
    outcome = run([(1, "a@x.io", "Ann")], store=store).send()["1"]
    assert (outcome.op, outcome.status, outcome.dest_id) == ("update", "rejected", None)


def test_a_rejected_update_of_a_held_record_keeps_it(snapshot: Snapshot, run: Any) -> None:
    holding(snapshot, (1, "101", "a@x.io"))
    store = Customers(snapshot, refused={"1"})
    outcome = run([(1, "a@x.io", "Ann")], store=store).send()["1"]
    assert (outcome.op, outcome.status, outcome.dest_id) == ("update", "rejected", "101")
    assert store.marked["1"] is not None and store.marked["1"].pending_op is None


def test_a_new_row_takes_over_the_record_a_tombstone_with_its_email_remembers(
    snapshot: Snapshot, run: Any
) -> None:
    holding(snapshot, (1, "101", "ann@x.io"))
    snapshot.release([("1", None)])
    sending = run([(2, "ANN@x.io", "Ann")])
    outcome = sending.send()["2"]
    (candidate,) = sending.store.resolved[0]
    assert candidate.hint == "101"
    assert (outcome.op, outcome.dest_id) == ("update", "101")


def test_a_record_held_by_another_live_row_is_refused(snapshot: Snapshot, run: Any) -> None:
    holding(snapshot, (1, "101", "a@x.io"))
    # Row 2 matches record 101 by email, which row 1 (still in the model) holds.
    store = Customers(snapshot, records={"a@x.io": "101"})
    outcomes = run([(1, "a@x.io", "Ann"), (2, "a@x.io", "Annie")], store=store).send()
    assert outcomes["2"].status == "rejected"
    assert outcomes["2"].error == (
        "customer 101 is already the record of row '1' of this sync; a record is held by one "
        "row only"
    )
    assert [op.pk for ops in store.applied for op in ops] == ["1"]


@pytest.mark.parametrize("mode", ["upsert", "update"])
def test_a_held_record_deleted_outside_bcsync_is_made_anew_in_upsert_mode_only(
    snapshot: Snapshot, run: Any, mode: str
) -> None:
    holding(snapshot, (1, "101", "a@x.io"))
    store = Customers(snapshot, gone={"101"})
    outcome = run([(1, "a@x.io", "Ann")], sync_config(mode), store).send()["1"]
    if mode == "upsert":
        assert [[(op.op, op.dest_id) for op in ops] for ops in store.applied] == [
            [("update", "101")],
            [("create", None)],
        ]
        assert (outcome.op, outcome.status, outcome.dest_id) == ("create", "succeeded", "900")
        assert outcome.note == "customer 101 no longer exists; created anew"
    else:
        assert len(store.applied) == 1
        assert (outcome.status, outcome.after) == ("rejected", "forget")


# -- ChunkSender.remove: rows that left the model -----------------------------------------------


@pytest.mark.parametrize(
    ("on_delete", "op", "after"), [("delete", "delete", "forget"), ("clear", "clear", "release")]
)
def test_removed_rows_delete_or_clear_their_record(
    snapshot: Snapshot, run: Any, on_delete: str, op: str, after: str
) -> None:
    holding(snapshot, (1, "101", "a@x.io"), (2, "102", "b@x.io"))
    sending = run([(2, "b@x.io", "Bob")], sync_config(on_delete=on_delete))
    outcome = sending.remove()["1"]
    assert [[(o.pk, o.op, o.dest_id) for o in ops] for ops in sending.store.applied] == [
        [("1", op, "101")]
    ]
    assert (outcome.status, outcome.after) == ("succeeded", after)


def test_removed_rows_are_left_in_bigcommerce_when_on_delete_is_nothing(
    snapshot: Snapshot, run: Any
) -> None:
    holding(snapshot, (1, "101", "a@x.io"), (2, "102", "b@x.io"))
    sending = run([(2, "b@x.io", "Bob")])
    outcome = sending.remove()["1"]
    assert (outcome.status, outcome.dest_id, outcome.note, outcome.after) == (
        "succeeded", "101", "left in BigCommerce", "release"
    )  # fmt: skip
    assert all(ops == [] for ops in sending.store.applied)


def test_a_lost_create_of_a_removed_row_is_deleted_if_it_landed_and_forgotten_if_not(
    snapshot: Snapshot, run: Any
) -> None:
    holding(snapshot, (9, "109", "keep@x.io"))  # a row staying in the model (guards aside)
    snapshot.mark_pending([("1", "create"), ("2", "create")], {"1": "a@x.io", "2": "b@x.io"}, NOW)
    store = Customers(snapshot, created={"a@x.io": "301"})
    sending = run([(9, "keep@x.io", "Kay")], sync_config(on_delete="delete"), store)
    outcomes = sending.remove()
    assert [(o.pk, o.op, o.dest_id) for ops in store.applied for o in ops] == [
        ("1", "delete", "301")
    ]
    assert (outcomes["1"].status, outcomes["1"].after) == ("succeeded", "forget")
    assert (outcomes["2"].status, outcomes["2"].dest_id, outcomes["2"].after) == (
        "succeeded", None, "forget"
    )  # fmt: skip
    assert outcomes["2"].note == "its create never reached BigCommerce"
