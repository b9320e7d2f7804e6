"""``bcsync schedule``: each sync's schedule in plain words and its next five fire times."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bcsync.cli.commands import app

PROJECT = """\
version: 1
warehouse:
  url: duckdb:///warehouse.duckdb
destinations:
  store:
    type: bigcommerce
    store_hash: abc123
    access_token: tok
syncs:
  vip:
    destination: store
    object: customers
    model: {table: customers, primary_key: id}
    mode: insert
    mappings: [{column: email, field: email}]
    schedule: {every: 15m, start_at: 2026-01-01T00:00:00Z}
  office:
    destination: store
    object: customers
    model: {table: customers, primary_key: id}
    mode: insert
    mappings: [{column: email, field: email}]
    schedule: {cron: "*/30 8-18 * * 1-5", timezone: Europe/Berlin}
    on_overlap: queue_one
    misfire_grace: 5m
  followers:
    destination: store
    object: customers
    model: {table: customers, primary_key: id}
    mode: insert
    mappings: [{column: email, field: email}]
    schedule: {after: [vip, office]}
  leads:
    destination: store
    object: customers
    model: {table: customers, primary_key: id}
    mode: insert
    mappings: [{column: email, field: email}]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "bcsync.yml").write_text(PROJECT)
    return tmp_path


def test_schedule_lists_each_sync_in_plain_words_with_five_fire_times(project: Path) -> None:
    result = CliRunner().invoke(app, ["--project", str(project), "schedule"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "vip: every 15 minutes from 2026-01-01 00:00 UTC" in out
    assert (
        "office: at minute 0 and 30 past hours 8 through 18 on Monday to Friday, Europe/Berlin"
        in out
    )
    assert "followers: after vip and office succeed" in out
    assert "leads: manual only" in out
    vip_block = out.split("vip:")[1].split("office:")[0]
    times = [
        line.split() for line in vip_block.splitlines() if "UTC" in line and "from" not in line
    ]
    assert len(times) == 5
    minutes = [int(parts[1].split(":")[1]) for parts in times]
    assert all(minute % 15 == 0 for minute in minutes)
    office_block = out.split("office:")[1].split("followers:")[0]
    assert office_block.count("Europe/Berlin)") == 5  # local time beside the UTC one


def test_schedule_json_is_one_document(project: Path) -> None:
    before = datetime.now(UTC)
    result = CliRunner().invoke(app, ["--project", str(project), "schedule", "--json"])
    assert result.exit_code == 0, result.output
    syncs = {entry["sync"]: entry for entry in json.loads(result.stdout)["syncs"]}
    assert list(syncs) == ["vip", "office", "followers", "leads"]

    vip = syncs["vip"]
    assert vip["schedule"] == {
        "kind": "every",
        "every_seconds": 900.0,
        "start_at": "2026-01-01T00:00:00+00:00",
        "end_at": None,
    }
    ticks = [datetime.fromisoformat(tick["utc"]) for tick in vip["next_fire_times"]]
    assert len(ticks) == 5 and ticks[0] > before
    assert [b - a for a, b in itertools.pairwise(ticks)] == [timedelta(minutes=15)] * 4
    assert (vip["on_overlap"], vip["misfire_grace_seconds"]) == ("skip", 60.0)

    office = syncs["office"]
    assert office["schedule"] == {
        "kind": "cron",
        "cron": "*/30 8-18 * * 1-5",
        "timezone": "Europe/Berlin",
    }
    assert (office["on_overlap"], office["misfire_grace_seconds"]) == ("queue_one", 300.0)
    for tick in office["next_fire_times"]:
        utc, local = datetime.fromisoformat(tick["utc"]), datetime.fromisoformat(tick["local"])
        assert utc == local
        in_berlin = utc.astimezone(ZoneInfo("Europe/Berlin"))
        assert in_berlin.minute in (0, 30) and 8 <= in_berlin.hour <= 18
        assert in_berlin.isoweekday() <= 5

    assert syncs["followers"]["schedule"] == {
        "kind": "after",
        "after": ["vip", "office"],
        "when": "success",
        "stop_on_rejected_share": None,
    }
    assert syncs["followers"]["next_fire_times"] == []
    assert syncs["leads"]["schedule"] is None
    assert syncs["leads"]["description"] == "manual only"


def test_a_bad_schedule_is_a_config_error_with_exit_code_2(project: Path) -> None:
    text = PROJECT.replace("timezone: Europe/Berlin", "timezone: Europe/Berlim")
    (project / "bcsync.yml").write_text(text)
    result = CliRunner().invoke(app, ["--project", str(project), "schedule"])
    assert result.exit_code == 2
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "Berlim" in row)
    assert f"bcsync.yml:{line}: syncs.office.schedule.timezone: unknown time zone" in result.output
