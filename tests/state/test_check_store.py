"""``bcsync check`` tests the run store: connect, migrate-ability and rights, changing nothing."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import UTC
from datetime import datetime as dt
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bcsync.state import RunStore
from bcsync.state.check import store_problems
from bcsync.state.database import create_store_engine, write_transaction
from bcsync.state.migrations import LATEST_VERSION
from bcsync.state.schema import schema_versions
from tests.config.test_database_url import assert_no_part_of
from tests.fixtures.postgres_roles import LoginRole
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import UPSERT_BY_EMAIL, customer

PASSWORD = "Zqv7@Wx12:Kp9m/#%41"


def tables(postgres_url: str) -> set[str]:
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1)) as admin:
        rows = admin.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


def test_a_store_a_run_can_use_passes(store_url: str) -> None:
    RunStore.open(store_url).close()
    assert store_problems(store_url) == []


def test_a_fresh_store_passes_and_check_creates_nothing(
    login_role: Callable[..., LoginRole], postgres_url: str, tmp_path: Path
) -> None:
    role = login_role(PASSWORD)
    assert store_problems(role.url(urllib.parse.quote(PASSWORD, safe=""))) == []
    assert tables(postgres_url) == set()  # the migration was rehearsed, then rolled back

    sqlite = tmp_path / "not-yet" / "state.db"
    assert store_problems(f"sqlite:///{sqlite}") == []
    assert not sqlite.parent.exists()


def test_a_wrong_password_fails_without_showing_it(login_role: Callable[..., LoginRole]) -> None:
    role = login_role(PASSWORD)
    [problem] = store_problems(role.url(urllib.parse.quote("Wrong@Pass:9/x#", safe="")))
    assert problem.startswith("cannot connect to the run store postgresql+psycopg://")
    assert "password authentication failed" in problem
    assert_no_part_of(PASSWORD, problem)
    assert_no_part_of("Wrong@Pass:9/x#", problem)


def test_an_unreachable_host_fails() -> None:
    [problem] = store_problems("postgresql://bc:Zqv7Wx12Kp9m@127.0.0.1:1/state?connect_timeout=2")
    assert problem.startswith("cannot connect to the run store postgresql+psycopg://bc:***@")
    assert "Zqv7Wx12Kp9m" not in problem


def test_a_role_that_cannot_create_the_tables_fails(login_role: Callable[..., LoginRole]) -> None:
    role = login_role(PASSWORD, rights="read")
    [problem] = store_problems(role.url(urllib.parse.quote(PASSWORD, safe="")))
    assert problem.startswith("cannot create the run store's tables in postgresql+psycopg://")
    assert "permission denied for schema public" in problem


def test_a_role_that_cannot_write_the_existing_tables_fails(
    login_role: Callable[..., LoginRole], postgres_url: str
) -> None:
    RunStore.open(postgres_url).close()  # made by the superuser, whose tables they are
    role = login_role(PASSWORD, rights="read")  # SELECT on them, nothing more
    [problem] = store_problems(role.url(urllib.parse.quote(PASSWORD, safe="")))
    assert problem.startswith("cannot read and write the run store's tables in postgresql")
    assert "permission denied for table" in problem


def test_a_role_granted_read_and_write_on_a_store_it_does_not_own_passes(
    login_role: Callable[..., LoginRole], postgres_url: str
) -> None:
    RunStore.open(postgres_url).close()
    role = login_role(PASSWORD, rights="read")
    url = role.url(urllib.parse.quote(PASSWORD, safe=""))
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1), autocommit=True) as admin:
        admin.execute(
            f'GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role.name}"'
        )
        [problem] = store_problems(url)  # row ids come from a sequence it may not use yet
        assert problem.endswith("permission denied for sequence public.row_outcomes_id_seq")
        admin.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role.name}"')
    assert store_problems(url) == []
    with RunStore.open(url) as store:  # and a run can indeed use it
        store.start_run("vip")


def test_a_store_that_is_behind_and_cannot_be_upgraded_fails(
    login_role: Callable[..., LoginRole], postgres_url: str
) -> None:
    RunStore.open(postgres_url).close()
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1), autocommit=True) as admin:
        admin.execute("DELETE FROM bcsync_schema_version WHERE version = %s", [LATEST_VERSION])
    role = login_role(PASSWORD, rights="create")  # may create tables, but owns none of these
    [problem] = store_problems(role.url(urllib.parse.quote(PASSWORD, safe="")))
    assert problem.startswith(f"cannot upgrade the run store postgresql+psycopg://{role.name}:***@")
    assert f"from version {LATEST_VERSION - 1} to {LATEST_VERSION}" in problem


def test_a_store_from_a_newer_bcsync_fails(store_url: str) -> None:
    RunStore.open(store_url).close()
    engine = create_store_engine(store_url)
    with write_transaction(engine) as conn:
        conn.execute(
            schema_versions.insert().values(
                version=LATEST_VERSION + 1, description="from the future", applied_at=dt.now(UTC)
            )
        )
    engine.dispose()
    [problem] = store_problems(store_url)
    assert f"newer than this bcsync knows ({LATEST_VERSION}); upgrade bcsync" in problem


@pytest.mark.parametrize("bad", ["wrong password", "unreachable host", "no rights"])
def test_check_fails_on_a_bad_run_store(
    sync_project: SyncProject,
    emulator: Any,
    login_role: Callable[..., LoginRole],
    bad: str,
) -> None:
    sync_project.load("customers", [customer(n) for n in range(1, 4)])
    role = login_role(PASSWORD, rights="none" if bad == "no rights" else "create")
    given = "Wrong@Pass:9/x#" if bad == "wrong password" else PASSWORD
    (sync_project.dir / ".env").write_text(
        (sync_project.dir / ".env").read_text() + f"STORE_PASSWORD='{given}'\n"
    )
    sync_project.state_url = (
        "postgresql://bc:${STORE_PASSWORD}@127.0.0.1:1/state?connect_timeout=2"
        if bad == "unreachable host"
        else role.url("${STORE_PASSWORD}")
    )
    sync_project.configure(UPSERT_BY_EMAIL)
    checked = sync_project.cli("check")
    output = checked.stdout + checked.stderr
    assert checked.returncode == 2, output
    assert "Everything checks out" not in output
    assert "✗ run store" in checked.stdout
    assert "✓ customers" in checked.stdout  # the syncs are checked all the same
    assert "bcsync.yml:5: state.url: " in checked.stdout  # the key, located in the file
    assert "Traceback" not in output
    assert_no_part_of(given, output)
    assert_no_part_of(PASSWORD, output)
