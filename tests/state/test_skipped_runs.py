"""A run refused because another live run holds the sync's lock is ``skipped`` (issue 10, item 8).

The lock is held by another process (a small script that takes it through the run store, as a
run does, and keeps it until the test lets go), and the refused run is a real ``bcsync run`` (or
the engine) in this one. What a user sees: status ``skipped`` naming the holder's run, exit code 0,
no call to BigCommerce, ``runs``/``show`` (and their JSON) saying so, and no alert either way:
an overlapping trigger neither raises a failure alert nor resolves one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import bcsync
from bcsync.state import RunStore
from tests.alerts.receivers import HttpReceiver, start_http_receiver
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import UPSERT_BY_EMAIL, customer

_HOLDER = """
import sys
from bcsync.state import RunStore
store = RunStore.open(sys.argv[1])
run_id = store.start_run("customers")
store.set_status(run_id, "syncing")
store.acquire_lock("customers", run_id, lease_seconds=600)
print(run_id, flush=True)
sys.stdin.read()  # holds the lock until the test closes stdin
store.finish_run(run_id, "success", counts={}, api_calls=0)
store.release_lock("customers", run_id)
store.close()
"""


class LockHolder:
    """Another process that holds the lock of sync ``customers`` while the test runs."""

    def __init__(self, state_url: str) -> None:
        src = str(Path(bcsync.__file__).resolve().parents[1])
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, state_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": src},
        )
        assert self.process.stdout is not None
        self.run_id = self.process.stdout.readline().strip()
        assert len(self.run_id) == 32, "the holder did not take the lock"

    def release(self) -> None:
        """Let go: the holder finishes its run and releases the lock, then exits."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
            assert self.process.wait(timeout=60) == 0
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, sync_project: SyncProject) -> str:
    if request.param == "sqlite":
        return sync_project.state_url
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def slack() -> Iterator[HttpReceiver]:
    receiver, server = start_http_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
    assert receiver.problems == []


@pytest.fixture
def hold_lock() -> Iterator[Callable[[str], LockHolder]]:
    """Starts a holder process on a store; every one still holding lets go at the end."""
    holders: list[LockHolder] = []

    def hold(state_url: str) -> LockHolder:
        holders.append(LockHolder(state_url))
        return holders[-1]

    yield hold
    for holder in holders:
        holder.release()


def test_a_run_refused_by_a_live_lock_is_skipped_and_says_by_whom(
    sync_project: SyncProject,
    emulator: Any,
    state_url: str,
    hold_lock: Callable[[str], LockHolder],
) -> None:
    sync_project.state_url = state_url
    sync_project.load("customers", [customer(n) for n in range(1, 4)])
    sync_project.configure(UPSERT_BY_EMAIL)
    RunStore.open(state_url).close()  # a store of the current schema, as a first run makes
    holder = hold_lock(state_url)

    run = sync_project.cli("run", "customers", "--json")
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["status"] == "skipped"
    assert f"run {holder.run_id}" in document["error"]
    assert document["counts"] == dict.fromkeys(document["counts"], 0)
    assert emulator.stats()["requests_total"] == 0  # nothing read from or sent to BigCommerce

    human = sync_project.cli("run", "customers")
    assert human.returncode == 0
    assert "skipped" in human.stdout and holder.run_id in human.stdout

    history = json.loads(sync_project.cli("runs", "customers", "--json").stdout)["runs"]
    skipped = [r for r in history if r["status"] == "skipped"]
    assert len(skipped) == 2 and document["run_id"] in {r["run_id"] for r in skipped}
    assert all(holder.run_id in r["error"] and r["finished_at"] for r in skipped)
    table = sync_project.cli("runs", "customers").stdout
    line = next(row for row in table.splitlines() if document["run_id"][:8] in row)
    assert "skipped" in line and "–" in line  # no row counts for a run that read nothing

    shown = sync_project.cli("show", document["run_id"])
    assert shown.returncode == 0
    assert "skipped" in shown.stdout and "reason" in shown.stdout
    assert holder.run_id in shown.stdout
    shown_json = json.loads(sync_project.cli("show", document["run_id"], "--json").stdout)
    assert (shown_json["status"], shown_json["error"]) == ("skipped", document["error"])

    holder.release()
    after = sync_project.cli("run", "customers", "--json")
    assert after.returncode == 0
    assert json.loads(after.stdout)["status"] == "success"
    assert len(emulator.dump()["customers"]) == 3


ALERTS = """\
alerts:
  channels:
    team: {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
  defaults: {channels: [team]}
"""


def test_a_skipped_run_neither_raises_nor_resolves_a_failure_alert(
    sync_project: SyncProject,
    emulator: Any,
    slack: HttpReceiver,
    hold_lock: Callable[[str], LockHolder],
) -> None:
    with (sync_project.dir / ".env").open("a") as env:
        env.write(f"SLACK_WEBHOOK_URL={slack.slack_url}\n")
    sync_project.load("customers", [customer(n) for n in range(1, 4)])
    sync_project.configure(UPSERT_BY_EMAIL, extra=ALERTS)
    holder = hold_lock(sync_project.state_url)

    assert sync_project.run("customers").status == "skipped"
    assert slack.of("slack") == []  # all was well before: an overlap is no failure

    holder.release()
    sync_project.configure(UPSERT_BY_EMAIL.replace("table: customers", "table: nope"), extra=ALERTS)
    assert sync_project.run("customers").status == "failed"
    [raised] = slack.of("slack")
    assert "run failed" in raised.body["text"]

    holder = hold_lock(sync_project.state_url)
    sync_project.configure(UPSERT_BY_EMAIL, extra=ALERTS)
    assert sync_project.run("customers").status == "skipped"
    assert len(slack.of("slack")) == 1  # no recovery: nothing ran, so nothing recovered
    with RunStore.open(sync_project.state_url) as store:
        state = store.get_alert_state("customers", "run_failed")
    assert state is not None and state.state == "critical"

    holder.release()
    assert sync_project.run("customers").status == "success"
    assert len(slack.of("slack")) == 2  # the recovery, from the run that did the work
