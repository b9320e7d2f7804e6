"""What every warehouse shares: how a model becomes one safe query, and URL masking."""

from __future__ import annotations

import pytest

from bcsync.errors import WarehouseError
from bcsync.project import ModelConfig
from bcsync.warehouse.base import mask_url, model_select


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


def test_sql_models_are_wrapped_as_a_subquery() -> None:
    model = ModelConfig(
        sql="with v as (select * from c where ltv > 500) select * from v;", primary_key="id"
    )
    assert model_select(model, sync="s", dialect="postgres", limit=0) == (
        "SELECT * FROM (WITH v AS (SELECT * FROM c WHERE ltv > 500) SELECT * FROM v) AS model "
        "LIMIT 0"
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("delete from customers", "must be a SELECT query, not DELETE"),
        ("select 1; drop table customers", r"exactly one SQL statement \(found 2\)"),
        ("select * from customers where", "could not be parsed: .* at line 1, column"),
    ],
)
def test_a_model_must_be_one_select(sql: str, message: str) -> None:
    with pytest.raises(WarehouseError, match=f"^sync 'vip': .*{message}"):
        model_select(ModelConfig(sql=sql, primary_key="id"), sync="vip", dialect="postgres")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bc:s3cr%40t@db:5432/a", "postgresql://bc:***@db:5432/a"),
        (
            "postgresql://db/a?user=bc&password=s3cret&sslmode=require",
            "postgresql://db/a?user=bc&password=***&sslmode=require",
        ),
        ("duckdb:///w.duckdb", "duckdb:///w.duckdb"),
        ("postgresql://bc:pw@/db?host=/run/pg", "postgresql://bc:***@/db?host=/run/pg"),
    ],
)
def test_mask_url(url: str, expected: str) -> None:
    assert mask_url(url) == expected
