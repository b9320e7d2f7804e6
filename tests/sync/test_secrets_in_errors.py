"""No secret in what a run records, even when an error quotes one.

BigCommerce's row errors quote the values they refuse: a customer whose email holds the access
token, refused because another customer has that email, comes back as ``the email
'<token>@example.com' is already in use``. And an unexpected failure's message is whatever the
code that failed put in it. Real runs against the emulator: one with that rejected row, one that
fails with an error quoting the token and an alert channel's secret. Then no run store table, no
snapshot table, no output of ``bcsync run``/``runs``/``show``, no alert and no page of the UI may
hold a secret.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import duckdb
import httpx
import pytest
import sqlalchemy as sa

from bcsync.alerts.redaction import project_secrets
from bcsync.config.project import load_config
from bcsync.run.engine import Engine
from bcsync.run.snapshot import snapshot_path
from tests.alerts.receivers import HttpReceiver, start_http_receiver
from tests.fixtures.projects import SyncProject

SYNC = """\
customers:
  destination: store
  object: customers
  model: {table: customers, primary_key: customer_key}
  mode: insert
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
  alerts: {channels: [team], rejected_rows: {warning: 0.01}}
"""
ALERTS = """\
alerts:
  channels:
    team: {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
"""
HOOK = "https://hooks.slack.com/services/T0/B0/hooksecret0123456789"
MAX_PAGES = 150
_LINK = re.compile(r'(?:href|src|action)="([^"]+)"')


class FailingTransport(httpx.AsyncBaseTransport):
    """Fails every request with an error that is no HTTP error and quotes ``text``: the run ends
    as failed, its error the exception's message (``internal error: …``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"could not use {self.text}")


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    made, server = start_http_receiver()
    yield made
    server.shutdown()
    server.server_close()


def _variants(secret: str) -> set[str]:
    return {secret, html.escape(secret), quote(secret, safe=""), json.dumps(secret)[1:-1]}


def _leaks(where: str, text: str, secrets: list[str]) -> list[str]:
    return [f"{where} holds {s!r}" for s in secrets if any(v in text for v in _variants(s))]


def _database_texts(url: str) -> dict[str, str]:
    """Every text column of every table of a SQLAlchemy database, per table."""
    engine = sa.create_engine(url)
    found: dict[str, str] = {}
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                rows = conn.execute(sa.select(table)).all()
                found[table.name] = repr([tuple(row) for row in rows])
    finally:
        engine.dispose()
    return found


def _snapshot_texts(path: Path) -> dict[str, str]:
    """Every table of the snapshot file at ``path``."""
    found: dict[str, str] = {}
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as conn:
            tables = conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
            for schema, table in tables:
                rows = conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                found[f"{path.name}:{table}"] = repr(rows)
    return found


def _crawl(base: str, start: list[str]) -> dict[str, str]:
    """Every page of the UI reachable from ``start``: its URL and its body."""
    bodies: dict[str, str] = {}
    queue = [base + path for path in start]
    with httpx.Client(timeout=30) as client:
        while queue and len(bodies) < MAX_PAGES:
            url = queue.pop(0)
            if url in bodies:
                continue
            response = client.get(url)
            assert response.status_code < 500, f"{url} answered {response.status_code}"
            bodies[url] = response.text
            if "html" in response.headers.get("content-type", ""):
                for raw in _LINK.findall(response.text):
                    link = urljoin(url, html.unescape(raw)).split("#")[0]
                    if link.startswith(base) and "logout" not in link and "/events" not in link:
                        queue.append(link)
    return bodies


def test_no_secret_quoted_by_an_error_reaches_the_run_store_cli_alerts_or_ui(
    sync_project: SyncProject, emulator: Any, receiver: HttpReceiver, ui_server: Any
) -> None:
    token = emulator.token
    hook_secret = receiver.slack_url.rsplit("/", 1)[1]
    secrets = [token, receiver.slack_url, hook_secret]
    with (sync_project.dir / ".env").open("a") as env:
        env.write(f"SLACK_WEBHOOK_URL={receiver.slack_url}\n")
    taken = f"{token}@example.com"
    with emulator.client() as http:
        made = [{"email": taken, "first_name": "Made", "last_name": "Elsewhere"}]
        assert http.post("/v3/customers", json=made).status_code == 200
    sync_project.load(
        "customers",
        [
            {"customer_key": 1, "email": "user1@example.com", "first_name": "A", "last_name": "L"},
            {"customer_key": 2, "email": "user2@example.com", "first_name": "B", "last_name": "L"},
            {"customer_key": 3, "email": taken, "first_name": "C", "last_name": "L"},
        ],
    )
    sync_project.configure(SYNC, extra=ALERTS)

    ran = sync_project.cli("run", "customers", "--json")
    rejected = json.loads(ran.stdout)
    assert rejected["status"] == "warning", ran.stdout + ran.stderr
    assert [row["pk"] for row in rejected["rejected_rows"]] == ["3"]
    assert "is already in use" in rejected["rejected_rows"][0]["error"]
    # The same row's error through the engine in-process, then a run that fails outright.
    failing = FailingTransport(f"{token} and {receiver.slack_url}")
    failed = Engine(load_config(sync_project.dir), transport=failing).run("customers")
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.startswith("internal error: RuntimeError: could not use ***")

    leaks = _leaks("bcsync run --json", ran.stdout + ran.stderr, secrets)
    leaks += _leaks("the failed run's result", json.dumps(failed.to_json(), default=str), secrets)
    for table, text in _database_texts(sync_project.state_url).items():
        leaks += _leaks(f"run store table {table}", text, secrets)
    snapshot = snapshot_path(sync_project.dir, "customers")
    assert snapshot.exists()
    for table, text in _snapshot_texts(snapshot).items():
        leaks += _leaks(f"snapshot table {table}", text, secrets)
    for args in (
        ("runs",),
        ("runs", "customers", "--json"),
        ("show", rejected["run_id"]),
        ("show", rejected["run_id"], "--json"),
        ("show", failed.run_id),
        ("show", failed.run_id, "--json"),
    ):
        shown = sync_project.cli(*args)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        leaks += _leaks(f"bcsync {' '.join(args)}", shown.stdout + shown.stderr, secrets)
    alerts = receiver.of("slack")
    assert alerts, "the runs sent alerts"
    leaks += _leaks("the Slack alerts", repr([a.raw for a in alerts]), secrets)

    server = ui_server(sync_project.dir)
    pages = _crawl(
        server.base_url,
        [
            "/",
            f"/runs/{rejected['run_id']}",
            f"/runs/{failed.run_id}",
            "/syncs/customers",
            "/syncs/customers/rows/3",
            f"/api/v1/runs/{rejected['run_id']}",
            f"/api/v1/runs/{failed.run_id}",
        ],
    )
    for url, body in pages.items():
        leaks += _leaks(url, body, secrets)
    assert f"{server.base_url}/runs/{rejected['run_id']}" in pages

    assert not leaks, "\n".join(leaks)
    # What the rows' errors still say, with the secret masked.
    shown = sync_project.cli("show", rejected["run_id"], "--json")
    error = json.loads(shown.stdout)["rejected_rows"][0]["error"]
    assert "the email '***@example.com' is already in use" in error


def test_the_projects_secrets_hold_both_databases_passwords(sync_project: SyncProject) -> None:
    """The run store's password is one of the secrets masked, as written and decoded, and so is
    a warehouse password given as a query parameter."""
    sync_project.state_url = "postgresql://bcsync:st%40te-Pw91@db.example/state"
    sync_project.warehouse_url = "postgresql://reader@db.example/dw?password=wh-Pw1234"
    sync_project.configure(SYNC, extra=ALERTS.replace("${SLACK_WEBHOOK_URL}", HOOK))
    secrets = project_secrets(load_config(sync_project.dir))
    assert {"st%40te-Pw91", "st@te-Pw91", "wh-Pw1234", HOOK} <= set(secrets)
