"""What every warehouse shares: how a model becomes one safe query, and URL masking."""

from __future__ import annotations

import pytest

from bcsync.config.project import ModelConfig
from bcsync.errors import WarehouseError
from bcsync.warehouse.base import model_select


@pytest.mark.parametrize(
    ("table", "dialect", "expected"),
    [
        ("analytics.customers", "postgres", 'SELECT * FROM "analytics"."customers"'),
        # Unquoted names fold the way the warehouse folds them; quoted ones keep their case.
        ('Analytics."Customer List"', "postgres", 'SELECT * FROM "analytics"."Customer List"'),
        ("ANALYTICS.customers", "snowflake", 'SELECT * FROM "ANALYTICS"."CUSTOMERS"'),
        ("customers", "duckdb", 'SELECT * FROM "customers"'),
    ],
)
def test_table_models_are_quoted_identifiers(table: str, dialect: str, expected: str) -> None:
    model = ModelConfig(table=table, primary_key="id")
    assert model_select(model, sync="s", dialect=dialect) == expected


def test_sql_models_are_wrapped_as_a_subquery_as_written() -> None:
    model = ModelConfig(
        sql="with v as (select * from c where ltv > 500) select * from v; -- the VIPs",
        primary_key="id",
    )
    assert model_select(model, sync="s", dialect="postgres", limit=0) == (
        "SELECT * FROM (with v as (select * from c where ltv > 500) select * from v) AS model "
        "LIMIT 0"
    )
    assert model_select(model, sync="s", dialect="tsql", limit=0).startswith(
        "SELECT TOP 0 * FROM (with v as"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "select first_name last_name, from t",  # DuckDB allows the comma; Postgres does not
        "select a,, b from t",
        "select a from t group",  # sqlglot would read "group" as an alias
    ],
)
def test_sql_sqlglot_reads_leniently_reaches_the_warehouse_unrepaired(sql: str) -> None:
    model = ModelConfig(sql=sql, primary_key="id")
    assert model_select(model, sync="s", dialect="duckdb") == f"SELECT * FROM ({sql}) AS model"


def test_leading_comments_keep_the_models_line_numbers() -> None:
    model = ModelConfig(sql="-- VIPs\n; select *\n  from t -- all\n;\n", primary_key="id")
    assert model_select(model, sync="s", dialect="duckdb") == (
        "SELECT * FROM (\nselect *\n  from t) AS model"
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("delete from customers", "the model must be a SELECT query, not DELETE"),
        (
            "select 1; drop table customers",
            r"the model must be exactly one SQL statement \(found 2\)",
        ),
        (
            "select * from customers where",
            "model SQL has a syntax error at line 1, column 25 near 'where': ",
        ),
        # sqlglot would blame the '*' (a multiplication missing its left side): name the typo.
        (
            "selec * from t",
            "model SQL has a syntax error at line 1, column 1 near 'selec': "
            "expected a SELECT query$",
        ),
        (
            "select * from",
            "model SQL has a syntax error at line 1, column 10 near 'from': "
            "Expected table name but got the end of the query$",
        ),
        (
            "(select 1 from",
            "model SQL has a syntax error at line 1, column 11 near 'from': ",
        ),
        (
            "selec first_name",
            "model SQL has a syntax error at line 1, column 1 near 'selec': "
            "expected a SELECT query$",
        ),
        (
            "-- VIPs\n  foo bar",
            "model SQL has a syntax error at line 2, column 3 near 'foo': expected a SELECT query$",
        ),
        (
            "select id,\n  case when x then 1 as y\nfrom t",
            "model SQL has a syntax error at line 2, column 20 near '1': Expected END after CASE$",
        ),
        ("select a\nfrom t where b = 'x", "model SQL has a syntax error: ' opened on line 2 "),
        ("case when a then 1 end", "model SQL has a syntax error at line 1, column 1 near 'case'"),
    ],
)
def test_a_model_must_be_one_select(sql: str, message: str) -> None:
    model = ModelConfig(sql=sql, primary_key="id")
    with pytest.raises(WarehouseError, match=f"^sync 'vip': {message}") as error:
        model_select(model, sync="vip", dialect="postgres")
    assert "<class" not in str(error.value)
    assert "<Token" not in str(error.value)
    assert "\x1b" not in str(error.value)
