"""Rows sharing a DuckDB quick hash must share the values the
reader hands the local planner."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
from sqlglot import exp

from bcsync.config.project import ModelConfig
from bcsync.run.planner.warehouse import hash_sql
from bcsync.warehouse import open_warehouse

TYPES: dict[str, tuple[str, list[str]]] = {
    "nc": ("VARCHAR COLLATE NOCASE", ["'Ab'", "'ab'", "'AB'"]),
    "na": ("VARCHAR COLLATE NOACCENT", ["'é'", "'e'"]),
    "en": ("ENUM('x', 'y')", ["'x'", "'y'"]),
    "tt": ("TIMETZ", ["'10:00:00+00'", "'10:00:00+02'", "'08:00:00+00'"]),
    "bi": ("BIT", ["'1'", "'01'", "'10'"]),
    "iv": ("INTERVAL", ["INTERVAL 1 MONTH", "INTERVAL 30 DAY", "INTERVAL 720 HOUR"]),
    "hu": ("UHUGEINT", ["1", "2", "0"]),
    "mp": ("MAP(VARCHAR, INTEGER)", ["MAP {'a': 1}", "MAP {'a': 2}"]),
    "fa": ("INTEGER[2]", ["[1, 2]", "[2, 1]"]),
}


def test_quick_hash_against_the_readers_values(tmp_path: Path) -> None:
    problems = {}
    for name, (kind, values) in TYPES.items():
        path = tmp_path / f"{name}.duckdb"
        try:
            with duckdb.connect(str(path)) as conn:
                conn.execute(f"CREATE TABLE m (id INTEGER, c {kind})")
                for i, v in enumerate(values):
                    conn.execute(f"INSERT INTO m VALUES ({i}, {v})")
        except duckdb.Error as exc:
            problems[name] = f"setup: {exc}"
            continue
        warehouse = open_warehouse(f"duckdb:///{path}")
        try:
            table = warehouse.stream(
                ModelConfig(sql="SELECT * FROM m", primary_key="id"), sync="t"
            ).read_all()
        except Exception as exc:
            problems[name] = f"read: {exc}"
            continue
        finally:
            warehouse.close()
        arrow_type = table.schema.field("c").type
        query = exp.select(
            exp.column("id", "q"),
            hash_sql.quick_hash([("c", arrow_type)], "", table="q", dialect="duckdb").as_("h"),
        ).from_(exp.select("*").from_("m").subquery("q"))
        try:
            with duckdb.connect(str(path), read_only=True) as conn:
                quick = dict(conn.execute(hash_sql.render(query, "duckdb")).fetchall())
        except duckdb.Error as exc:
            problems[name] = f"hash: {exc}"
            continue

        def show(x):
            try:
                return repr(x.as_py())
            except Exception:
                return str(x)

        local = dict(zip(table["id"].to_pylist(), [show(x) for x in table["c"]], strict=True))
        by_hash = defaultdict(set)
        for key, h in quick.items():
            by_hash[h].add(local[key])
        coarse = [v for v in by_hash.values() if len(v) > 1]
        if coarse:
            problems[f"{name} {kind} ({arrow_type})"] = coarse
    for k, v in problems.items():
        print("PROBLEM", k, str(v)[:150])
    assert not problems
