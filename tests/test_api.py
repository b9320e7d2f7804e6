"""The public ``Project`` API: what a run leaves behind, read back the way the CLI and UI do."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import bcsync
from bcsync.api import HarTooLarge
from bcsync.errors import ConfigError, NotQueuedError
from bcsync.state import RunStore
from bcsync.state.call_log import CallFilter
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import UPSERT_BY_EMAIL, customer


def test_a_run_is_read_back_through_the_project(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.load("customers", [customer(1), customer(2, email="not-an-email")])
    sync_project.configure(UPSERT_BY_EMAIL)
    project = bcsync.load_project(sync_project.dir)
    assert project.state("customers").summary is None
    ran = project.run("customers")

    assert [record.run_id for record in project.runs("customers")] == [ran.run_id]
    assert project.runs("another_sync") == []
    stored = project.result(ran.run_id[:8])
    assert stored.to_json() == project.result(ran.run_id).to_json()
    assert (stored.run_id, stored.status, stored.counts) == (ran.run_id, ran.status, ran.counts)
    assert [row["pk"] for row in stored.invalid_rows] == ["2"]

    state = project.state("customers")
    assert state.summary is not None
    assert state.to_json()["snapshot"] == state.summary.to_json()
    assert [row["pk"] for row in state.to_json()["unsettled"]] == [
        entry.pk for entry in state.unsettled
    ]

    calls = project.calls(ran.run_id)
    assert len(calls.calls) == ran.api_calls and calls.sync == "customers"
    carried = project.calls(ran.run_id, pk="1")
    assert carried.calls and all("1" in call.pks for call in carried.calls)
    assert carried.row_json() is not None and carried.row_json()["outcome"] == "succeeded"
    har = json.loads(project.har(ran.run_id))
    urls = {entry["request"]["url"] for entry in har["log"]["entries"]}
    assert f"{emulator.api_url}/stores/{emulator.store_hash}/v3/customers" in urls

    everything = CallFilter()
    assert json.loads(project.filtered_har(ran.run_id, everything)) == har
    assert len(
        json.loads(project.filtered_har(ran.run_id, everything, max_calls=len(calls.calls)))["log"][
            "entries"
        ]
    ) == len(calls.calls)
    with pytest.raises(HarTooLarge, match=f"more than {len(calls.calls) - 1} calls match"):
        project.filtered_har(ran.run_id, everything, max_calls=len(calls.calls) - 1)

    assert project.reset("customers") == state.summary.total
    after = project.state("customers").summary
    assert after is not None and (after.synced, after.released) == (0, state.summary.total)


def test_an_unknown_run_is_a_config_error(sync_project: SyncProject) -> None:
    sync_project.configure(UPSERT_BY_EMAIL)
    project = bcsync.load_project(sync_project.dir)
    for read in (project.result, project.calls, project.har):
        with pytest.raises(ConfigError, match="no run 'nope' in the run store"):
            read("nope")


def test_no_har_for_a_sync_the_project_no_longer_defines(sync_project: SyncProject) -> None:
    sync_project.load("customers", [customer(1)])
    sync_project.configure(UPSERT_BY_EMAIL)
    ran = bcsync.load_project(sync_project.dir).run("customers")
    sync_project.configure(UPSERT_BY_EMAIL.replace("customers:\n", "renamed:\n", 1))
    project = bcsync.load_project(sync_project.dir)
    assert len(project.calls(ran.run_id).calls) == ran.api_calls  # the calls are still kept
    with pytest.raises(ConfigError, match="no longer defines"):
        project.har(ran.run_id)


def test_the_demo_does_not_import_the_cli() -> None:
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bcsync.demo.script; print(sorted(m for m in sys.modules"
            " if m == 'bcsync.cli.commands' or m.startswith('bcsync.cli.commands.')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "[]"


def test_a_queued_run_is_begun_as_itself_and_only_once(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(UPSERT_BY_EMAIL)
    project = bcsync.load_project(sync_project.dir)
    with RunStore.open(project.config.state_url) as store:
        queued = store.queue_run("customers", trigger="schedule", tick="2026-12-02T11:15:00Z")
    assert queued is not None
    assert [r.status for r in project.runs("customers")] == ["queued"]

    ran = project.run("customers", trigger="schedule", queued_run=queued)
    assert (ran.run_id, ran.status) == (queued, "success")
    record = project.runs("customers")[0]
    assert (record.run_id, record.trigger, record.queued_at is not None) == (
        queued,
        "schedule",
        True,
    )
    assert len(emulator.dump()["customers"]) == 2

    # A second worker handed the same queued run starts nothing.
    with pytest.raises(NotQueuedError, match=f"run {queued} of 'customers' is not queued"):
        project.run("customers", trigger="schedule", queued_run=queued)
    assert [r.run_id for r in project.runs("customers")] == [queued]
