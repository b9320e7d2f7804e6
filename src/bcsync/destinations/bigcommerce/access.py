"""Checking a store hash and access token before they are saved (the destination form).

One read per object a sync can write: customers, orders, and the store's information. What
BigCommerce answers is explained as ``bcsync check`` explains it (the client's ``AuthError``
messages), with what to do next. BigCommerce does not tell a token its scopes, so ``scopes``
lists the ones a read proved; whether a scope is "modify" rather than "read-only" only a write
would show, and nothing is written here. The token never appears in a report: the client
scrubs it from every message.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.errors import ApiError, AuthError, TransportError

# (path read, BigCommerce scope it proves, what it lets bcsync do)
PROBES = (
    ("/v3/customers", "store_v2_customers", "customers"),
    ("/v2/orders", "store_v2_orders", "orders"),
    ("/v2/store", "store_v2_information", "store information"),
)
PROBE_TIMEOUT = 15.0

UNAUTHORIZED = (
    "BigCommerce answered 401 Unauthorized: it does not know this access token (mistyped, "
    "revoked, or the client secret or id pasted instead). Create a store-level API account in "
    "the control panel (Settings › Store-level API accounts) and paste its access token."
)
FORBIDDEN_ALL = (
    "BigCommerce answered 403 Forbidden to every read: the store hash does not belong to this "
    "token, or the token has none of the Customers, Orders or Information scopes. The store "
    "hash is the part after /stores/ in the API path the API account shows."
)


@dataclass(frozen=True)
class AccessReport:
    ok: bool
    status: int | None  # BigCommerce's status of the deciding answer; None: no answer
    explanation: str
    scopes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "explanation": self.explanation,
            "scopes": list(self.scopes),
            "problems": list(self.problems),
        }


def check_access(
    store_hash: str,
    access_token: str,
    api_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AccessReport:
    """Read once per probe and explain the answers (blocking; runs its own event loop)."""
    if not store_hash.strip() or not access_token.strip():
        return AccessReport(False, None, "give both the store hash and the access token")
    return asyncio.run(_check(store_hash.strip(), access_token.strip(), api_url, transport))


async def _check(
    store_hash: str, token: str, api_url: str, transport: httpx.AsyncBaseTransport | None
) -> AccessReport:
    client = BigCommerceClient(
        api_url=api_url,
        store_hash=store_hash,
        access_token=token,
        timeout=PROBE_TIMEOUT,
        max_attempts=1,  # a form waits for this: one try, and the answer explained
        transport=transport,
    )
    scopes: list[str] = []
    problems: list[str] = []
    refused: list[int | None] = []
    async with client:
        for path, scope, what in PROBES:
            try:
                await client.request("GET", path, params={"limit": "1"})
            except AuthError as exc:
                if exc.status == 401:
                    return AccessReport(False, 401, UNAUTHORIZED)
                refused.append(exc.status)
                problems.append(
                    f"the token cannot read {what} ({exc.status}): add the {scope} scope "
                    f"to the API account to sync {what}"
                )
            except TransportError as exc:
                return AccessReport(
                    False,
                    None,
                    f"could not reach {client.api_url}: check the API URL ({exc})",
                )
            except ApiError as exc:
                if exc.status == 404 and path == "/v3/customers":
                    return AccessReport(
                        False,
                        404,
                        f"BigCommerce answered 404 Not Found: no store {store_hash!r} at "
                        f"{client.api_url} (check the store hash and the API URL)",
                    )
                problems.append(f"reading {what} failed: {exc}")
            else:
                scopes.append(scope)
    syncable = {"store_v2_customers", "store_v2_orders"} & set(scopes)
    if not scopes and refused:
        return AccessReport(False, refused[0], FORBIDDEN_ALL, scopes, problems)
    if not syncable:
        return AccessReport(
            False, None, "the token can read neither customers nor orders", scopes, problems
        )
    readable = ", ".join(what for _, scope, what in PROBES if scope in scopes)
    return AccessReport(
        True,
        200,
        f"BigCommerce accepted the token for store {store_hash!r}: it can read {readable}. "
        "Writing needs the scope's modify level, which only a run shows.",
        scopes,
        problems,
    )
