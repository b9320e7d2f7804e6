"""The setup API (`/api/v1/setup`) over HTTP against a real `bcsync serve`: from a fresh
`bcsync init` project with no .env to a saved destination and sync, a plan and a run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

from bcsync.cli.scaffold import init_project

JSON = {"Content-Type": "application/json"}
TIER_MODEL = (
    "select customer_id, email, first_name, last_name, 'gold' as tier "
    "from read_csv('data/customers.csv')"
)


def call(server: Any, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
    return httpx.request(method, server.url(path), json=body, headers=JSON, timeout=60, **kw)


def overview(server: Any) -> dict[str, Any]:
    answer = call(server, "GET", "/api/v1/setup")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def fresh_project(tmp_path: Path) -> Path:
    directory = tmp_path / "shop"
    init_project(directory)
    return directory


def save_destination(server: Any, emulator: Any) -> dict[str, Any]:
    answer = call(
        server,
        "PUT",
        "/api/v1/setup/destinations/store",
        {
            "store_hash": emulator.store_hash,
            "access_token": emulator.token,
            "api_url": emulator.api_url,
            "version": overview(server)["version"],
        },
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def tier_sync(field: str = "attributes.Loyalty Points") -> dict[str, Any]:
    return {
        "destination": "store",
        "object": "customers",
        "model": {"sql": TIER_MODEL, "primary_key": "customer_id"},
        "mode": "upsert",
        "match": {"column": "email", "field": "email"},
        "mappings": [
            {"column": "email", "field": "email"},
            {"column": "first_name", "field": "first_name"},
            {"column": "last_name", "field": "last_name"},
            {"column": "tier", "field": field},
        ],
    }


def test_from_bcsync_init_to_a_run_without_an_editor(tmp_path: Path, emulator: Any, ui_server):
    directory = fresh_project(tmp_path)
    server = ui_server(directory)

    # Setup mode: the server started although ${BIGCOMMERCE_*} are unset; runs are refused.
    first = overview(server)
    assert first["problems"], first
    assert any("BIGCOMMERCE_ACCESS_TOKEN" in problem for problem in first["problems"])
    assert first["destinations"] == [
        {
            "name": "store",
            "store_hash": "",
            "api_url": "https://api.bigcommerce.com",
            "token_set": False,
        }
    ]
    assert first["syncs"] == ["customers"]
    assert first["warehouse"] == {"dialect": "duckdb"}
    page = httpx.get(server.url("/"), timeout=30)
    assert page.status_code == 200
    refused = call(server, "POST", "/api/v1/syncs/customers/runs")
    assert refused.status_code == 409
    assert "not set up" in refused.json()["detail"]

    # A wrong token: BigCommerce's 401, explained.
    wrong = call(
        server,
        "POST",
        "/api/v1/setup/destinations/check",
        {
            "store_hash": emulator.store_hash,
            "access_token": "nope-123",
            "api_url": emulator.api_url,
        },
    ).json()
    assert wrong["ok"] is False and wrong["status"] == 401
    assert "401" in wrong["explanation"] and "nope-123" not in str(wrong)

    good = call(
        server,
        "POST",
        "/api/v1/setup/destinations/check",
        {
            "store_hash": emulator.store_hash,
            "access_token": emulator.token,
            "api_url": emulator.api_url,
        },
    ).json()
    assert good["ok"] is True, good
    assert "store_v2_customers" in good["scopes"]

    # Saved: the token into .env under the variable bcsync.yml already names, never into it.
    saved = save_destination(server, emulator)
    assert saved["env_keys"] == ["BIGCOMMERCE_ACCESS_TOKEN"]
    assert emulator.token not in saved["diff"]
    assert f"store_hash: {emulator.store_hash}" in saved["diff"]
    env = (directory / ".env").read_text()
    assert f"BIGCOMMERCE_ACCESS_TOKEN={emulator.token}" in env
    config = (directory / "bcsync.yml").read_text()
    assert emulator.token not in config
    assert "access_token: ${BIGCOMMERCE_ACCESS_TOKEN}" in config
    assert "# bcsync project: keep BigCommerce in step" in config  # comments kept
    after = overview(server)
    assert after["problems"] == []
    assert after["destinations"][0]["token_set"] is True
    assert after["version"] == saved["version"]

    # The store's fields, and an attribute created from the form.
    created = call(
        server,
        "POST",
        "/api/v1/setup/destinations/store/attributes",
        {"name": "Loyalty Points", "type": "number"},
    )
    assert created.status_code == 200, created.text
    assert created.json()["field"] == "attributes.Loyalty Points"
    fields = call(server, "GET", "/api/v1/setup/destinations/store/fields?object=customers")
    by_field = {f["field"]: f for f in fields.json()["fields"]}
    assert by_field["first_name"]["kind"] == "native"
    assert by_field["attributes.Loyalty Points"] == {
        "field": "attributes.Loyalty Points",
        "kind": "attribute",
        "type": "number",
        "accepts": ["integer", "number"],
    }

    # A text column mapped to a number attribute is caught before saving.
    checked = call(
        server, "POST", "/api/v1/setup/syncs/check", {"name": "vip", "sync": tier_sync()}
    ).json()
    assert checked["problems"] == []
    wrong_type = [c for c in checked["mapping_checks"] if not c["ok"]]
    assert wrong_type == [
        {
            "column": "tier",
            "field": "attributes.Loyalty Points",
            "ok": False,
            "message": "column 'tier' is text; attribute 'Loyalty Points' is a number",
        }
    ]
    assert "+  vip:" in checked["diff"]

    # Fixed: mapped to a text attribute, created on the first run; the plan says 3 to add.
    fixed = tier_sync("attributes.Tier") | {"create_missing_attributes": True}
    checked = call(
        server, "POST", "/api/v1/setup/syncs/check", {"name": "vip", "sync": fixed}
    ).json()
    assert checked["problems"] == [], checked
    assert checked["plan"] is not None, checked
    assert checked["plan"]["counts"]["added"] == 3
    assert checked["next_runs"] == []
    version = overview(server)["version"]
    put = call(server, "PUT", "/api/v1/setup/syncs/vip", {"sync": fixed, "version": version})
    assert put.status_code == 200, put.text
    assert "vip" in overview(server)["syncs"]

    run = call(server, "POST", "/api/v1/syncs/vip/runs")
    assert run.status_code == 202, run.text
    run_id = run.json()["run_id"]
    deadline = time.monotonic() + 60
    while not (state := call(server, "GET", f"/api/v1/runs/{run_id}").json())["finished"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state["status"] == "success", state
    emails = {c["email"] for c in emulator.dump()["customers"]}
    assert emails == {"ada@example.com", "grace@example.com", "alan@example.com"}
    log = Path(server.log).read_text()
    assert emulator.token not in log


def test_a_stale_version_is_refused_and_nothing_is_written(tmp_path: Path, ui_server):
    directory = fresh_project(tmp_path)
    server = ui_server(directory)
    version = overview(server)["version"]
    path = directory / "bcsync.yml"
    path.write_text(path.read_text() + "# edited in an editor meanwhile\n")
    before = path.read_bytes()
    answer = call(
        server, "PUT", "/api/v1/setup/syncs/vip", {"sync": tier_sync(), "version": version}
    )
    assert answer.status_code == 409
    assert "changed on disk" in answer.json()["error"]
    assert path.read_bytes() == before


def test_an_invalid_edit_names_its_path_and_writes_nothing(tmp_path: Path, ui_server):
    directory = fresh_project(tmp_path)
    server = ui_server(directory)
    before = (directory / "bcsync.yml").read_bytes()
    sync = tier_sync() | {"mode": "merge"}
    sync["mappings"] = [*sync["mappings"], {"column": "phone"}]
    answer = call(
        server,
        "PUT",
        "/api/v1/setup/syncs/vip",
        {"sync": sync, "version": overview(server)["version"]},
    )
    assert answer.status_code == 422, answer.text
    problems = {p["path"]: p["message"] for p in answer.json()["problems"]}
    assert "syncs.vip.mode" in problems, problems
    assert "merge" in problems["syncs.vip.mode"]
    assert problems["syncs.vip.mappings[4].field"] == "field required"
    assert (directory / "bcsync.yml").read_bytes() == before
    # A request missing a key is a 422 that does not quote the token back.
    answer = call(
        server,
        "PUT",
        "/api/v1/setup/destinations/store",
        {"store_hash": "abc", "access_token": "s3cret-t0ken-xyz"},
    )
    assert answer.status_code == 422
    assert answer.json()["problems"] == [{"path": "version", "message": "Field required"}]
    assert "s3cret-t0ken-xyz" not in answer.text
    # The same edit as a check: the problems, no error.
    checked = call(server, "POST", "/api/v1/setup/syncs/check", {"name": "vip", "sync": sync})
    assert checked.status_code == 200
    assert {p["path"] for p in checked.json()["problems"]} >= {"syncs.vip.mode"}


def test_read_only_refuses_every_write(tmp_path: Path, ui_server):
    directory = fresh_project(tmp_path)
    server = ui_server(directory, "--read-only")
    version = overview(server)["version"]
    for method, path, body in (
        ("PUT", "/api/v1/setup/syncs/vip", {"sync": tier_sync(), "version": version}),
        ("PUT", "/api/v1/setup/destinations/store",
         {"store_hash": "abc", "access_token": "t0ken", "version": version}),
        ("POST", "/api/v1/setup/syncs/customers/duplicate", {"new_name": "c2", "version": version}),
        ("DELETE", f"/api/v1/setup/syncs/customers?version={version}", None),
        ("POST", "/api/v1/setup/destinations/store/attributes", {"name": "X", "type": "string"}),
    ):  # fmt: skip
        answer = call(server, method, path, body)
        assert answer.status_code == 403, (path, answer.text)
        assert "read-only" in answer.json()["error"]
    assert not (directory / ".env").exists()


def test_preview_tables_duplicate_and_delete(tmp_path: Path, ui_server):
    directory = fresh_project(tmp_path)
    with duckdb.connect(str(directory / "warehouse.duckdb")) as conn:
        conn.execute(
            "create table people as select * from (values (1, 'a'), (1, 'b'), (null, 'c'), "
            "(2, 'd')) t(id, name)"
        )
    path = directory / "bcsync.yml"
    path.write_text(path.read_text().replace('"duckdb:///:memory:"', "duckdb:///warehouse.duckdb"))
    server = ui_server(directory)

    tables = call(server, "GET", "/api/v1/setup/warehouse/tables").json()["tables"]
    assert {"schema": "main", "name": "people"} in tables

    shown = call(
        server,
        "POST",
        "/api/v1/setup/models/preview",
        {"table": "people", "primary_key": "id", "limit": 3},
    ).json()
    assert shown["columns"] == [
        {"name": "id", "type": "int32"},
        {"name": "name", "type": "string"},
    ]
    assert len(shown["rows"]) == 3
    warnings = " ".join(shown["key_warnings"])
    assert "duplicate" in warnings and "1 null" in warnings
    by_file = call(
        server,
        "POST",
        "/api/v1/setup/models/preview",
        {"file": "models/customers.sql", "primary_key": "customer_id"},
    ).json()
    assert [c["name"] for c in by_file["columns"]][:2] == ["customer_id", "email"]
    assert by_file["key_warnings"] == []
    broken = call(server, "POST", "/api/v1/setup/models/preview", {"sql": "select from where"})
    assert broken.status_code == 422
    assert broken.json()["error"].startswith("model SQL has a syntax error"), broken.text

    version = overview(server)["version"]
    copied = call(
        server,
        "POST",
        "/api/v1/setup/syncs/customers/duplicate",
        {"new_name": "customers_eu", "version": version},
    )
    assert copied.status_code == 200, copied.text
    assert "+  customers_eu:" in copied.json()["diff"]
    assert overview(server)["syncs"] == ["customers", "customers_eu"]
    deleted = call(
        server,
        "DELETE",
        f"/api/v1/setup/syncs/customers_eu?state=reset&version={copied.json()['version']}",
    )
    assert deleted.status_code == 200, deleted.text
    assert overview(server)["syncs"] == ["customers"]
    assert "customers_eu" not in path.read_text()


def test_a_check_without_plan_answers_types_but_plans_nothing(
    tmp_path: Path, emulator: Any, ui_server
):
    directory = fresh_project(tmp_path)
    server = ui_server(directory)
    save_destination(server, emulator)
    snapshot = directory / ".bcsync" / "snapshots" / "vip.duckdb"

    # The form's live check: the type mismatch and the next runs, no plan, nothing written.
    live = call(
        server,
        "POST",
        "/api/v1/setup/syncs/check",
        {"name": "vip", "sync": tier_sync("company"), "plan": False},
    )
    assert live.status_code == 200, live.text
    answer = live.json()
    assert answer["problems"] == [], answer
    assert [c["ok"] for c in answer["mapping_checks"]] == [True, True, True, True]
    assert "+  vip:" in answer["diff"]
    assert answer["plan"] is None and "plan_error" not in answer
    assert not snapshot.exists()
    assert "vip" not in overview(server)["syncs"]

    # The Review's check plans the first run (and caches the snapshot's hashes).
    review = call(
        server,
        "POST",
        "/api/v1/setup/syncs/check",
        {"name": "vip", "sync": tier_sync("company")},
    ).json()
    assert review["plan"] is not None, review
    assert review["plan"]["counts"]["added"] == 3
    assert snapshot.exists()

    wrong = call(
        server,
        "POST",
        "/api/v1/setup/syncs/check",
        {"name": "vip", "sync": tier_sync(), "plan": "later"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["problems"][0]["path"] == "plan"


def test_schedules_start_once_the_project_is_set_up_in_the_browser(
    tmp_path: Path, emulator: Any, ui_server
):
    directory = fresh_project(tmp_path)
    server = ui_server(directory)  # setup mode: no scheduler yet
    save_destination(server, emulator)
    scheduled = tier_sync("company") | {"schedule": {"every": "2s"}}
    put = call(
        server,
        "PUT",
        "/api/v1/setup/syncs/vip",
        {"sync": scheduled, "version": overview(server)["version"]},
    )
    assert put.status_code == 200, put.text

    # No restart: the schedule fires and its run sends the customers.
    deadline = time.monotonic() + 60
    while True:
        syncs = call(server, "GET", "/api/v1/syncs").json()["syncs"]
        vip = next(sync for sync in syncs if sync["name"] == "vip")
        # finished, not "not running": the scheduler's run is first queued, then runs
        if vip["last_run"] is not None and vip["last_run"]["finished"]:
            break
        assert time.monotonic() < deadline, vip
        time.sleep(0.5)
    assert vip["last_run"]["status"] == "success", vip
    assert vip["last_run"]["trigger"] == "schedule"
    emails = {c["email"] for c in emulator.dump()["customers"]}
    assert emails == {"ada@example.com", "grace@example.com", "alan@example.com"}
    assert "schedules of bcsync.yml run in this server now" in Path(server.log).read_text()


def test_no_scheduler_keeps_schedules_off_after_setup(tmp_path: Path, emulator: Any, ui_server):
    directory = fresh_project(tmp_path)
    server = ui_server(directory, "--no-scheduler")
    save_destination(server, emulator)
    scheduled = tier_sync("company") | {"schedule": {"every": "1s"}}
    version = overview(server)["version"]
    put = call(server, "PUT", "/api/v1/setup/syncs/vip", {"sync": scheduled, "version": version})
    assert put.status_code == 200, put.text
    time.sleep(3)
    vip = next(
        s for s in call(server, "GET", "/api/v1/syncs").json()["syncs"] if s["name"] == "vip"
    )
    assert vip["last_run"] is None and vip["running_run_id"] is None, vip
    assert emulator.dump()["customers"] == []
    assert "schedules of bcsync.yml" not in Path(server.log).read_text()
