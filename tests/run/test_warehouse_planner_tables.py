"""The warehouse planner's tables and token (``bcsync.run.planner.warehouse.tables``, the
snapshot's ``warehouse_token``), and its SQL in the dialects it is not run against here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot

from bcsync.config.project import load_config
from bcsync.errors import ConfigError
from bcsync.run.planner.warehouse.diff import DiffQuery
from bcsync.run.planner.warehouse.tables import PlannerTables
from bcsync.run.snapshot import Confirmed, Snapshot
from bcsync.warehouse.session import WarehouseSession, open_session


@pytest.fixture(params=["duckdb", "postgres"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseSession]:
    if request.param == "duckdb":
        duckdb.connect(str(tmp_path / "w.duckdb")).close()
        opened = open_session("duckdb:///w.duckdb", tmp_path)
    else:
        opened = open_session(request.getfixturevalue("postgres_url"))
    yield opened
    opened.close()


def hashes(rows: dict[str, str | None], keep: bool | None = None) -> pa.Table:
    data: dict[str, Any] = {
        "pk": pa.array(list(rows), pa.string()),
        "row_hash": pa.array(list(rows.values()), pa.string()),
    }
    if keep is not None:
        data["keep"] = pa.array([keep] * len(rows), pa.bool_())
    return pa.table(data)


def test_bootstrap_replace_and_drop(session: WarehouseSession) -> None:
    tables = PlannerTables(session, "bcsync_planner", "my sync")
    assert tables.token() is None
    token = tables.bootstrap(hashes({"1": "a", "2": None}), lambda staging: None)
    assert tables.token() == token
    tables.replace(hashes({"2": "b", "3": None}, keep=True))
    tables.replace(hashes({"1": None}, keep=False))
    rows = session.query(f"SELECT pk, row_hash FROM {tables.name()} ORDER BY pk")
    assert rows == [("2", "b"), ("3", None)]
    again = tables.bootstrap(hashes({"9": "z"}), lambda staging: None)
    assert again != token and tables.count() == 1
    assert tables.drop() is True
    assert tables.token() is None
    assert tables.drop() is False


def test_marking_keys_dirty_updates_the_known_and_inserts_the_new(
    session: WarehouseSession,
) -> None:
    tables = PlannerTables(session, "bcsync_planner", "my sync")
    tables.bootstrap(hashes({"1": "a", "2": "b", "3": "c"}), lambda staging: None)
    keys = pa.table({"pk": ["1", "3", "7", "8"], "new": [False, False, True, True]})
    tables.dirty(keys)
    rows = session.query(f"SELECT pk, row_hash FROM {tables.name()} ORDER BY pk")
    assert rows == [("1", None), ("2", "b"), ("3", None), ("7", None), ("8", None)]
    tables.dirty(pa.table({"pk": ["2"], "new": [False]}))  # no new key: the update alone
    tables.dirty(pa.table({"pk": ["9"], "new": [True]}))  # only new keys: the insert alone
    assert tables.count() == 6
    assert session.query(f"SELECT count(*) FROM {tables.name()} WHERE row_hash IS NULL") == [(6,)]


def test_only_a_warehouse_planned_run_keeps_the_token(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Snapshot(path, keeps_warehouse_token=True) as snapshot:
        snapshot.set_warehouse_token("t1")
        snapshot.confirm([Confirmed("1", "h", "bc-1")])
        assert snapshot.warehouse_token() == "t1"
    with Snapshot(path) as snapshot:
        assert snapshot.warehouse_token() == "t1"  # opening and reading write nothing
        snapshot.confirm([Confirmed("2", "h", "bc-2")])
        assert snapshot.warehouse_token() is None


class _Dialect:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery", "postgres", "duckdb"])
def test_the_diff_query_is_written_in_each_dialect(dialect: str) -> None:
    tables = PlannerTables(_Dialect(dialect), "bcsync_planner", "customers")  # type: ignore[arg-type]
    query = DiffQuery(
        tables,
        "id",
        ["id", "email", "ltv"],
        ["email", "ltv"],
        {"id": pa.int64(), "email": pa.string(), "ltv": pa.decimal128(10, 2)},
        "email->email",
        "SELECT * FROM customers",
    )
    for duplicates in (False, True):
        sql = query.sql(duplicates=duplicates)
        parsed = sqlglot.parse_one(sql, read=dialect)
        assert "FULL" in sql.upper() and parsed is not None
    rebuild = query.rebuild("bcsync_staging_0")
    if dialect in ("postgres", "duckdb"):  # the others keep the md5 as their quick hash
        assert rebuild is not None and rebuild.startswith("INSERT")
        assert sqlglot.parse_one(rebuild, read=dialect) is not None
    else:
        assert rebuild is None


def test_a_sync_s_planner_wins_over_the_project_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.config.test_project import VALID

    monkeypatch.setenv("STORE_HASH", "abc123")
    monkeypatch.setenv("ACCESS_TOKEN", "tok-SECRET-1234")
    second = VALID.split("syncs:\n", 1)[1].replace("vip_customers:", "local_one:", 1)
    second = second.replace("    mode: upsert", "    planner: local\n    mode: upsert", 1)
    text = "planner: warehouse\n" + VALID + second
    (tmp_path / "bcsync.yml").write_text(text)
    config = load_config(tmp_path / "bcsync.yml")
    assert config.planner_for("vip_customers") == "warehouse"
    assert config.planner_for("local_one") == "local"
    assert config.planner_schema == "bcsync_planner"
    (tmp_path / "bcsync.yml").write_text("planner_schema: 'a; drop'\n" + VALID)
    with pytest.raises(ConfigError, match="planner_schema"):
        load_config(tmp_path / "bcsync.yml")


def test_a_ledger_many_times_the_plans_memory_budget_rebuilds_the_table(tmp_path: Path) -> None:
    """The rebuild streams the ledger out under the plan's memory budget (its floor, before
    the diff): a ledger of 100M entries once failed it, sorting under 96 MiB. Here 2M entries
    (about 90 MB) under 16 MB."""
    from bcsync.run.planner.warehouse.planner import bootstrap

    duckdb.connect(str(tmp_path / "w.duckdb")).close()
    session = open_session("duckdb:///w.duckdb", tmp_path)
    with Snapshot(tmp_path / "s.duckdb", keeps_warehouse_token=True) as snapshot:
        snapshot.connection.execute(
            """INSERT INTO snapshot (pk, row_hash, dest_id, status, updated_at)
               SELECT i::VARCHAR, md5(i::VARCHAR), i::VARCHAR, 'synced', now()
               FROM range(2000000) r(i)"""
        )
        snapshot.connection.execute("SET memory_limit = '16MB'")
        snapshot.connection.execute("SET threads = 1")
        tables = PlannerTables(session, "bcsync_planner", "my sync")
        bootstrap(tables, snapshot, lambda staging: None)
        assert tables.count() == 2_000_000
        assert snapshot.warehouse_token() == tables.token() is not None
        found = session.query(f"SELECT row_hash FROM {tables.name()} WHERE pk = '1999999'")
        assert found == [(snapshot.connection.sql("SELECT md5('1999999')").fetchall()[0][0],)]
    session.close()


def test_a_rebuild_leaves_the_postgresql_table_vacuumed_and_analysed(postgres_url: str) -> None:
    """Its first diff then reads rows already marked committed, with statistics to plan by."""
    session = open_session(postgres_url)
    try:
        tables = PlannerTables(session, "bcsync_planner", "settled sync")
        tables.bootstrap(hashes({str(i): f"h{i}" for i in range(1000)}), lambda staging: None)
        counts = session.query(
            "SELECT vacuum_count, analyze_count, n_live_tup FROM pg_stat_user_tables"
            " WHERE schemaname = 'bcsync_planner' AND relname = 'settled sync'"
        )
        assert counts == [(1, 1, 1000)]
        tables.drop()
    finally:
        session.close()
