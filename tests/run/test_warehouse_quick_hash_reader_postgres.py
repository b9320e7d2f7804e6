"""Rows sharing a PostgreSQL quick hash must share the values the
reader hands the local planner (its canonical text is made from them)."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlglot import exp

from bcsync.config.project import ModelConfig
from bcsync.run.planner.warehouse import hash_sql
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.postgres_session import pin_session_settings

TYPES: dict[str, tuple[str, list[str]]] = {
    "bp": ("bpchar", ["'ab'", "'ab '", "'ab  '"]),
    "dn": ("dnum", ["1.5", "1.50", "-1.5", "0"]),
    "en": ("mood", ["'ok'", "'sad'"]),
    "vc": ("varchar(5)", ["'ab'", "'ab '"]),
    "mo": ("money", ["1.5", "-1.5", "0"]),
    "js": ("json", ["'{\"a\":1}'", "'{\"a\": 1}'", "'{\"a\":1.0}'"]),
    "jb": ("jsonb", ["'{\"a\":1}'", "'{\"a\":1.0}'", "'{\"a\":1.00}'"]),
    "ar": ("int[]", ["'{1,2}'", "'[0:1]={1,2}'", "'{2,1}'"]),
    "ca": ("char(3)[]", ["'{a}'", "ARRAY['a  ']::char(3)[]"]),
    "tt": ("timetz", ["'10:00+00'", "'10:00+02'", "'08:00+00'"]),
    "ip": ("inet", ["'10.0.0.1'", "'10.0.0.1/32'", "'10.0.0.1/24'"]),
    "n0": ("numeric(5,0)", ["1", "-1", "0"]),
    "ts": ("timestamptz", ["'2000-01-01 00:00Z'", "'2000-01-01 02:00+02'", "'2000-01-01 01:00Z'"]),
    "bx": ("bit varying", ["B'1'", "B'01'", "B'10'"]),
}


def test_quick_hash_against_the_readers_values(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    pin_session_settings(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE DOMAIN dnum AS numeric(10,2)")
        conn.exec_driver_sql("CREATE TYPE mood AS ENUM ('ok', 'sad')")
    problems = {}
    for name, (kind, values) in TYPES.items():
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS m")
            conn.exec_driver_sql(f"CREATE TABLE m (id int, c {kind})")
            for i, v in enumerate(values):
                conn.exec_driver_sql(f"INSERT INTO m VALUES ({i}, {v})".replace("%", "%%"))
        warehouse = open_warehouse(postgres_url)
        try:
            model = ModelConfig(sql="SELECT * FROM m", primary_key="id")
            table = warehouse.stream(model, sync="t").read_all()
        finally:
            warehouse.close()
        arrow_type = table.schema.field("c").type
        query = exp.select(
            exp.column("id", "q"),
            hash_sql.quick_hash([("c", arrow_type)], "", table="q", dialect="postgres").as_("h"),
        ).from_(exp.select("*").from_("m").subquery("q"))
        with engine.connect() as conn:
            quick = dict(
                conn.exec_driver_sql(
                    hash_sql.render(query, "postgres").replace("%", "%%")
                ).fetchall()
            )
        local = dict(zip(table["id"].to_pylist(), table["c"].to_pylist(), strict=True))
        by_hash = defaultdict(set)
        for key, h in quick.items():
            by_hash[h].add(repr(local[key]))
        coarse = [v for v in by_hash.values() if len(v) > 1]
        if coarse:
            problems[f"{name} {kind} ({arrow_type})"] = coarse
    engine.dispose()
    assert not problems, problems
