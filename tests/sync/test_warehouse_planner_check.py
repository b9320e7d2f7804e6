"""``bcsync check`` for a sync with ``planner: warehouse``: the role's rights in the planner's
schema (tried, then rolled back) and the key's type, reported before any run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from bcsync.config.project import load_config
from bcsync.run.planner.warehouse.rights import planner_problems
from tests.fixtures.postgres_roles import LoginRole
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import customer
from tests.sync.test_warehouse_planner import sync_yaml


def planner_schemas(project: SyncProject) -> list[str]:
    sql = "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'bcsync_planner'"
    if project.postgres_warehouse is not None:
        with psycopg.connect(project.postgres_warehouse.replace("+psycopg", "", 1)) as conn:
            return [str(row[0]) for row in conn.execute(sql)]
    with duckdb.connect(str(project.warehouse)) as conn:
        return [str(row[0]) for row in conn.execute(sql).fetchall()]


@pytest.fixture(params=["duckdb", "postgres"])
def project(request: pytest.FixtureRequest, sync_project: SyncProject) -> SyncProject:
    if request.param == "postgres":
        sync_project.use_postgres_warehouse(request.getfixturevalue("postgres_url"))
    return sync_project


def test_a_role_with_the_rights_passes_and_the_check_leaves_nothing(
    project: SyncProject, emulator: Any
) -> None:
    project.load("customers", [customer(1), customer(2)])
    project.configure(sync_yaml())
    checked = project.cli("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert planner_schemas(project) == []  # the schema was created, used, and rolled back
    assert project.run("customers").status == "success"
    assert project.cli("check").returncode == 0  # and with its tables there


def test_a_role_that_cannot_create_the_schema_gets_the_grant(
    sync_project: SyncProject,
    emulator: Any,
    postgres_url: str,
    login_role: Callable[..., LoginRole],
) -> None:
    sync_project.use_postgres_warehouse(postgres_url)
    sync_project.load("customers", [customer(1)])
    role = login_role("no-create-pw", rights="read")
    sync_project.warehouse_url = role.url(role.password)
    sync_project.configure(sync_yaml())
    checked = sync_project.cli("check")
    output = checked.stdout + checked.stderr
    assert checked.returncode == 2, output
    assert "planner: warehouse cannot use schema 'bcsync_planner'" in output
    assert f'GRANT CREATE ON DATABASE "{role.database}" TO "{role.name}";' in output
    assert "bcsync.yml:" in output and "no-create-pw" not in output
    local = sync_yaml(planner="local")
    sync_project.configure(local)
    assert sync_project.cli("check").returncode == 0  # the local planner needs no such right


def test_a_role_that_cannot_write_the_sync_s_table_gets_the_grant(
    sync_project: SyncProject,
    emulator: Any,
    postgres_url: str,
    login_role: Callable[..., LoginRole],
) -> None:
    sync_project.use_postgres_warehouse(postgres_url)
    sync_project.load("customers", [customer(1)])
    role = login_role("no-table-pw", rights="read")
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1), autocommit=True) as admin:
        admin.execute("CREATE SCHEMA bcsync_planner")
        admin.execute(
            "CREATE TABLE bcsync_planner.bcsync_tokens (sync TEXT PRIMARY KEY, token TEXT NOT NULL)"
        )
        admin.execute("CREATE TABLE bcsync_planner.customers (pk TEXT PRIMARY KEY, row_hash TEXT)")
        admin.execute(f'GRANT USAGE, CREATE ON SCHEMA bcsync_planner TO "{role.name}"')
        admin.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON bcsync_planner.bcsync_tokens TO "{role.name}"'
        )
        admin.execute(f'GRANT SELECT ON bcsync_planner.customers TO "{role.name}"')
    sync_project.warehouse_url = role.url(role.password)
    sync_project.configure(sync_yaml())
    checked = sync_project.cli("check")
    output = checked.stdout + checked.stderr
    assert checked.returncode == 2, output
    assert "permission denied for table customers" in output
    assert (
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON "bcsync_planner"."customers" TO "{role.name}";'
        in output
    )


def test_a_key_the_planner_cannot_hash_is_named(sync_project: SyncProject, emulator: Any) -> None:
    rows = [{**customer(n), "customer_key": n + 0.5} for n in (1, 2)]
    sync_project.load("customers", rows)
    sync_project.configure(sync_yaml())
    checked = sync_project.cli("check")
    output = checked.stdout + checked.stderr
    assert checked.returncode == 2, output
    assert "primary key column 'customer_key' is of type double" in output
    assert "use planner: local for this sync" in output


@pytest.mark.parametrize("url", ["snowflake://etl:pw-SECRET@acct/db", "bigquery://project/ds"])
def test_a_warehouse_bcsync_cannot_plan_in_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    from tests.config.test_project import VALID

    monkeypatch.setenv("STORE_HASH", "abc123")
    monkeypatch.setenv("ACCESS_TOKEN", "tok-SECRET-1234")
    text = "planner: warehouse\n" + VALID.replace("duckdb:///warehouse.duckdb", url)
    (tmp_path / "bcsync.yml").write_text(text)
    config = load_config(tmp_path / "bcsync.yml")
    (problem,) = planner_problems(config, config.sync("vip_customers"))
    assert problem.message.startswith("planner: warehouse cannot plan in this warehouse")
    assert url.split(":")[0] in problem.message and "SECRET" not in problem.message
    assert problem.where == ("planner",)
