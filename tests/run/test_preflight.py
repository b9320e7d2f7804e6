"""The checks every sync goes through before anything is sent (``bcsync.run.preflight``): problems
located in ``bcsync.yml``, the model's columns against the mapping, what a row's hash covers,
and the guards that stop a run that would empty or gut the store.

Real components throughout: a project file loaded by ``load_config``, a DuckDB warehouse, a
snapshot file and a plan of a model against it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from bcsync.config.project import ProjectConfig, SyncConfig, load_config
from bcsync.errors import GuardError
from bcsync.run.planner import ChangeSet, plan
from bcsync.run.preflight import (
    guard,
    hashed_columns,
    located,
    mapping_text,
    missing_columns,
    model_types,
)
from bcsync.run.snapshot import Confirmed, Snapshot

PROJECT = """\
version: 1
warehouse:
  url: duckdb:///warehouse.duckdb
destinations:
  store:
    type: bigcommerce
    store_hash: abc123
    access_token: tok-1234
syncs:
  vip:
    destination: store
    object: customers
    model:
      sql: select * from customers
      primary_key: customer_key
    mode: upsert
    match: {column: email, field: email}
    on_delete: delete
    max_delete_fraction: 0.5
    mappings:
      - {column: first_name, field: first_name}
      - {column: tier, field: "attributes.Tier"}
      - {column: email, field: "metafields.wh.email"}
  newcomers:
    destination: store
    object: customers
    model:
      sql: select * from customers
      primary_key: customer_key
    mode: insert
    match: {column: email, field: email}
    mappings:
      - {column: last_name, field: last_name}
      - {column: email, field: email}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectConfig:
    monkeypatch.chdir(tmp_path)  # so that problems are located in "bcsync.yml"
    (tmp_path / "bcsync.yml").write_text(PROJECT)
    return load_config(tmp_path)


