"""The setup API (`/api/v1/setup`) attacked: secrets, variables of the server's environment,
files outside the project, SQL that writes, stale and half-done writes, CSRF and login.

In-process: the app `bcsync serve` builds, called over httpx's ASGI transport as 127.0.0.1 (so
that a test can make a write fail), on a fresh `bcsync init` project."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from bcsync.api import Project
from bcsync.cli.scaffold import init_project
from bcsync.config.editing.setup_mode import load_for_setup
from bcsync.config.project import load_config
from bcsync.web.app import UiSettings, create_app

SERVER_SECRET = "hunter2-from-the-environment"
TOKEN = "tok-sekrit-4242"
SYNC = {
    "destination": "store",
    "object": "customers",
    "model": {"file": "models/customers.sql", "primary_key": "customer_id"},
    "mode": "upsert",
    "match": {"column": "email", "field": "email"},
    "mappings": [{"column": "email", "field": "email"}],
}


class Client:
    """Requests to the app in this process, one event loop each (as a server thread would)."""

    def __init__(self, app: FastAPI, *, raise_server_exceptions: bool = True) -> None:
        self.transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_server_exceptions)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://127.0.0.1"
            ) as client:
                return await client.request(method, url, **kw)

        return asyncio.run(send())

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)


class Setup:
    """A served project and a client for its API."""

    def __init__(self, directory: Path, settings: UiSettings) -> None:
        self.directory = directory
        loaded = load_for_setup(directory)
        self.app = create_app(Project(loaded.config), settings, loaded.problems)
        self.client = Client(self.app)

    @property
    def config(self) -> Path:
        return self.directory / "bcsync.yml"

    def version(self) -> str:
        answer = self.client.get("/api/v1/setup")
        assert answer.status_code == 200, answer.text
        return str(answer.json()["version"])

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
        return self.client.request(method, path, json=body, headers=headers, **kw)

    def files(self) -> dict[str, bytes]:
        """Every file of the project directory (temporary ones included)."""
        return {
            str(p.relative_to(self.directory)): p.read_bytes()
            for p in self.directory.rglob("*")
            if p.is_file()
        }


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Setup]]:
    monkeypatch.setenv("PGPASSWORD", SERVER_SECRET)
    for name in [n for n in os.environ if n.startswith("BIGCOMMERCE_")]:
        monkeypatch.delenv(name)
    made: list[Setup] = []

    def make(env: str | None = None, settings: UiSettings | None = None) -> Setup:
        directory = tmp_path / f"shop{len(made)}"
        init_project(directory)
        if env is not None:
            (directory / ".env").write_text(env)
        served = Setup(directory, settings or UiSettings())
        made.append(served)
        return served

    yield make
    for served in made:
        served.app.state.project.close()


def configured() -> str:
    return f"BIGCOMMERCE_STORE_HASH=abc\nBIGCOMMERCE_ACCESS_TOKEN={TOKEN}\n"


# -- variables of the server's environment -----------------------------------------------------


def test_a_store_hash_cannot_make_the_server_read_its_environment(setup: Callable[..., Setup]):
    served = setup()
    before = served.config.read_bytes()
    for store_hash in ("${PGPASSWORD}", "${PGPASSWORD:-x}", "abc: def", "a\nb", "a #b", "$${X}"):
        answer = served.call(
            "PUT",
            "/api/v1/setup/destinations/store",
            {"store_hash": store_hash, "access_token": "t0ken", "version": served.version()},
        )
        assert answer.status_code == 422, (store_hash, answer.text)
        assert answer.json()["problems"][0]["path"] == "destinations.store.store_hash"
    assert served.config.read_bytes() == before
    assert not (served.directory / ".env").exists()
    assert SERVER_SECRET not in served.client.get("/api/v1/setup").text


def test_an_api_url_cannot_bring_a_new_variable_reference(setup: Callable[..., Setup]):
    served = setup()
    answer = served.call(
        "PUT",
        "/api/v1/setup/destinations/store",
        {
            "store_hash": "abc",
            "access_token": "t0ken",
            "api_url": "http://${PGPASSWORD}.example",
            "version": served.version(),
        },
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["path"] == "destinations.store.api_url"
    # The reference `bcsync init` wrote may be sent back as it is.
    kept = served.call(
        "PUT",
        "/api/v1/setup/destinations/store",
        {
            "store_hash": "abc",
            "access_token": "t0ken",
            "api_url": "${BIGCOMMERCE_API_URL:-https://api.bigcommerce.com}",
            "version": served.version(),
        },
    )
    assert kept.status_code == 200, kept.text


def test_a_sync_cannot_make_the_server_read_its_environment(setup: Callable[..., Setup]):
    served = setup(configured())
    sync = SYNC | {"mappings": [{"column": "${PGPASSWORD}", "field": "email"}]}
    checked = served.call("POST", "/api/v1/setup/syncs/check", {"name": "x", "sync": sync})
    assert checked.status_code == 200
    assert SERVER_SECRET not in checked.text
    assert checked.json()["problems"] == [
        {
            "path": "syncs.x.mappings[0].column",
            "message": "'${' cannot be set from the browser: edit bcsync.yml",
        }
    ]
    # Nor by copying a reference the file has elsewhere (the destination's token).
    sync = SYNC | {
        "model": {"sql": "select '${BIGCOMMERCE_ACCESS_TOKEN}' as id", "primary_key": "id"}
    }
    before = served.config.read_bytes()
    put = served.call("PUT", "/api/v1/setup/syncs/x", {"sync": sync, "version": served.version()})
    assert put.status_code == 422, put.text
    assert put.json()["problems"][0]["path"] == "syncs.x.model.sql"
    assert TOKEN not in put.text and served.config.read_bytes() == before


def test_sync_names_that_are_not_names_are_refused(setup: Callable[..., Setup]):
    served = setup(configured())
    before = served.config.read_bytes()
    for name in ("a: b", "a\nb", "${PGPASSWORD}", "x y", "[x]", "&a"):
        answer = served.call(
            "PUT", "/api/v1/setup/syncs/" + quote(name, safe=""),
            {"sync": SYNC, "version": served.version()},
        )  # fmt: skip
        assert answer.status_code == 422, (name, answer.text)
        assert SERVER_SECRET not in answer.text
    copied = served.call(
        "POST",
        "/api/v1/setup/syncs/customers/duplicate",
        {"new_name": "b: c\nsyncs: {}", "version": served.version()},
    )
    assert copied.status_code == 422
    assert served.config.read_bytes() == before


# -- secrets -------------------------------------------------------------------------------------


def test_a_token_that_env_would_misread_is_refused_and_never_echoed(setup: Callable[..., Setup]):
    served = setup()
    for token in ("ab\nEVIL=1", "ab\rEVIL=1", "ab'c", "ab\\", "a\\\\b", "x${PGPASSWORD}", "a\tb"):
        answer = served.call(
            "PUT",
            "/api/v1/setup/destinations/store",
            {"store_hash": "abc", "access_token": token, "version": served.version()},
        )
        assert answer.status_code == 422, (token, answer.text)
        assert token.strip() not in answer.text
    assert not (served.directory / ".env").exists()  # nothing written, not even a part
    for token in ("a#b", 'a"b', "a b", "a$b"):
        answer = served.call(
            "PUT",
            "/api/v1/setup/destinations/store",
            {"store_hash": "abc", "access_token": token, "version": served.version()},
        )
        assert answer.status_code == 200, answer.text
        assert token not in answer.text
        import dotenv

        assert dotenv.dotenv_values(served.directory / ".env") == {
            "BIGCOMMERCE_ACCESS_TOKEN": token
        }
        assert token not in served.config.read_text()
    assert (served.directory / ".env").stat().st_mode & 0o077 == 0


def test_a_body_that_does_not_fit_never_quotes_the_token(setup: Callable[..., Setup]):
    served = setup()
    for body in (
        {"store_hash": 7, "access_token": TOKEN, "version": "x"},
        {"store_hash": "abc", "access_token": TOKEN, "version": "x", "extra": TOKEN},
        {"store_hash": "abc", "access_token": [TOKEN], "version": "x"},
    ):
        answer = served.call("PUT", "/api/v1/setup/destinations/store", body)
        assert answer.status_code == 422, answer.text
        assert TOKEN not in answer.text
    broken = served.client.put(
        "/api/v1/setup/destinations/store",
        content=f'{{"access_token": "{TOKEN}", '.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and TOKEN not in broken.text
    checked = served.call(
        "POST", "/api/v1/setup/destinations/check",
        {"store_hash": "abc", "access_token": TOKEN, "api_url": f"not a url {TOKEN}"},
    )  # fmt: skip
    assert TOKEN not in checked.text


def test_the_saved_token_cannot_be_sent_to_another_api_url_without_giving_it(
    setup: Callable[..., Setup],
):
    served = setup(configured())
    before = served.config.read_bytes()
    moved = served.call(
        "PUT",
        "/api/v1/setup/destinations/store",
        {"store_hash": "abc", "api_url": "https://evil.example", "version": served.version()},
    )
    assert moved.status_code == 422, moved.text
    assert moved.json()["problems"][0]["path"] == "destinations.store.access_token"
    assert served.config.read_bytes() == before
    # The same URL, or a new one with the token given again, are fine.
    same = served.call(
        "PUT",
        "/api/v1/setup/destinations/store",
        {
            "store_hash": "abcd",
            "api_url": "https://api.bigcommerce.com/",
            "version": served.version(),
        },
    )
    assert same.status_code == 200, same.text
    given = served.call(
        "PUT",
        "/api/v1/setup/destinations/store",
        {
            "store_hash": "abcd",
            "access_token": "another-token",
            "api_url": "https://elsewhere.example",
            "version": served.version(),
        },
    )
    assert given.status_code == 200, given.text


def test_a_preview_never_shows_a_secret_of_the_project(setup: Callable[..., Setup]):
    served = setup(configured())
    shown = served.call(
        "POST", "/api/v1/setup/models/preview", {"sql": "select * from read_text('.env')"}
    )
    assert shown.status_code == 200, shown.text
    assert TOKEN not in shown.text and "BIGCOMMERCE_ACCESS_TOKEN=***" in shown.text
    reads_env = {"sql": "select content as id from read_text('.env')", "primary_key": "id"}
    sync = SYNC | {"model": reads_env, "mappings": [{"column": "id", "field": "email"}]}
    checked = served.call("POST", "/api/v1/setup/syncs/check", {"name": "x", "sync": sync})
    assert checked.status_code == 200 and TOKEN not in checked.text


# -- files and SQL ----------------------------------------------------------------------------


def test_a_model_file_outside_the_project_is_refused(setup: Callable[..., Setup]):
    served = setup(configured())
    (served.directory.parent / "outside.sql").write_text("select 'secret' as id")
    for file in ("../../etc/passwd", "/etc/passwd", "/proc/self/environ", "../outside.sql"):
        answer = served.call(
            "POST", "/api/v1/setup/models/preview", {"file": file, "primary_key": "id"}
        )
        assert answer.status_code == 422, (file, answer.text)
        assert answer.json()["problems"] == [
            {"path": "model.file", "message": "the model file must be inside the project directory"}
        ]
        sync = SYNC | {"model": {"file": file, "primary_key": "id"}}
        put = served.call(
            "PUT", "/api/v1/setup/syncs/x", {"sync": sync, "version": served.version()}
        )
        assert put.status_code == 422, (file, put.text)
        assert put.json()["problems"][0]["path"] == "syncs.x.model.file"
    link = served.directory / "models" / "link.sql"
    link.symlink_to(served.directory.parent / "outside.sql")
    answer = served.call(
        "POST", "/api/v1/setup/models/preview", {"file": "models/link.sql", "primary_key": "id"}
    )
    assert answer.status_code == 422, answer.text
    # A file the project has is previewed.
    inside = served.call(
        "POST", "/api/v1/setup/models/preview",
        {"file": "models/customers.sql", "primary_key": "customer_id"},
    )  # fmt: skip
    assert inside.status_code == 200, inside.text


def test_a_preview_only_reads_the_duckdb_warehouse(setup: Callable[..., Setup]):
    served = setup(configured())
    database = served.directory / "warehouse.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute("create table people as select 1 as id, 'x'  as name")
    served.config.write_text(
        served.config.read_text().replace('"duckdb:///:memory:"', "duckdb:///warehouse.duckdb")
    )
    served = Setup(served.directory, UiSettings())
    for sql in (
        "drop table people",
        "select 1; drop table people",
        "delete from people",
        "create table t as select 1",
        "with d as (delete from people returning *) select * from d",
        "select * from query('drop table people')",
        "copy people to 'out.csv'",
        "attach 'other.db'",
    ):
        answer = served.call("POST", "/api/v1/setup/models/preview", {"sql": sql})
        assert answer.status_code == 422, (sql, answer.text)
    for table in ("people; drop table people", 'people" ; drop table people; --', "people)"):
        answer = served.call("POST", "/api/v1/setup/models/preview", {"table": table})
        assert answer.status_code == 422, (table, answer.text)
    served.app.state.project.close()
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("select count(*) from people").fetchone() == (1,)
    assert not (served.directory / "out.csv").exists()


def test_a_preview_is_small_whatever_the_model(setup: Callable[..., Setup]):
    served = setup(configured())
    huge = served.call(
        "POST", "/api/v1/setup/models/preview",
        {"sql": "select repeat('x', 5000000) as v, i from range(1000) t(i)", "limit": 200},
    )  # fmt: skip
    assert huge.status_code == 200, huge.text
    rows = huge.json()["rows"]
    assert len(rows) == 200 and len(rows[0][0]) <= 1001
    assert len(huge.content) < 1_000_000
    too_many = served.call(
        "POST", "/api/v1/setup/models/preview", {"sql": "select 1", "limit": 10**9}
    )
    assert too_many.status_code == 422


def test_a_postgres_preview_runs_read_only(setup: Callable[..., Setup], postgres_url: str):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SEQUENCE s; CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        conn.exec_driver_sql(
            "CREATE FUNCTION wipe() RETURNS int LANGUAGE sql AS 'DELETE FROM t RETURNING 1'"
        )
    served = setup(configured())
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    served.config.write_text(served.config.read_text().replace('"duckdb:///:memory:"', f'"{url}"'))
    served = Setup(served.directory, UiSettings())
    for sql in ("select nextval('s') as id", "select wipe() as id"):
        answer = served.call("POST", "/api/v1/setup/models/preview", {"sql": sql})
        assert answer.status_code == 422, (sql, answer.text)
        assert "read-only transaction" in answer.json()["error"]
    served.app.state.project.close()
    with engine.begin() as conn:
        assert conn.exec_driver_sql("select count(*) from t").scalar() == 1
        assert conn.exec_driver_sql("select nextval('s')").scalar() == 1
    engine.dispose()


# -- writes: stale, failed, atomic ------------------------------------------------------------


def test_a_failed_write_of_bcsync_yml_leaves_env_as_it_was(
    setup: Callable[..., Setup], monkeypatch: pytest.MonkeyPatch
):
    served = setup("# mine\nOTHER=1\n")
    env_before = (served.directory / ".env").read_bytes()
    config_before = served.config.read_bytes()

    def disk_full(*args: Any, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bcsync.web.pages.setup_api.edit.replace_file", disk_full)
    client = Client(served.app, raise_server_exceptions=False)
    answer = client.put(
        "/api/v1/setup/destinations/store",
        json={"store_hash": "abc", "access_token": TOKEN, "version": served.version()},
    )
    assert answer.status_code == 500
    assert TOKEN not in answer.text
    assert (served.directory / ".env").read_bytes() == env_before
    assert served.config.read_bytes() == config_before
    # With no .env before, none after.
    (served.directory / ".env").unlink()
    client.put(
        "/api/v1/setup/destinations/store",
        json={"store_hash": "abc", "access_token": TOKEN, "version": served.version()},
    )
    assert not (served.directory / ".env").exists()


def test_refused_edits_write_nothing_and_leave_no_temporary_file(setup: Callable[..., Setup]):
    served = setup()
    before = served.files()
    stale = served.version()
    served.config.write_text(served.config.read_text() + "# edited by hand meanwhile\n")
    before = served.files()
    for method, path, body in (
        ("PUT", "/api/v1/setup/destinations/store",
         {"store_hash": "abc", "access_token": TOKEN, "version": stale}),
        ("PUT", "/api/v1/setup/syncs/x", {"sync": SYNC, "version": stale}),
        ("POST", "/api/v1/setup/syncs/customers/duplicate", {"new_name": "c2", "version": stale}),
        ("DELETE", f"/api/v1/setup/syncs/customers?version={stale}&state=reset", None),
    ):  # fmt: skip
        answer = served.call(method, path, body)
        assert answer.status_code == 409, (path, answer.text)
        assert "changed on disk" in answer.json()["error"]
    # Invalid edits on the current version: a 422, and the token never reaches .env.
    current = served.version()
    for method, path, body in (
        ("PUT", "/api/v1/setup/destinations/store",
         {"store_hash": "abc", "access_token": TOKEN, "api_url": "ftp://x", "version": current}),
        ("PUT", "/api/v1/setup/syncs/x", {"sync": SYNC | {"mode": "merge"}, "version": current}),
    ):  # fmt: skip
        answer = served.call(method, path, body)
        assert answer.status_code == 422, (path, answer.text)
        assert TOKEN not in answer.text
    assert served.files() == before


def test_two_editors_one_wins_the_other_is_told(setup: Callable[..., Setup]):
    served = setup(configured())
    version = served.version()
    first = served.call("PUT", "/api/v1/setup/syncs/a", {"sync": SYNC, "version": version})
    second = served.call("PUT", "/api/v1/setup/syncs/b", {"sync": SYNC, "version": version})
    assert first.status_code == 200 and second.status_code == 409
    assert "a:" in served.config.read_text() and "\n  b:" not in served.config.read_text()


def test_a_file_that_is_not_yaml_any_more_is_refused_cleanly(setup: Callable[..., Setup]):
    served = setup(configured())
    served.config.write_text(served.config.read_text() + "syncs2:\n\t- broken: [\n")
    answer = served.call(
        "PUT", "/api/v1/setup/syncs/x", {"sync": SYNC, "version": served.version()}
    )
    assert answer.status_code == 422, answer.text
    assert "YAML syntax error" in answer.json()["error"]


def test_crlf_file_keeps_crlf_after_an_edit(setup: Callable[..., Setup]):
    served = setup(configured())
    served.config.write_bytes(served.config.read_bytes().replace(b"\n", b"\r\n"))
    answer = served.call(
        "PUT", "/api/v1/setup/syncs/x", {"sync": SYNC, "version": served.version()}
    )
    assert answer.status_code == 200, answer.text
    data = served.config.read_bytes()
    assert b"\r\n  x:\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")


# -- auth and CSRF ----------------------------------------------------------------------------


def test_read_only_refuses_checks_and_previews_too(setup: Callable[..., Setup]):
    served = setup(configured(), UiSettings(read_only=True))
    for path, body in (
        ("/api/v1/setup/destinations/check", {"store_hash": "a", "access_token": "b"}),
        ("/api/v1/setup/models/preview", {"sql": "select 1"}),
        ("/api/v1/setup/syncs/check", {"name": "x", "sync": SYNC}),
    ):
        answer = served.call("POST", path, body)
        assert answer.status_code == 403, (path, answer.text)
    assert served.client.get("/api/v1/setup").status_code == 200


def test_another_site_cannot_post_to_the_setup_api(setup: Callable[..., Setup]):
    served = setup(configured())
    before = served.files()
    body = {"store_hash": "abc", "access_token": "attacker", "version": served.version()}
    for headers in (
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
        {"Origin": "https://evil.example", "Content-Type": "application/json"},
        {"Content-Type": "text/plain"},  # a form or no-cors fetch needs no preflight
        {"Content-Type": "application/x-www-form-urlencoded"},
    ):
        content = httpx.Request("PUT", "/", json=body).content
        answer = served.client.put(
            "/api/v1/setup/destinations/store", content=content, headers=headers
        )
        assert answer.status_code == 403, (headers, answer.text)
    other_host = served.client.get("/api/v1/setup", headers={"Host": "evil.example"})
    assert other_host.status_code == 400
    assert served.files() == before


def test_with_a_ui_token_the_setup_api_needs_it(setup: Callable[..., Setup]):
    served = setup(configured(), UiSettings(token="ui-token-0123456789"))
    for method, path, body in (
        ("GET", "/api/v1/setup", None),
        ("GET", "/api/v1/setup/warehouse/tables", None),
        ("POST", "/api/v1/setup/models/preview", {"sql": "select 1"}),
        ("PUT", "/api/v1/setup/syncs/x", {"sync": SYNC, "version": "v"}),
    ):
        answer = served.call(method, path, body)
        assert answer.status_code == 401, (path, answer.text)
    page = served.client.get("/setup", follow_redirects=False)
    assert page.status_code in (303, 307) and "/login" in page.headers["location"]
    bearer = {"Authorization": "Bearer ui-token-0123456789"}
    answer = served.client.get("/api/v1/setup", headers=bearer)
    assert answer.status_code == 200
    shown = served.client.post(
        "/api/v1/setup/models/preview", json={"sql": "select 'ui-token-0123456789' as t"},
        headers=bearer,
    )  # fmt: skip
    assert shown.status_code == 200 and "ui-token-0123456789" not in shown.text


# -- edits and the engine ---------------------------------------------------------------------

PEOPLE_SQL = "select * from read_csv('data/customers.csv')"
PEOPLE = {
    "destination": "store",
    "object": "customers",
    "model": {"sql": PEOPLE_SQL, "primary_key": "customer_id"},
    "mode": "upsert",
    "match": {"column": "email", "field": "email"},
    "mappings": [
        {"column": "email", "field": "email"},
        {"column": "first_name", "field": "first_name"},
        {"column": "last_name", "field": "last_name"},
    ],
}


def test_edits_then_runs_state_follows_the_sync_s_name(setup: Callable[..., Setup], emulator: Any):
    served = setup(
        f"BIGCOMMERCE_STORE_HASH={emulator.store_hash}\n"
        f"BIGCOMMERCE_ACCESS_TOKEN={emulator.token}\n"
        f"BIGCOMMERCE_API_URL={emulator.api_url}\n"
    )

    def put(name: str, sync: dict[str, Any]) -> None:
        answer = served.call(
            "PUT", f"/api/v1/setup/syncs/{name}", {"sync": sync, "version": served.version()}
        )
        assert answer.status_code == 200, answer.text

    def added(name: str, sync: dict[str, Any] = PEOPLE) -> int:
        answer = served.call("POST", "/api/v1/setup/syncs/check", {"name": name, "sync": sync})
        assert answer.status_code == 200, answer.text
        plan = answer.json()["plan"]
        assert plan is not None, answer.text
        return int(plan["counts"]["added"])

    def run(name: str) -> str:
        project = Project(load_config(served.config))
        try:
            result = project.run(name)
            assert str(result.status) == "success", str(result.to_json())[:3000]
            return str(result.status)
        finally:
            project.close()

    put("people", PEOPLE)
    assert run("people") == "success"
    assert added("people") == 0
    # A copy has a state of its own: every row is new to it; the original's stays.
    copied = served.call(
        "POST", "/api/v1/setup/syncs/people/duplicate",
        {"new_name": "people_copy", "version": served.version()},
    )  # fmt: skip
    assert copied.status_code == 200, copied.text
    assert added("people_copy") == 3 and added("people") == 0
    # Mappings and key changed through the API: the engine runs on.
    put(
        "people",
        PEOPLE | {"mappings": [*PEOPLE["mappings"], {"column": "phone", "field": "phone"}]},
    )
    assert run("people") == "success"
    put("people", PEOPLE | {"model": {"sql": PEOPLE_SQL, "primary_key": "email"}})
    assert run("people") == "success"
    assert {c["phone"] for c in emulator.dump()["customers"]} >= {"+44 20 7946 0001"}
    # Deleted keeping its state: back with the same definition, nothing is new.
    keep = served.call(
        "DELETE", f"/api/v1/setup/syncs/people?state=keep&version={served.version()}"
    )
    assert keep.status_code == 200 and keep.json()["rows_forgotten"] == 0, keep.text
    put("people", PEOPLE | {"model": {"sql": PEOPLE_SQL, "primary_key": "email"}})
    assert added("people", PEOPLE | {"model": {"sql": PEOPLE_SQL, "primary_key": "email"}}) == 0
    # Deleted with state=reset: forgotten, so every row is new again.
    reset = served.call(
        "DELETE", f"/api/v1/setup/syncs/people?state=reset&version={served.version()}"
    )
    # (the snapshot holds the rows under both keys it has had: 6)
    assert reset.status_code == 200 and reset.json()["rows_forgotten"] >= 3, reset.text
    put("people", PEOPLE)
    assert added("people") == 3
    assert added("people_copy") == 3


def test_a_delete_with_a_bad_query_is_this_api_s_422(setup: Callable[..., Setup]):
    served = setup(configured())
    before = served.config.read_bytes()
    bogus = served.call(
        "DELETE", f"/api/v1/setup/syncs/customers?state=bogus&version={served.version()}"
    )
    assert bogus.status_code == 422
    assert bogus.json()["problems"][0]["path"] == "state"
    missing = served.call("DELETE", "/api/v1/setup/syncs/customers")
    assert missing.json()["problems"] == [{"path": "version", "message": "Field required"}]
    dry = served.call(
        "DELETE", f"/api/v1/setup/syncs/customers?dry_run=true&version={served.version()}"
    )
    assert dry.status_code == 200 and "-  customers:" in dry.json()["diff"]
    assert served.config.read_bytes() == before


def test_destination_names_are_plain_words(setup: Callable[..., Setup]):
    served = setup()
    before = served.config.read_bytes()
    for name in ("a\nb", "a\rb", "*x", "&y", "!z", "|p", "?r", "a,b", "é", "a.b", "${X}", "a b"):
        answer = served.call(
            "PUT",
            "/api/v1/setup/destinations/" + quote(name, safe=""),
            {"store_hash": "abc", "access_token": "t0ken", "version": served.version()},
        )
        assert answer.status_code == 422, (name, answer.text)
    assert served.config.read_bytes() == before
    assert not (served.directory / ".env").exists()
    added = served.call(
        "PUT",
        "/api/v1/setup/destinations/eu-store_2",
        {"store_hash": "abc", "access_token": "t0ken", "version": served.version()},
    )
    assert added.status_code == 200, added.text
    assert added.json()["env_keys"] == ["BIGCOMMERCE_EU_STORE_2_ACCESS_TOKEN"]
