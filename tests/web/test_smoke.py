"""`bcsync serve` starts on a synced project and Chromium shows its syncs."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.web import VIP_CUSTOMERS

CUSTOMERS = VIP_CUSTOMERS


def test_the_syncs_page_lists_the_project_s_syncs(sync_project: Any, ui_server: Any, page: Any):
    sync_project.load(
        "customers",
        [{"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "L"}],
    )
    sync_project.configure(CUSTOMERS)
    assert sync_project.cli("run", "vip_customers").returncode == 0
    server = ui_server(sync_project.dir)

    page.goto(server.url("/"))

    assert page.get_by_role("heading", name="Syncs").is_visible()
    row = page.get_by_role("row").filter(has_text="vip_customers")
    assert "success" in row.inner_text()
    assert httpx.get(server.url("/api/v1/openapi.json")).json()["info"]["title"] == "bcsync"
