"""The live debugger: API calls recorded, shown per row, exported as HAR, never the token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import UPSERT_BY_EMAIL, customer

# The parts of HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) that every entry must
# have, written as a JSON schema so the export is checked field by field.
_NAME_VALUE = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "value"],
        "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
    },
}
HAR_SCHEMA = {
    "type": "object",
    "required": ["log"],
    "properties": {
        "log": {
            "type": "object",
            "required": ["version", "creator", "entries"],
            "properties": {
                "version": {"const": "1.2"},
                "creator": {"type": "object", "required": ["name", "version"]},
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "startedDateTime", "time", "request", "response", "cache", "timings",
                        ],
                        "properties": {
                            "startedDateTime": {"type": "string", "format": "date-time"},
                            "time": {"type": "number", "minimum": 0},
                            "request": {
                                "type": "object",
                                "required": [
                                    "method", "url", "httpVersion", "cookies", "headers",
                                    "queryString", "headersSize", "bodySize",
                                ],
                                "properties": {
                                    "headers": _NAME_VALUE,
                                    "queryString": _NAME_VALUE,
                                    "postData": {
                                        "type": "object",
                                        "required": ["mimeType", "text"],
                                    },
                                },
                            },
                            "response": {
                                "type": "object",
                                "required": [
                                    "status", "statusText", "httpVersion", "cookies", "headers",
                                    "content", "redirectURL", "headersSize", "bodySize",
                                ],
                                "properties": {
                                    "status": {"type": "integer"},
                                    "headers": _NAME_VALUE,
                                    "content": {
                                        "type": "object",
                                        "required": ["size", "mimeType"],
                                    },
                                },
                            },
                            "timings": {
                                "type": "object",
                                "required": ["send", "wait", "receive"],
                            },
                        },
                    },
                },
            },
        }
    },
}  # fmt: skip


def test_debug_shows_the_failing_call_for_a_row_and_exports_har(
    sync_project: SyncProject, emulator: Any, tmp_path: Path
) -> None:
    import jsonschema

    with emulator.client() as http:
        http.post(
            "/v3/customers",
            json=[{"email": "user3@example.com", "first_name": "Taken", "last_name": "Already"}],
        )
    # A 429 is a definite "not applied", so the create is retried (a 5xx would be settled by
    # a look-up first: see the customers sync tests).
    emulator.faults([{"method": "POST", "path": "/v3/customers", "status": 429, "times": 1}])
    sync_project.load("customers", [customer(n) for n in range(1, 6)])
    sync_project.configure(UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert"))
    ran = sync_project.cli("run", "customers", "--json")
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["status"] == "warning"
    assert [r["pk"] for r in run["rejected_rows"]] == ["3"]

    shown = sync_project.cli("debug", run["run_id"], "--pk", "3", "--json")
    assert shown.returncode == 0, shown.stderr
    debug = json.loads(shown.stdout)
    assert debug["row"]["outcome"] == "rejected"
    calls = debug["calls"]
    assert all("3" in call["pks"] for call in calls)
    statuses = [call["status"] for call in calls]
    assert statuses[0] == 429  # the injected failure, then the retry
    assert 422 in statuses  # BigCommerce's answer that rejected the row
    rejected = next(call for call in calls if call["status"] == 422)
    assert rejected["method"] == "POST" and rejected["path"] == "/v3/customers"
    assert "user3@example.com" in rejected["request_body"]
    assert "email" in rejected["response_body"].lower()
    request_headers = {k.lower(): v for k, v in rejected["request_headers"].items()}
    assert request_headers["x-auth-token"] == "***"
    assert "x-rate-limit-requests-left" in {k.lower() for k in rejected["response_headers"]}

    table = sync_project.cli("debug", run["run_id"])
    assert table.returncode == 0, table.stderr
    assert "POST" in table.stdout and "/v3/customers" in table.stdout and "422" in table.stdout

    har_path = tmp_path / "run.har"
    exported = sync_project.cli("debug", run["run_id"], "--har", str(har_path))
    assert exported.returncode == 0, exported.stderr
    har = json.loads(har_path.read_text())
    jsonschema.validate(har, HAR_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert len(har["log"]["entries"]) == run["api_calls"]
    urls = {entry["request"]["url"] for entry in har["log"]["entries"]}
    assert f"{emulator.api_url}/stores/{emulator.store_hash}/v3/customers" in urls

    everything = har_path.read_text() + shown.stdout + table.stdout + ran.stdout + ran.stderr
    assert emulator.token not in everything
    for path in (sync_project.dir / ".bcsync").rglob("*"):
        if path.is_file():
            assert emulator.token.encode() not in path.read_bytes(), path


def test_recorded_calls_older_than_the_retention_are_pruned(
    sync_project: SyncProject, emulator: Any
) -> None:
    import datetime as dt

    from bcsync.state import ApiCallRecord, RunStore

    sync_project.load("customers", [customer(1)])
    sync_project.configure(UPSERT_BY_EMAIL, extra="debugger: {retention_days: 7}\n")
    store = RunStore.open(sync_project.state_url)
    old_run = store.start_run("customers")
    now = dt.datetime.now(dt.UTC)
    store.add_api_calls(
        old_run,
        [
            ApiCallRecord(seq=1, started_at=now - dt.timedelta(days=8), duration_ms=1.0,
                          method="GET", path="/v3/customers"),
            ApiCallRecord(seq=2, started_at=now - dt.timedelta(days=6), duration_ms=1.0,
                          method="GET", path="/v3/customers"),
        ],
    )  # fmt: skip
    store.finish_run(old_run, "success", counts={}, api_calls=2)

    result = sync_project.run("customers")
    assert result.status == "success", result.error
    assert [call.seq for call in store.api_calls(old_run)] == [2]
    assert len(store.api_calls(result.run_id)) == result.api_calls > 0
    store.close()
