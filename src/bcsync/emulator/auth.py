"""Token and scope checks: 401 without a known ``X-Auth-Token``, 403 without the scope."""

from __future__ import annotations

from starlette.responses import Response

from bcsync.emulator.responses import MISSING_SCOPE_TITLE, v3_error
from bcsync.emulator.settings import ALL_SCOPES, EmulatorSettings

# Longest prefix first; paths are relative to /stores/{store_hash}.
_SCOPE_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("/v3/customers", "store_v2_customers"),
    ("/v2/customers", "store_v2_customers"),
    ("/v2/customer_groups", "store_v2_customers"),
    ("/v2/orders", "store_v2_orders"),
    ("/v2/order_statuses", "store_v2_orders"),
    ("/v3/orders", "store_v2_orders"),
    ("/v2/store", "store_v2_information"),
    ("/v2/time", "store_v2_information"),
)

_READ_METHODS = frozenset({"GET", "HEAD"})


def required_scope(path: str) -> str | None:
    """The modify scope guarding ``path`` (e.g. ``store_v2_customers``), or None if unguarded."""
    for prefix, scope in _SCOPE_BY_PREFIX:
        if path == prefix or path.startswith(prefix + "/"):
            return scope
    return None


def scopes_for(settings: EmulatorSettings, token: str | None) -> frozenset[str] | None:
    """The scopes a token carries, or None for a missing or unknown token."""
    if not token:
        return None
    if token == settings.token:
        return ALL_SCOPES
    return settings.extra_tokens.get(token)


def unauthorized() -> Response:
    return v3_error(401, "Unauthorized")


def missing_scope() -> Response:
    return v3_error(403, MISSING_SCOPE_TITLE)


def allowed(scopes: frozenset[str], method: str, path: str) -> bool:
    """Whether ``scopes`` let ``method`` reach ``path``; read-only scopes allow only GET/HEAD."""
    scope = required_scope(path)
    if scope is None:
        return True
    if scope in scopes:
        return True
    return method in _READ_METHODS and f"{scope}_read_only" in scopes
