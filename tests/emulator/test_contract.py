"""The contract checker itself: it must catch what the OpenAPI files forbid."""

from __future__ import annotations

import asyncio

import httpx

from tests.fixtures.contract import DEVIATIONS, ContractChecker

BASE = "http://127.0.0.1:9/stores/abc"


def exchange(method, path, status, body=None, request_json=None, headers=None):
    request = httpx.Request(
        method, BASE + path, json=request_json, headers={"X-Auth-Token": "t", **(headers or {})}
    )
    if body is None:
        response = httpx.Response(status, request=request)
    else:
        response = httpx.Response(status, json=body, request=request)
    return request, response


def test_a_wrong_response_body_is_a_violation():
    checker = ContractChecker()
    (violation,) = checker.check(*exchange("GET", "/v2/time", 200, {"time": "soon"}))
    assert violation.side == "response"
    assert "time" in violation.problem


def test_a_valid_exchange_passes():
    checker = ContractChecker()
    assert checker.check(*exchange("GET", "/v2/time", 200, {"time": 1})) == []


def test_an_accepted_invalid_request_is_a_violation():
    checker = ContractChecker()
    good_answer = {"data": [], "meta": {}}
    problems = checker.check(*exchange("POST", "/v3/customers", 200, good_answer, [{"email": "x"}]))
    assert [p.side for p in problems] == ["request"]


def test_a_refused_invalid_request_is_fine_unless_strict():
    error = {"status": 422, "title": "bad", "type": "t", "errors": {"0.email": "short"}}
    assert (
        ContractChecker().check(*exchange("POST", "/v3/customers", 422, error, [{"email": "x"}]))
        == []
    )
    strict = ContractChecker(strict_requests=True)
    assert strict.check(*exchange("POST", "/v3/customers", 422, error, [{"email": "x"}]))


def test_undocumented_errors_must_have_the_generic_shape():
    checker = ContractChecker()
    assert (
        checker.check(*exchange("GET", "/v2/orders/1", 404, [{"status": 404, "message": "nope"}]))
        == []
    )
    assert checker.check(*exchange("GET", "/v2/time", 500, {"oops": True}))
    assert checker.check(*exchange("GET", "/v3/customers", 500, {"status": 502, "title": "x"}))


def test_served_paths_outside_the_api_are_violations():
    checker = ContractChecker()
    assert checker.check(*exchange("GET", "/v3/widgets", 200, {"data": []}))
    assert checker.check(*exchange("GET", "/v3/widgets", 404, {"status": 404, "title": "x"})) == []


def test_204_must_be_empty():
    checker = ContractChecker()
    request = httpx.Request("DELETE", BASE + "/v3/customers?id:in=1", headers={"X-Auth-Token": "t"})
    response = httpx.Response(
        204, content=b"{}", headers={"Content-Type": "application/json"}, request=request
    )
    assert len(checker.check(request, response)) == 2


def test_every_deviation_gives_its_reason():
    assert len(DEVIATIONS) >= 5
    for deviation in DEVIATIONS:
        assert deviation.reason and deviation.change and deviation.where


def test_hooks_work_on_sync_and_async_clients(emulator):
    checker = ContractChecker()
    with httpx.Client(
        base_url=emulator.store_url, headers=emulator.headers(), event_hooks=checker.event_hooks()
    ) as c:
        c.get("/v2/time")

    async def run():
        async with httpx.AsyncClient(
            base_url=emulator.store_url,
            headers=emulator.headers(),
            event_hooks=checker.async_event_hooks(),
        ) as c:
            await c.get("/v3/customers")

    asyncio.run(run())
    assert checker.checked == 2
    assert checker.violations == []
