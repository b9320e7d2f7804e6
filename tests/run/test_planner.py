"""Change detection against the snapshot (DESIGN §3.1), with real DuckDB and Arrow data."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcsync.config.project import ModelConfig
from bcsync.errors import ConfigError, WarehouseError
from bcsync.run.planner import ChangeSet, PlannedRow, plan
from bcsync.run.planner.warehouse.planner import plan_in_warehouse
from bcsync.run.snapshot import Confirmed, Failed, Snapshot
from bcsync.warehouse.base import LocalQuery, is_arrow_json
from bcsync.warehouse.session import open_session

COLUMNS = ["email", "first_name", "ltv"]
UTC = dt.UTC
# How diff() hands the model to the planner: every test runs both ways, and they must agree.
SOURCE = {"kind": "stream"}
_files = itertools.count()


@pytest.fixture(autouse=True, params=["stream", "local", "warehouse"])
def source(request: pytest.FixtureRequest):
    """``stream``: Arrow batches (PostgreSQL's path); ``local``: a DuckDB file the snapshot's
    connection attaches and queries itself (a DuckDB warehouse's path); ``warehouse``: the
    warehouse planner (``planner: warehouse``) over a DuckDB warehouse file, for ``diff``
    (tests that call ``plan`` themselves get a stream)."""
    SOURCE["kind"] = request.param
    yield request.param
    SOURCE["kind"] = "stream"


@pytest.fixture
def snapshot(tmp_path: Path):
    with Snapshot(tmp_path / "sync.duckdb") as snap:
        yield snap


def model_of(snapshot: Snapshot, table: pa.Table) -> pa.RecordBatchReader | LocalQuery:
    """``table`` as the planner's input: a stream, or a table in a DuckDB warehouse file."""
    has_json = any(is_arrow_json(t) for t in table.schema.types)
    if SOURCE["kind"] in ("stream", "warehouse") or has_json:  # a DuckDB warehouse streams JSON
        return table.to_reader()
    directory = snapshot.path.parent
    path = directory / f"warehouse-{next(_files)}.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.register("incoming", table)
        conn.execute("CREATE TABLE model AS SELECT * FROM incoming")
    return LocalQuery(
        sync="test",
        sql='SELECT * FROM "model"',
        database=str(path),
        file_search_path=str(directory),
    )


def customers(**overrides: Any) -> pa.Table:
    data: dict[str, Any] = {
        "id": [1, 2, 3],
        "email": ["a@x.io", "b@x.io", "c@x.io"],
        "first_name": ["Ann", "Bob", "Cy"],
        "ltv": [10, 20, 30],
        "notes": ["n1", "n2", "n3"],
    }
    data.update(overrides)
    return pa.table(data)


def diff(snapshot: Snapshot, table: pa.Table, columns=COLUMNS, **kwargs: Any) -> dict[str, Any]:
    """Everything a plan reports, as plain Python values."""
    planning = (
        warehouse_plan if SOURCE["kind"] == "warehouse" and not kwargs.get("full_resync") else plan
    )
    with planning(
        model_of(snapshot, table),
        snapshot,
        primary_key=kwargs.pop("pk", "id"),
        columns=columns,
        **kwargs,
    ) as changes:
        return {
            "counts": changes.counts.to_json(),
            "added": [row for chunk in changes.rows("added") for row in chunk],
            "changed": [row for chunk in changes.rows("changed") for row in chunk],
            "removed": [e.pk for chunk in changes.removed() for e in chunk],
            "obsolete": [e.pk for chunk in changes.obsolete() for e in chunk],
            "invalid": [(r.pk, r.reason) for chunk in changes.invalid() for r in chunk],
            "in_doubt": [(e.pk, e.pending_op) for e in snapshot.pending()],
        }


QUICK_CACHE = (
    "the quick-hash cache is the local planner's (the warehouse planner's is in the warehouse)"
)


def local_planner_only(why: str) -> None:
    """Skip the warehouse planner's run of a test about something only the local planner has."""
    if SOURCE["kind"] == "warehouse":
        pytest.skip(why)


@contextlib.contextmanager
def warehouse_plan(
    model: pa.RecordBatchReader | LocalQuery,
    snapshot: Snapshot,
    *,
    primary_key: str,
    columns: list[str],
    mapping: str = "",
) -> Iterator[ChangeSet]:
    """The warehouse planner's change set for ``model`` (a stream, loaded into a DuckDB
    warehouse file as table ``model``), written back when it closes, as a run's is. The tests
    write the snapshot between plans, so most plans bootstrap the warehouse's table first."""
    assert isinstance(model, pa.RecordBatchReader)
    path = snapshot.path.parent / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.register("incoming", model)
        conn.execute("CREATE OR REPLACE TABLE model AS SELECT * FROM incoming")
    session = open_session(f"duckdb:///{path}")
    try:
        planned = plan_in_warehouse(
            session,
            snapshot,
            "test",
            ModelConfig(table="model", primary_key=primary_key),
            schema="bcsync_planner",
            columns=columns,
            mapping=mapping,
            run=True,
        )
        try:
            yield planned.changes
            planned.write_back(session)
        finally:
            planned.close()
    finally:
        session.close()


def confirm_all(snapshot: Snapshot, result: dict[str, Any], *, quick: bool = True) -> None:
    """What the engine does when BigCommerce accepts every write (``quick``: with the rows'
    quick hashes, as the engine's checkpoint passes them)."""
    rows: list[PlannedRow] = result["added"] + result["changed"]
    snapshot.confirm(
        [Confirmed(r.pk, r.row_hash, f"bc-{r.pk}", r.fast_hash if quick else None) for r in rows]
    )


def pks(rows: list[PlannedRow]) -> list[str]:
    return [row.pk for row in rows]


def hashes(snapshot: Snapshot, table: pa.Table, columns: list[str], pk: str = "id") -> dict:
    """pk → row hash, planned against an empty snapshot."""
    result = diff(snapshot, table, columns=columns, pk=pk)
    return {row.pk: row.row_hash for row in result["added"]}


# -- added / changed / removed -----------------------------------------------------------------


def test_first_run_adds_every_row_with_python_values(snapshot: Snapshot) -> None:
    result = diff(snapshot, customers())
    assert result["counts"] == {
        "queried": 3,
        "added": 3,
        "changed": 0,
        "removed": 0,
        "invalid": 0,
        "unchanged": 0,
        "in_doubt": 0,
        "obsolete": 0,
    }
    first = result["added"][0]
    assert (first.pk, first.kind, first.entry) == ("1", "added", None)
    # only the pk and the hashed columns travel; "notes" is not mapped
    assert first.values == {"id": 1, "email": "a@x.io", "first_name": "Ann", "ltv": 10}
    assert len(first.row_hash) == 32


def test_unchanged_rerun_plans_nothing(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    result = diff(snapshot, customers())
    assert result["counts"]["unchanged"] == 3
    assert result["added"] == result["changed"] == result["removed"] == []


def test_a_changed_mapped_value_is_changed_and_carries_its_entry(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    result = diff(snapshot, customers(first_name=["Ann", "Robert", "Cy"]))
    assert pks(result["changed"]) == ["2"]
    row = result["changed"][0]
    assert row.values["first_name"] == "Robert"
    assert row.entry is not None and row.entry.dest_id == "bc-2"
    assert row.row_hash != row.entry.row_hash


def test_unmapped_column_changes_are_ignored(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    result = diff(snapshot, customers(notes=["x", "y", "z"]))
    assert result["counts"]["unchanged"] == 3


def test_removed_rows_are_the_synced_and_failed_ones_with_an_id(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    snapshot.fail([Failed("2", "rejected")])  # failed update: keeps its id
    snapshot.fail([Failed("9", "create rejected")])  # failed create: no id
    snapshot.mark_pending([("3", "update")])  # in flight, but its record is known
    result = diff(snapshot, customers(id=[4, 5, 6]))
    assert result["removed"] == ["1", "2", "3"]
    assert result["obsolete"] == ["9"]
    assert result["in_doubt"] == [("3", "update")]
    assert result["counts"]["removed"] == 3


def test_a_create_in_flight_whose_row_left_is_removed_if_it_can_be_found(
    snapshot: Snapshot,
) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    snapshot.mark_pending([("7", "create"), ("8", "create")], {"7": "g@x.io"})
    result = diff(snapshot, customers())
    # 7 may have landed and is found by its email; 8 cannot be looked up, so it waits for its
    # row to come back (it is still reported in doubt)
    assert result["removed"] == ["7"]
    assert result["counts"]["removed"] == 1
    assert result["in_doubt"] == [("7", "create"), ("8", "create")]
    with plan(model_of(snapshot, customers()), snapshot, primary_key="id", columns=COLUMNS) as c:
        [entry] = [e for chunk in c.removed() for e in chunk]
    assert (entry.dest_id, entry.pending_key) == (None, "g@x.io")


def test_rows_still_in_the_model_but_invalid_are_not_removed(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    result = diff(snapshot, customers(id=[1, 2, 2]))
    assert result["removed"] == ["3"]
    assert result["counts"]["invalid"] == 2


def test_failed_rows_are_retried_every_run_with_latest_values(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    snapshot.fail([Failed("1", "phone rejected")])
    snapshot.fail([Failed("7", "email taken")])  # a create that failed: no id

    result = diff(snapshot, customers(id=[1, 2, 7]))
    assert pks(result["changed"]) == ["1"]
    assert result["changed"][0].entry.status == "failed"
    assert pks(result["added"]) == ["7"]
    assert result["added"][0].entry.attempts == 1
    assert result["counts"]["unchanged"] == 1


def test_snapshot_advances_only_on_confirm(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    edited = customers(ltv=[10, 20, 31])
    assert pks(diff(snapshot, edited)["changed"]) == ["3"]
    assert pks(diff(snapshot, edited)["changed"]) == ["3"]  # nothing confirmed yet
    confirm_all(snapshot, diff(snapshot, edited))
    assert diff(snapshot, edited)["changed"] == []


def test_a_rejected_row_keeps_its_old_hash(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    edited = diff(snapshot, customers(ltv=[10, 20, 31]))["changed"][0]
    snapshot.fail([Failed(edited.pk, "ltv rejected")])
    # the model goes back to what BigCommerce holds: still retried because it failed
    reverted = diff(snapshot, customers())["changed"]
    assert pks(reverted) == ["3"]
    assert reverted[0].row_hash == reverted[0].entry.row_hash
    snapshot.confirm([Confirmed("3", reverted[0].row_hash, None)])
    assert diff(snapshot, customers())["counts"]["unchanged"] == 3


# -- canonical form ----------------------------------------------------------------------------


def test_integer_float_and_decimal_values_hash_alike(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    as_float = customers(ltv=pa.array([10.0, 20.0, 30.0]))
    as_decimal = customers(ltv=pa.array([Decimal("10.00"), Decimal("20.0"), Decimal("30")]))
    as_wide_decimal = customers(ltv=pa.array([Decimal("10.000")] * 3, pa.decimal128(20, 3)))
    assert diff(snapshot, as_float)["counts"]["unchanged"] == 3
    assert diff(snapshot, as_decimal)["counts"]["unchanged"] == 3
    assert pks(diff(snapshot, as_wide_decimal)["changed"]) == ["2", "3"]


def test_fractional_numbers_compare_by_value(snapshot: Snapshot) -> None:
    cols = ["ltv"]
    as_float = hashes(snapshot, customers(ltv=[1.5, 0.1, -2.25]), cols)
    as_decimal = hashes(
        snapshot,
        customers(ltv=pa.array([Decimal("1.50"), Decimal("0.1"), Decimal("-2.250")])),
        cols,
    )
    assert as_float == as_decimal


def test_primary_key_text_form(snapshot: Snapshot) -> None:
    local_planner_only(
        "planner: warehouse refuses keys other than integer, text and uuid (a ConfigError)"
    )
    ints = hashes(snapshot, customers(), COLUMNS)
    floats = hashes(snapshot, customers(id=[1.0, 2.0, 3.0]), COLUMNS)
    decimals = hashes(
        snapshot, customers(id=[Decimal("1.00"), Decimal(2), Decimal("3.0")]), COLUMNS
    )
    strings = hashes(snapshot, customers(id=["1", "2", "3"]), COLUMNS)
    assert list(ints) == list(floats) == list(decimals) == list(strings) == ["1", "2", "3"]
    assert list(hashes(snapshot, customers(id=[" 1", "01", "1"]), COLUMNS)) == [" 1", "01", "1"]


def test_column_order_does_not_matter(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    table = customers()
    shuffled = table.select(["ltv", "notes", "first_name", "id", "email"])
    assert diff(snapshot, shuffled)["counts"]["unchanged"] == 3
    reordered_config = diff(snapshot, table, columns=["ltv", "email", "first_name"])
    assert reordered_config["counts"]["unchanged"] == 3


def test_adding_a_mapped_column_changes_every_row(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    assert diff(snapshot, customers(), columns=[*COLUMNS, "notes"])["counts"]["changed"] == 3


def test_null_empty_string_and_the_string_null_all_differ(snapshot: Snapshot) -> None:
    values = [None, "", "NULL", "\\N", "~"]
    table = pa.table({"id": list(range(len(values))), "email": values})
    found = hashes(snapshot, table, ["email"])
    assert len(set(found.values())) == len(values)


def test_values_cannot_imitate_a_column_boundary(snapshot: Snapshot) -> None:
    table = pa.table(
        {
            "id": [1, 2, 3, 4],
            "a": ["x\x1fy", "x", "x\\", "x"],
            "b": ["z", "y\x1fz", "y", "\\y"],
        }
    )
    assert len(set(hashes(snapshot, table, ["a", "b"]).values())) == 4


def test_timestamps_compare_as_utc_instants(snapshot: Snapshot) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    utc = pa.array([dt.datetime(2024, 6, 1, 8, 0, tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    local = pa.array([dt.datetime(2024, 6, 1, 10, 0, tzinfo=paris)], pa.timestamp("ms", "+02:00"))
    naive = pa.array([dt.datetime(2024, 6, 1, 8, 0)], pa.timestamp("ns"))
    found = [
        hashes(snapshot, pa.table({"id": [1], "at": arr}), ["at"])["1"]
        for arr in (utc, local, naive)
    ]
    assert found[0] == found[1] == found[2]
    later = pa.array([dt.datetime(2024, 6, 1, 8, 0, 1, tzinfo=UTC)], pa.timestamp("us", "UTC"))
    assert hashes(snapshot, pa.table({"id": [1], "at": later}), ["at"])["1"] != found[0]


def test_booleans_and_dates(snapshot: Snapshot) -> None:
    table = pa.table(
        {
            "id": [1, 2, 3],
            "flag": [True, False, None],
            "day": [dt.date(2024, 1, 2), dt.date(2024, 1, 3), None],
        }
    )
    result = diff(snapshot, table, columns=["flag", "day"])
    assert [r.values for r in result["added"]] == [
        {"id": 1, "flag": True, "day": dt.date(2024, 1, 2)},
        {"id": 2, "flag": False, "day": dt.date(2024, 1, 3)},
        {"id": 3, "flag": None, "day": None},
    ]
    assert len({r.row_hash for r in result["added"]}) == 3


def test_lists_structs_and_json_are_canonical(snapshot: Snapshot) -> None:
    products = pa.array([[{"sku": "A", "qty": 1}], [{"sku": "B", "qty": 2}]])
    address = pa.array([{"city": "Oslo", "zip": "0150"}, {"city": "Rome", "zip": None}])
    raw = pa.array(['{"b": 1, "a": [1.0, "x"]}', '{"k": null}'], pa.json_())
    table = pa.table({"id": [1, 2], "products": products, "address": address, "meta": raw})
    columns = ["products", "address", "meta"]
    first = diff(snapshot, table, columns=columns)
    assert first["added"][0].values == {
        "id": 1,
        "products": [{"sku": "A", "qty": 1}],
        "address": {"city": "Oslo", "zip": "0150"},
        "meta": '{"a":[1,"x"],"b":1}',  # canonical JSON text: exact, keys sorted
    }
    confirm_all(snapshot, first)

    same = pa.table(
        {
            "id": [1, 2],
            # struct fields in another order, JSON keys reordered, 1.0 written as 1
            "products": pa.array([[{"qty": 1, "sku": "A"}], [{"qty": 2, "sku": "B"}]]),
            "address": pa.array([{"zip": "0150", "city": "Oslo"}, {"zip": None, "city": "Rome"}]),
            "meta": pa.array(['{"a":[1,"x"],"b":1}', '{"k":null}'], pa.json_()),
        }
    )
    assert diff(snapshot, same, columns=columns)["counts"]["unchanged"] == 2

    edited = same.set_column(3, "meta", pa.array(['{"a":[1,"x"],"b":2}', '{"k":null}'], pa.json_()))
    assert pks(diff(snapshot, edited, columns=columns)["changed"]) == ["1"]
    nested_null = same.set_column(1, "products", pa.array([[{"qty": 1, "sku": None}], []]))
    assert pks(diff(snapshot, nested_null, columns=columns)["changed"]) == ["1", "2"]


def test_nested_lists_keep_their_shape(snapshot: Snapshot) -> None:
    table = pa.table({"id": [1, 2, 3], "l": [[[1, 2], [3]], [[1], [2, 3]], [[1, 2, 3]]]})
    result = diff(snapshot, table, columns=["l"])
    assert result["added"][0].values["l"] == [[1, 2], [3]]
    assert len({row.row_hash for row in result["added"]}) == 3


def test_text_that_is_not_json_is_kept_as_text(snapshot: Snapshot) -> None:
    meta = pa.array(['{"a": 1}', "{not json"], pa.json_())
    result = diff(snapshot, pa.table({"id": [1, 2], "meta": meta}), columns=["meta"])
    assert [row.values["meta"] for row in result["added"]] == ['{"a":1}', "{not json"]


def test_the_primary_key_may_also_be_a_mapped_column(snapshot: Snapshot) -> None:
    result = diff(snapshot, customers(), columns=["id", "email"])
    assert result["added"][0].values == {"id": 1, "email": "a@x.io"}
    confirm_all(snapshot, result)
    assert diff(snapshot, customers(), columns=["id", "email"])["counts"]["unchanged"] == 3


def test_maps_come_back_as_dicts(snapshot: Snapshot) -> None:
    tags = pa.array([[("a", 1), ("b", 2)]], pa.map_(pa.string(), pa.int64()))
    result = diff(snapshot, pa.table({"id": [1], "tags": tags}), columns=["tags"])
    assert result["added"][0].values["tags"] == {"a": 1, "b": 2}
    reordered = pa.array([[("b", 2), ("a", 1)]], pa.map_(pa.string(), pa.int64()))
    assert hashes(snapshot, pa.table({"id": [1], "tags": reordered}), ["tags"]) == {
        "1": result["added"][0].row_hash
    }


# -- invalid rows and configuration errors -------------------------------------------------------


def test_null_and_duplicate_primary_keys_are_invalid(snapshot: Snapshot) -> None:
    table = pa.table(
        {
            "id": [None, 2, 2, 2, 5],
            "email": list("abcde"),
            "first_name": list("abcde"),
            "ltv": [1, 2, 3, 4, 5],
        }
    )
    result = diff(snapshot, table)
    assert result["invalid"] == [
        (None, "primary key column 'id' is null"),
        ("2", "duplicate primary key '2' in column 'id' (3 rows)"),
        ("2", "duplicate primary key '2' in column 'id' (3 rows)"),
        ("2", "duplicate primary key '2' in column 'id' (3 rows)"),
    ]
    assert pks(result["added"]) == ["5"]
    assert result["counts"]["queried"] == 5
    assert result["counts"]["invalid"] == 4
    assert result["counts"]["unchanged"] == 0


def test_missing_primary_key_column_is_a_config_error(snapshot: Snapshot) -> None:
    with pytest.raises(ConfigError, match=r"'customer_key'.*available columns: id, email"):
        diff(snapshot, customers(), pk="customer_key")


def test_missing_mapped_column_is_a_config_error(snapshot: Snapshot) -> None:
    with pytest.raises(ConfigError, match=r"mapped column 'phone'.*first_name, ltv, notes"):
        diff(snapshot, customers(), columns=["email", "phone"])


# -- full resync, in-doubt writes, chunks --------------------------------------------------------


def test_full_resync_adds_every_valid_row_and_removes_nothing(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    result = diff(snapshot, customers(id=[1, 2, 4]), full_resync=True)
    assert pks(result["added"]) == ["1", "2", "4"]
    assert [r.entry.dest_id if r.entry else None for r in result["added"]] == [
        "bc-1",
        "bc-2",
        None,
    ]
    assert result["removed"] == []
    assert result["counts"]["unchanged"] == 0


def test_in_doubt_writes_are_reported_and_replanned(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    snapshot.mark_pending([("1", "update"), ("4", "create")])
    result = diff(snapshot, customers(id=[1, 2, 4]))
    assert result["in_doubt"] == [("1", "update"), ("4", "create")]
    # the update may or may not have landed: sent again; the create must be settled, so it
    # stays "added" with its entry for the engine to look up before creating
    assert pks(result["changed"]) == ["1"]
    assert pks(result["added"]) == ["4"]
    assert result["added"][0].entry.pending_op == "create"
    assert result["removed"] == ["3"]


def test_rows_come_in_chunks_ordered_by_key_while_the_snapshot_is_written(
    snapshot: Snapshot,
) -> None:
    table = pa.table({"id": list(range(1, 12)), "email": [f"{i}@x" for i in range(1, 12)]})
    with plan(table.to_reader(), snapshot, primary_key="id", columns=["email"]) as changes:
        chunks = []
        for chunk in changes.rows("added", chunk=4):
            chunks.append([row.pk for row in chunk])
            snapshot.confirm([Confirmed(r.pk, r.row_hash, "x") for r in chunk])
    assert [len(c) for c in chunks] == [4, 4, 3]
    assert [pk for c in chunks for pk in c] == sorted(str(i) for i in range(1, 12))
    assert snapshot.count() == 11


def test_close_drops_the_temp_tables(snapshot: Snapshot) -> None:
    def temp_tables() -> int:
        return snapshot.connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary"
        ).fetchall()[0][0]

    changes: ChangeSet = plan(customers().to_reader(), snapshot, primary_key="id", columns=COLUMNS)
    assert temp_tables() > 0
    changes.close()
    changes.close()
    assert temp_tables() == 0


def test_streams_batches_of_a_reader(snapshot: Snapshot) -> None:
    table = pa.table({"id": list(range(5000)), "email": [str(i) for i in range(5000)]})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=700))
    with plan(reader, snapshot, primary_key="id", columns=["email"]) as changes:
        assert changes.counts.added == 5000
        assert sum(len(chunk) for chunk in changes.rows("added", chunk=1000)) == 5000


# -- properties ----------------------------------------------------------------------------------

numbers = st.integers(min_value=-(2**53), max_value=2**53)
texts = st.one_of(st.none(), st.text(max_size=8))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(numbers, texts, numbers), min_size=1, max_size=20), seed=st.randoms()
)
def test_hash_ignores_column_order_and_numeric_type(snapshot: Snapshot, rows, seed) -> None:
    local_planner_only(
        "planner: warehouse refuses keys other than integer, text and uuid (a ConfigError)"
    )
    ids = list(range(len(rows)))
    a = [r[0] for r in rows]
    b = [r[1] for r in rows]
    c = [r[2] for r in rows]
    base = pa.table({"id": ids, "a": a, "b": b, "c": c})
    names = ["id", "a", "b", "c"]
    seed.shuffle(names)
    variant = pa.table(
        {
            "id": pa.array([Decimal(i) for i in ids], pa.decimal128(20, 2)),
            "a": pa.array([float(x) for x in a]) if all(abs(x) <= 2**53 for x in a) else a,
            "b": b,
            "c": pa.array([Decimal(x) for x in c], pa.decimal128(38, 3)),
        }
    ).select(names)
    columns = ["a", "b", "c"]
    seed.shuffle(columns)
    assert hashes(snapshot, base, ["a", "b", "c"]) == hashes(snapshot, variant, columns)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pairs=st.lists(st.tuples(texts, texts), min_size=2, max_size=12, unique=True))
def test_different_values_give_different_hashes(snapshot: Snapshot, pairs) -> None:
    table = pa.table(
        {"id": list(range(len(pairs))), "a": [p[0] for p in pairs], "b": [p[1] for p in pairs]}
    )
    assert len(set(hashes(snapshot, table, ["a", "b"]).values())) == len(pairs)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    doc=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=5)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_json_hash_ignores_key_order_and_spacing(snapshot: Snapshot, doc) -> None:
    compact = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    loose = json.dumps(_reverse_keys(doc), indent=2)
    table = pa.table({"id": [1, 2], "meta": pa.array([compact, loose], pa.json_())})
    found = hashes(snapshot, table, ["meta"])
    assert found["1"] == found["2"]


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def test_timestamps_come_back_as_aware_utc_datetimes(snapshot: Snapshot) -> None:
    moments = [dt.datetime(2024, 6, 1, 8, 0, 0, 123456, tzinfo=UTC), None]
    table = pa.table({"id": [1, 2], "at": pa.array(moments, pa.timestamp("us", tz="UTC"))})
    result = diff(snapshot, table, columns=["at"])
    values = [row.values["at"] for row in result["added"]]
    assert values == moments
    assert values[0].utcoffset() == dt.timedelta(0)


# -- quick hashes (the snapshot's cache that spares unchanged rows their md5) ---------------------


def test_unchanged_rows_are_cached_even_when_confirmed_without_a_quick_hash(
    snapshot: Snapshot,
) -> None:
    local_planner_only(QUICK_CACHE)
    confirm_all(snapshot, diff(snapshot, customers()), quick=False)
    assert cached(snapshot) == {"1": None, "2": None, "3": None}
    assert diff(snapshot, customers())["counts"]["unchanged"] == 3  # by md5, then cached
    assert None not in cached(snapshot).values()
    result = diff(snapshot, customers(ltv=[10, 20, 31]))
    assert pks(result["changed"]) == ["3"]
    assert result["counts"]["unchanged"] == 2


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (pa.array([[], [1]], pa.list_(pa.int64())), pa.array([None, [1]], pa.list_(pa.int64()))),
        (pa.array([[None], [1]], pa.list_(pa.int64())), pa.array([[], [1]], pa.list_(pa.int64()))),
        (
            pa.array([{"a": None}, {"a": 1}], pa.struct([("a", pa.int64())])),
            pa.array([None, {"a": 1}], pa.struct([("a", pa.int64())])),
        ),
        (
            pa.array([[], [("k", 1)]], pa.map_(pa.string(), pa.int64())),
            pa.array([None, [("k", 1)]], pa.map_(pa.string(), pa.int64())),
        ),
        (
            pa.array([(1, 0, 0), (0, 1, 0)], pa.month_day_nano_interval()),
            pa.array([(0, 30, 0), (0, 1, 0)], pa.month_day_nano_interval()),
        ),
    ],
    ids=["empty list to null", "[null] to empty list", "struct of null to null", "map", "interval"],
)
def test_changes_duckdb_hash_cannot_see_are_still_found(
    snapshot: Snapshot, before: pa.Array, after: pa.Array
) -> None:
    # DuckDB's hash() gives NULL, [], [NULL] and {a: NULL} one value, and '1 month' equals
    # '30 days': such columns are quick-hashed by their canonical text.
    confirm_all(snapshot, diff(snapshot, pa.table({"id": [1, 2], "v": before}), columns=["v"]))
    result = diff(snapshot, pa.table({"id": [1, 2], "v": after}), columns=["v"])
    assert pks(result["changed"]) == ["1"]
    assert result["counts"]["unchanged"] == 1


def test_duplicate_keys_are_found_among_rows_that_did_not_change(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    # both rows with key 2 equal what was synced: the quick hash alone would drop both
    doubled = pa.concat_tables([customers(), customers().slice(1, 1)])
    result = diff(snapshot, doubled)
    assert result["invalid"] == [("2", "duplicate primary key '2' in column 'id' (2 rows)")] * 2
    assert result["counts"] == {
        "queried": 4,
        "added": 0,
        "changed": 0,
        "removed": 0,
        "invalid": 2,
        "unchanged": 2,
        "in_doubt": 0,
        "obsolete": 0,
    }


def test_quick_hashes_are_trusted_only_under_the_key_they_were_made_with(
    snapshot: Snapshot,
) -> None:
    local_planner_only(QUICK_CACHE)
    confirm_all(snapshot, diff(snapshot, customers()))
    edited = customers(ltv=[10, 20, 31])
    new_quick = diff(snapshot, edited)["changed"][0].fast_hash
    # Make the cache lie about row 3: it claims the edited values were synced.
    snapshot.connection.execute("UPDATE snapshot SET fast_hash = ? WHERE pk = '3'", [new_quick])
    assert diff(snapshot, edited)["changed"] == []  # under its own key the cache is believed
    # Under another key (another DuckDB version, machine or column types) it is not.
    snapshot.connection.execute("UPDATE snapshot_meta SET value = 'x' WHERE key = 'quick_hash_key'")
    assert pks(diff(snapshot, edited)["changed"]) == ["3"]
    # ... and it is rebuilt: the rows whose md5 matched are cached again, the others dropped
    assert snapshot.quick_hash_key() != "x"
    assert cached(snapshot)["3"] is None and cached(snapshot)["1"] is not None


def test_a_column_type_change_changes_nothing_and_rebuilds_the_cache(snapshot: Snapshot) -> None:
    local_planner_only(QUICK_CACHE)
    confirm_all(snapshot, diff(snapshot, customers()))
    key = snapshot.quick_hash_key()
    widened = customers(ltv=pa.array([10, 20, 30], pa.int16()))
    assert diff(snapshot, widened)["counts"]["unchanged"] == 3
    assert snapshot.quick_hash_key() not in (None, key)
    assert diff(snapshot, widened)["counts"]["unchanged"] == 3


def test_writes_that_leave_an_entry_unsettled_drop_its_quick_hash(snapshot: Snapshot) -> None:
    confirm_all(snapshot, diff(snapshot, customers()))
    snapshot.fail([Failed("1", "rejected")])
    snapshot.mark_pending([("2", "update")])
    assert cached(snapshot)["1"] is None and cached(snapshot)["2"] is None
    entry = snapshot.get(["2"])["2"]
    snapshot.confirm([Confirmed("2", entry.row_hash or "", entry.dest_id)])
    result = diff(snapshot, customers())
    assert pks(result["changed"]) == ["1"]  # failed: retried although its values are the same
    assert result["counts"]["unchanged"] == 2


def test_integer_keys_match_only_their_canonical_text(snapshot: Snapshot) -> None:
    # "007" came from a text key; the integer 7 is "7", another key.
    snapshot.confirm([Confirmed("007", "h", "bc-7"), Confirmed("8", "h", "bc-8")])
    result = diff(snapshot, pa.table({"id": [7, 8], "email": ["a", "b"]}), columns=["email"])
    assert pks(result["added"]) == ["7"]
    assert pks(result["changed"]) == ["8"]
    assert result["removed"] == ["007"]


def cached(snapshot: Snapshot) -> dict[str, int | None]:
    rows = snapshot.connection.execute("SELECT pk, fast_hash FROM snapshot ORDER BY pk").fetchall()
    return {pk: fast for pk, fast in rows}


# -- a DuckDB model run by the snapshot's connection -------------------------------------------


def test_a_model_over_csv_files_runs_in_the_snapshot_connection(
    snapshot: Snapshot, tmp_path: Path, source: str
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "c.csv").write_text("id,email\n1,a@x.io\n2,b@x.io\n")
    query = LocalQuery(
        sync="csv",
        sql="SELECT * FROM read_csv('data/c.csv')",
        database=None,
        file_search_path=str(tmp_path),
    )
    with plan(query, snapshot, primary_key="id", columns=["email"]) as changes:
        assert [r.values for c in changes.rows("added") for r in c] == [
            {"id": 1, "email": "a@x.io"},
            {"id": 2, "email": "b@x.io"},
        ]
    # the snapshot's connection is as it was: its own database, its own file search path
    conn = snapshot.connection
    assert conn.execute("SELECT current_database()").fetchall() == [("sync",)]
    assert conn.execute("SELECT current_setting('file_search_path')").fetchall() == [("",)]
    settings = (
        "SELECT current_setting('disabled_optimizers'), current_setting('preserve_insertion_order')"
    )
    assert conn.execute(settings).fetchall() == [("", False)]
    assert [
        r[0]
        for r in conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        if not r[0].startswith(("system", "temp"))
    ] == ["sync"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 1 AS id, CAST('x' AS INTEGER) AS email", r"'x'"),  # while the rows are read
        ("SELECT * FROM no_such_table", r"no_such_table"),  # before
    ],
)
def test_a_failing_local_model_names_the_sync(
    snapshot: Snapshot, tmp_path: Path, sql: str, message: str
) -> None:
    query = LocalQuery(sync="vip", sql=sql, database=None, file_search_path=str(tmp_path))
    with pytest.raises(WarehouseError, match=rf"sync 'vip': model query failed: .*{message}"):
        plan(query, snapshot, primary_key="id", columns=["email"])
    conn = snapshot.connection
    assert conn.execute("SELECT current_database()").fetchall() == [("sync",)]
    assert snapshot.count() == 0  # the snapshot works as before


def test_a_large_plan_hands_out_each_kind_whole_and_in_key_order(snapshot: Snapshot) -> None:
    # Enough rows for DuckDB to sort and store them on both threads.
    keys = list(range(300_000))
    table = pa.table({"id": keys[::-1], "email": [f"{k}@x" for k in keys[::-1]]})
    confirm_all(snapshot, diff(snapshot, table.slice(0, 200_000), columns=["email"]))
    edited = pa.table(
        {
            "id": [*keys[::-1], None],
            "email": [f"{k}@x" if k % 3 else f"{k}@y" for k in keys[::-1]] + ["null@x"],
        }
    )
    result = diff(snapshot, edited, columns=["email"])
    assert pks(result["added"]) == sorted(str(k) for k in range(100_000))
    assert pks(result["changed"]) == sorted(str(k) for k in range(100_000, 300_000) if k % 3 == 0)
    assert all(r.kind == "added" for r in result["added"])
    assert all(r.values["email"].endswith("@y") for r in result["changed"])
    assert result["invalid"] == [(None, "primary key column 'id' is null")]
