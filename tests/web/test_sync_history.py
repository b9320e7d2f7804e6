"""The Sync page's run history splits added, changed and removed rows into succeeded and
rejected, as the run store records them at each checkpoint (and the API's run JSON says)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.web.test_run_page import customer, run_json, run_with_problems


def test_each_kind_of_row_is_split_into_succeeded_and_rejected(
    sync_project: Any, ui_server: Any
) -> None:
    first = run_with_problems(sync_project, sync_project.emulator)  # 8 created, 2 rejected
    rows = [customer(n) for n in range(1, 11) if n not in (5, 6)]  # 5 and 6 leave the model
    sync_project.load("customers", rows)
    second = run_json(sync_project)
    server = ui_server(sync_project.dir)

    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        api_first = client.get(f"/api/v1/runs/{first['run_id']}").json()
        api_second = client.get(f"/api/v1/runs/{second['run_id']}").json()
        page = client.get("/syncs/customers").text

    assert api_first["sent"] == {
        "added": {"succeeded": 8, "rejected": 2},
        "changed": {"succeeded": 0, "rejected": 0},
        "removed": {"succeeded": 0, "rejected": 0},
    }
    # The second run retries the two rejected rows (rejected again: the emails are still
    # taken) and lets the two rows that left go (on_delete: nothing).
    assert api_second["sent"]["removed"] == {"succeeded": 2, "rejected": 0}
    assert api_second["sent"]["added"]["rejected"] + api_second["sent"]["changed"]["rejected"] == 2

    rows_html = re.findall(r"<tr>.*?</tr>", page, re.S)
    first_row = next(r for r in rows_html if first["run_id"][:8] in r)
    cells = [
        re.sub(r"<[^>]+>", " ", c).split()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", first_row, re.S)
    ]
    assert ["10", "8", "ok", "·", "2", "rejected"] in cells  # added: 10, of which 8 ok, 2 rejected
    second_row = next(r for r in rows_html if second["run_id"][:8] in r)
    assert "2 ok" in re.sub(r"<[^>]+>", "", second_row)
