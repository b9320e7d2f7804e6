"""A PostgreSQL warehouse and run store behind a password with every special character, through
the real CLI: it works, and no part of the password appears anywhere bcsync writes — stdout and
stderr of check, plan, run and runs (with the right password and with wrong ones), the run store's
rows, and the files under ``.bcsync/``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.config.test_database_url import assert_no_part_of
from tests.fixtures.postgres_roles import LoginRole
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import UPSERT_BY_EMAIL, customer

PASSWORD = "Zqv7?Wx12 Mnb3@Pqc4:Rsd5/Tjq6%Vwf7#Xyg8%41Kp9m"
WRONG = "Wr0ng@Pa5s:Sx7w/Qz8r#%41Yk3j"
COMMANDS = (("check",), ("plan", "customers"), ("run", "customers"), ("runs", "--json"))


@pytest.fixture
def project(
    sync_project: SyncProject, postgres_url: str, login_role: Callable[..., LoginRole]
) -> SyncProject:
    """Warehouse and run store in PostgreSQL, as a role that logs in with ``PASSWORD``, given raw
    through ``${VAR}`` from ``.env`` (one variable each, so a test can spoil one of them)."""
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1), autocommit=True) as admin:
        admin.execute(
            "CREATE TABLE customers (customer_key int primary key, email text, "
            "first_name text, last_name text, phone text, tier text)"
        )
        for n in range(1, 6):
            admin.execute(
                "INSERT INTO customers VALUES (%(customer_key)s, %(email)s, %(first_name)s, "
                "%(last_name)s, %(phone)s, %(tier)s)",
                customer(n),
            )
    role = login_role(PASSWORD)  # reads customers, creates the run store's tables
    env = sync_project.dir / ".env"
    env.write_text(
        env.read_text() + f"WAREHOUSE_PASSWORD='{PASSWORD}'\nSTORE_PASSWORD='{PASSWORD}'\n"
    )
    sync_project.warehouse_url = role.url("${WAREHOUSE_PASSWORD}")
    sync_project.state_url = role.url("${STORE_PASSWORD}")
    sync_project.configure(UPSERT_BY_EMAIL)
    return sync_project


def stored_text(postgres_url: str) -> str:
    """Every value of every row of every table in the database, as text."""
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1)) as admin:
        names = [
            row[0]
            for row in admin.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return "\n".join(
            str(row) for name in names for row in admin.execute(f'SELECT * FROM "{name}"')
        )


def files_text(directory: Path) -> str:
    return "\n".join(
        path.read_bytes().decode("latin-1") for path in directory.rglob("*") if path.is_file()
    )


def test_every_command_works_and_shows_no_part_of_the_password(
    project: SyncProject, emulator: Any, postgres_url: str
) -> None:
    outputs = []
    for command in COMMANDS:
        done = project.cli(*command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        outputs += [done.stdout, done.stderr]
    assert len(emulator.dump()["customers"]) == 5
    assert json.loads(outputs[-2])["runs"][0]["status"] == "success"
    assert_no_part_of(PASSWORD, *outputs)
    assert_no_part_of(PASSWORD, stored_text(postgres_url), files_text(project.dir / ".bcsync"))


@pytest.mark.parametrize("spoiled", ["WAREHOUSE_PASSWORD", "STORE_PASSWORD"])
def test_a_wrong_password_fails_every_command_and_shows_no_part_of_either(
    project: SyncProject, emulator: Any, postgres_url: str, spoiled: str
) -> None:
    if spoiled == "WAREHOUSE_PASSWORD":  # the run store works: the failed run is recorded there
        assert project.cli("run", "customers").returncode == 0
    outputs = []
    for command in COMMANDS:
        done = project.cli(*command, env={spoiled: WRONG})  # the environment wins over .env
        outputs += [done.stdout, done.stderr]
        if command != ("runs", "--json") or spoiled == "STORE_PASSWORD":
            assert done.returncode != 0, (command, done.stdout, done.stderr)
        assert "password authentication failed" in done.stdout + done.stderr, command
        assert "Traceback" not in done.stderr
    for password in (PASSWORD, WRONG):
        assert_no_part_of(password, *outputs)
        assert_no_part_of(password, stored_text(postgres_url), files_text(project.dir / ".bcsync"))
