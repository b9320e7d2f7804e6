"""Passwords with any character reach a real PostgreSQL intact, as warehouse and as run store.

Each password is given the three ways the README describes: percent-encoded in the URL, raw
through a ``${VAR}`` in the URL's password, and raw through PGPASSWORD (read by libpq when the
URL has none). The server checks it (``tests/fixtures/postgres_roles.py``), so a login proves the
password arrived exactly, ``%41`` included; a wrong one is refused with no part of it shown.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import psycopg
import pytest

from bcsync.config.project import ModelConfig, load_config
from bcsync.errors import StateError, WarehouseError
from bcsync.state import RunStore
from bcsync.warehouse import open_warehouse
from tests.config.test_database_url import SPECIAL, assert_no_part_of
from tests.fixtures.postgres_roles import LoginRole

SPECIAL_PASSWORDS = {**SPECIAL, "everything": "Zqv7?Wx12 Mnb3@Pqc4:Rsd5/Tjq6%#%41Kp9m"}
Given = Literal["encoded", "variable", "PGPASSWORD"]
MODEL = ModelConfig(table="items", primary_key="id")
PROJECT = """\
version: 1
warehouse:
  url: {url}
state:
  url: {url}
destinations:
  store: {{type: bigcommerce, store_hash: abc, access_token: tok}}
"""


@pytest.fixture
def items(postgres_url: str) -> None:
    """A table the warehouse reads, made by the superuser before any login role exists."""
    admin_url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        admin.execute("INSERT INTO items VALUES (1, 'one')")


def url_given(
    role: LoginRole, password: str, given: Given, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """The warehouse and run store URLs as bcsync would use them, ``password`` given that way."""
    if given == "encoded":
        url = role.url(urllib.parse.quote(password, safe=""))
        return url, url
    if given == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", password)
        return role.url(None), role.url(None)
    (tmp_path / ".env").write_text(f"BCSYNC_DB_PASSWORD='{password}'\n", encoding="utf-8")
    (tmp_path / "bcsync.yml").write_text(
        PROJECT.format(url=role.url("${BCSYNC_DB_PASSWORD}")), encoding="utf-8"
    )
    config = load_config(tmp_path)
    return config.warehouse.url, config.state_url


@pytest.mark.parametrize("given", ["encoded", "variable", "PGPASSWORD"])
@pytest.mark.parametrize("password", SPECIAL_PASSWORDS.values(), ids=SPECIAL_PASSWORDS.keys())
def test_a_password_with_special_characters_logs_in(
    items: None,
    login_role: Callable[..., LoginRole],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    given: Given,
) -> None:
    role = login_role(password)
    warehouse_url, state_url = url_given(role, password, given, tmp_path, monkeypatch)

    warehouse = open_warehouse(warehouse_url)
    try:
        rows = warehouse.stream(MODEL, sync="vip").read_all().to_pylist()
    finally:
        warehouse.close()
    assert rows == [{"id": 1, "name": "one"}]

    with RunStore.open(state_url) as store:
        run_id = store.start_run("vip")
        assert store.get_run(run_id) is not None


@pytest.mark.parametrize("given", ["encoded", "variable", "PGPASSWORD"])
@pytest.mark.parametrize("password", SPECIAL_PASSWORDS.values(), ids=SPECIAL_PASSWORDS.keys())
def test_a_wrong_password_is_refused_without_showing_any_part_of_it(
    items: None,
    login_role: Callable[..., LoginRole],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    given: Given,
) -> None:
    role = login_role("the-right-one-Kq82")
    warehouse_url, state_url = url_given(role, password, given, tmp_path, monkeypatch)

    with pytest.raises(WarehouseError, match="password authentication failed") as refused:
        open_warehouse(warehouse_url).schema(MODEL, sync="vip")
    with pytest.raises(StateError, match="password authentication failed") as failed:
        RunStore.open(state_url)
    messages = [str(refused.value), str(failed.value)]
    assert_no_part_of(password, *messages)
    assert_no_part_of("the-right-one-Kq82", *messages)
    assert role.name in messages[0] and role.name in messages[1]  # says whose login failed
