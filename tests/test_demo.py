"""``bcsync demo`` end to end: the story a new user sees, told against a real emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from bcsync.cli.commands import app
from bcsync.demo.script import SYNC
from bcsync.demo.warehouse import BAD_EMAIL, build_warehouse, change_warehouse


def test_warehouse_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    assert build_warehouse(first, customers=300) == 300
    build_warehouse(second, customers=300)
    query = "select * from customers order by customer_key"
    with duckdb.connect(str(first)) as a, duckdb.connect(str(second)) as b:
        rows = a.execute(query).fetchall()
        assert rows == b.execute(query).fetchall()
        tiers = {
            row[0] for row in a.execute("select distinct loyalty_tier from customers").fetchall()
        }
    assert tiers == {"Bronze", "Silver", "Gold", "Platinum"}


def test_change_warehouse_adds_edits_removes_and_breaks_one_email(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    build_warehouse(path, customers=400)
    with duckdb.connect(str(path)) as con:
        before = {row[0]: row for row in con.execute("select * from customers").fetchall()}
    changes = change_warehouse(path, added=10, edited=20, removed=5)
    with duckdb.connect(str(path)) as con:
        after = {row[0]: row for row in con.execute("select * from customers").fetchall()}
    assert set(changes.added) | {changes.bad_email_key} == set(after) - set(before)
    assert set(changes.removed) == set(before) - set(after)
    assert all(after[key] != before[key] for key in changes.edited)
    assert after[changes.bad_email_key][1] == BAD_EMAIL
    assert len(after) == 400 + 11 - 5


@pytest.mark.slow
def test_demo_runs_the_whole_story(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    runner = CliRunner()
    try:
        result = runner.invoke(
            app, ["demo", "--dir", str(project)], catch_exceptions=False, env={"COLUMNS": "120"}
        )
    except NotImplementedError as exc:
        pytest.skip(f"the engine is not implemented yet: {exc}")
    out = result.stdout
    assert result.exit_code == 0, out + result.stderr

    # Each step the user is told about happened, through the CLI.
    for command in ("$ bcsync check", f"$ bcsync plan {SYNC}", f"$ bcsync run {SYNC}"):
        assert command in out
    assert "Everything checks out." in out
    # It ends by pointing at the web UI over the demo's runs.
    assert "serve" in out and "http://127.0.0.1:8600/" in out

    # The three runs: the first sends everything, the second only the change, the third
    # nothing at all: not even a look at the store (the emulator's own count).
    totals = [int(n.replace(",", "")) for n in re.findall(r"^\s*total\s+([\d,]+)", out, re.M)]
    assert len(totals) == 6, out
    first, second, third, orders, statuses, rerun = totals
    assert first >= 2_500 / 10 and 0 < second < first / 5 and third == 0
    third_run = out[out.index("5. Nothing changed") : out.index("6. Orders from the warehouse")]
    assert not re.search(r"^\s*(POST|PUT|DELETE) ", third_run, re.M), third_run

    # Orders: one create per order, one update per shipped order, nothing on the rerun.
    created = re.search(r"^\s*POST /v2/orders\s+([\d,]+)", out, re.M)
    assert created and orders >= int(created[1]) > 250
    updated = re.search(r"^\s*PUT /v2/orders/\{id\}\s+([\d,]+)", out, re.M)
    assert updated and int(updated[1]) == 60 and statuses < 2 * 60
    orders_rerun = out[out.index("8. Orders again") : out.index("9. What BigCommerce")]
    assert not re.search(r"^\s*(POST|PUT|DELETE) ", orders_rerun, re.M), orders_rerun
    assert rerun == 0
    assert re.search(r"The store holds [\d,]+ orders \(.*\d+ Shipped", out)

    # The bad row is reported with its reason, and the store holds the right customers.
    assert re.search(rf"pk \d+: .*{BAD_EMAIL}", out)
    assert "The store holds 2,510 customers" in out  # 2,500 + 50 new - 40 removed

    history = runner.invoke(app, ["--project", str(project), "runs", "--json"])
    runs = [run for run in json.loads(history.stdout)["runs"] if run["sync"] == SYNC]
    # Newest first; the malformed row keeps the later runs at "warning" until it is fixed.
    assert [run["status"] for run in runs] == ["warning", "warning", "success"]
    counts = runs[1]["counts"]
    assert (counts["changed"], counts["removed"], counts["invalid"]) == (120, 40, 1)
    assert counts["succeeded"] == 50 + 120 + 40

    # No secret reaches the screen: the emulator's token only lives in the demo's .env.
    token = re.search(r"ACCESS_TOKEN=(\S+)", (project / ".env").read_text())
    assert token and token[1] not in out + result.stderr
