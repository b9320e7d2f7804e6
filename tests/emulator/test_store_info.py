"""/v2/time and /v2/store: the cheap credential checks."""

from __future__ import annotations

import time


def test_time_is_now_in_unix_seconds(emulator):
    response = emulator.client().get("/v2/time")
    assert response.status_code == 200
    assert abs(response.json()["time"] - time.time()) < 5


def test_store_has_the_documented_fields(emulator):
    body = emulator.client().get("/v2/store").json()
    for key in ("id", "domain", "secure_url", "timezone", "currency", "plan_name", "features"):
        assert key in body
    assert body["id"] == emulator.store_hash
    assert body["timezone"]["date_format"]["display"]