def line_of(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


def with_sync(config: ProjectConfig, name: str, **changes: Any) -> SyncConfig:
    return config.sync(name).model_copy(update=changes)


# -- the model's columns against the mapping ---------------------------------------------------


def test_missing_columns_are_named_and_located_in_the_project_file(config: ProjectConfig) -> None:
    sync = config.sync("vip")
    problems = missing_columns(sync, {"id": "int64", "first_name": "string", "tier": "string"})
    assert [p.where for p in problems] == [
        ("model", "primary_key"),
        ("match", "column"),
        ("mappings", 2, "column"),
    ]
    columns = "(columns: id, first_name, tier)"
    assert [p.message for p in problems] == [
        f"primary key column 'customer_key' is not in the model {columns}",
        f"match column 'email' is not in the model {columns}",
        f"column 'email' is not in the model {columns}",
    ]
    path = config.config_path
    assert located(config, sync, problems) == [
        f"bcsync.yml:{line_of(path, 'primary_key: customer_key')}: sync 'vip': "
        f"primary key column 'customer_key' is not in the model {columns}",
        f"bcsync.yml:{line_of(path, 'match: {column: email')}: sync 'vip': "
        f"match column 'email' is not in the model {columns}",
        f"bcsync.yml:{line_of(path, 'metafields.wh.email')}: sync 'vip': "
        f"column 'email' is not in the model {columns}",
    ]


def test_located_can_leave_out_the_sync_name(config: ProjectConfig) -> None:
    sync = config.sync("vip")
    problems = missing_columns(sync, {"customer_key": "int64", "email": "string", "tier": "x"})
    line = line_of(config.config_path, "{column: first_name")
    assert located(config, sync, problems, named=False) == [
        f"bcsync.yml:{line}: column 'first_name' is not in the model "
        "(columns: customer_key, email, tier)"
    ]


def test_a_model_with_every_column_has_no_missing_columns(config: ProjectConfig) -> None:
    types = {"customer_key": "int64", "email": "string", "first_name": "string", "tier": "string"}
    assert missing_columns(config.sync("vip"), types) == []


def test_insert_mode_needs_no_match_column(config: ProjectConfig) -> None:
    sync = config.sync("newcomers")
    problems = missing_columns(sync, {"customer_key": "int64", "last_name": "string"})
    assert [(p.message, p.where) for p in problems] == [
        (
            "column 'email' is not in the model (columns: customer_key, last_name)",
            ("mappings", 1, "column"),
        )
    ]


def test_model_types_reads_the_columns_of_a_duckdb_model(config: ProjectConfig) -> None:
    with duckdb.connect(str(config.project_dir / "warehouse.duckdb")) as conn:
        conn.execute(
            "CREATE TABLE customers (customer_key BIGINT, email VARCHAR, ltv DECIMAL(12, 2), "
            "signed_up TIMESTAMP)"
        )
        conn.execute("INSERT INTO customers VALUES (1, 'a@x.io', 10.5, '2024-01-01')")
    assert model_types(config, config.sync("vip")) == {
        "customer_key": "int64",
        "email": "string",
        "ltv": "decimal128(12, 2)",
        "signed_up": "timestamp[us]",
    }


# -- what a row's hash covers ------------------------------------------------------------------


def test_mapping_text_lists_each_column_and_its_field_with_the_match_last(
    config: ProjectConfig,
) -> None:
    assert mapping_text(config.sync("vip")) == (
        "email->metafields.wh.email;first_name->first_name;tier->attributes.Tier;match:email->email"
    )


def test_mapping_text_is_the_same_whatever_the_order_of_the_mappings(
    config: ProjectConfig,
) -> None:
    sync = config.sync("vip")
    reordered = with_sync(config, "vip", mappings=list(reversed(sync.mappings)))
    assert mapping_text(reordered) == mapping_text(sync)


def test_mapping_text_changes_when_a_column_goes_to_another_field(config: ProjectConfig) -> None:
    sync = config.sync("vip")
    moved = [m.model_copy(update={"field": "last_name"}) if m.column == "first_name" else m
             for m in sync.mappings]  # fmt: skip
    assert mapping_text(with_sync(config, "vip", mappings=moved)) != mapping_text(sync)


def test_insert_mode_hashes_no_match(config: ProjectConfig) -> None:
    sync = config.sync("newcomers")
    assert mapping_text(sync) == "email->email;last_name->last_name"
    assert hashed_columns(sync) == ["last_name", "email"]


def test_hashed_columns_are_the_match_then_the_mapped_columns_once_each(
    config: ProjectConfig,
) -> None:
    assert hashed_columns(config.sync("vip")) == ["email", "first_name", "tier"]


# -- the guards --------------------------------------------------------------------------------


@pytest.fixture
def snapshot(tmp_path: Path) -> Iterator[Snapshot]:
    with Snapshot(tmp_path / "snapshots" / "vip.duckdb") as snap:
        yield snap


def owning(snapshot: Snapshot, keys: Sequence[int]) -> None:
    """The snapshot of a sync that made a record for each of these keys."""
    snapshot.confirm([Confirmed(str(k), f"hash-{k}", f"{100 + k}") for k in keys])


def planned(snapshot: Snapshot, keys: Sequence[int]) -> ChangeSet:
    model = pa.table(
        {
            "customer_key": pa.array(list(keys), pa.int64()),
            "email": pa.array([f"{k}@x.io" for k in keys], pa.string()),
        }
    )
    return plan(model.to_reader(), snapshot, primary_key="customer_key", columns=["email"])


def guard_error(sync: SyncConfig, snapshot: Snapshot, keys: Sequence[int]) -> str:
    with planned(snapshot, keys) as changes, pytest.raises(GuardError) as error:
        guard(sync, changes, snapshot, override=False)
    return str(error.value)


def test_an_empty_model_stops_a_sync_that_owns_records(
    config: ProjectConfig, snapshot: Snapshot
) -> None:
    owning(snapshot, [1, 2, 3])
    sync = with_sync(config, "vip", on_delete="nothing")
    assert guard_error(sync, snapshot, []) == (
        "the model of sync 'vip' returned no rows while 3 records are synced; refusing to "
        "continue (pass --override-guards if this is intended)"
    )


def test_a_create_in_flight_counts_as_an_owned_record(
    config: ProjectConfig, snapshot: Snapshot
) -> None:
    snapshot.mark_pending([("7", "create")], {"7": "7@x.io"})
    assert "returned no rows while 1 records are synced" in guard_error(
        config.sync("vip"), snapshot, []
    )


def test_an_empty_model_is_fine_for_a_sync_that_owns_nothing(
    config: ProjectConfig, snapshot: Snapshot
) -> None:
    with planned(snapshot, []) as changes:
        guard(config.sync("vip"), changes, snapshot, override=False)


@pytest.mark.parametrize(("on_delete", "verb"), [("delete", "delete"), ("clear", "clear")])
def test_removing_more_than_the_allowed_fraction_stops_the_run(
    config: ProjectConfig, snapshot: Snapshot, on_delete: str, verb: str
) -> None:
    owning(snapshot, [1, 2, 3, 4])
    sync = with_sync(config, "vip", on_delete=on_delete)
    assert guard_error(sync, snapshot, [1]) == (
        f"sync 'vip' would {verb} 3 of 4 records (75%), more than max_delete_fraction 50%; "
        "refusing to continue (pass --override-guards if this is intended)"
    )


def test_removing_exactly_the_allowed_fraction_goes_ahead(
    config: ProjectConfig, snapshot: Snapshot
) -> None:
    owning(snapshot, [1, 2, 3, 4])
    with planned(snapshot, [1, 2]) as changes:
        assert changes.counts.removed == 2
        guard(config.sync("vip"), changes, snapshot, override=False)


def test_a_sync_that_leaves_records_alone_may_lose_most_of_its_rows(
    config: ProjectConfig, snapshot: Snapshot
) -> None:
    owning(snapshot, [1, 2, 3, 4])
    with planned(snapshot, [1]) as changes:
        guard(with_sync(config, "vip", on_delete="nothing"), changes, snapshot, override=False)


def test_a_stricter_fraction_stops_a_smaller_removal(
    config: ProjectConfig, snapshot: Snapshot
) -> None:
    owning(snapshot, list(range(10)))
    sync = with_sync(config, "vip", max_delete_fraction=0.1)
    assert "would delete 2 of 10 records (20%), more than max_delete_fraction 10%" in (
        guard_error(sync, snapshot, list(range(8)))
    )


@pytest.mark.parametrize("keys", [[], [1]])
def test_override_lets_an_empty_or_gutted_model_through(
    config: ProjectConfig, snapshot: Snapshot, keys: list[int]
) -> None:
    owning(snapshot, [1, 2, 3, 4])
    with planned(snapshot, keys) as changes:
        guard(config.sync("vip"), changes, snapshot, override=True)
