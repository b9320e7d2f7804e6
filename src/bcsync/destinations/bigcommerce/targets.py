"""Write targets: the parts of a record a row writes, each confirmed on its own.

A customer row writes its native fields (one customer body), each mapped attribute value and each
mapped metafield; an order row its native fields and each metafield. Each target's hash is the
digest of exactly what would be sent for it, so a target whose payload is unchanged is not sent
again, and a row whose writes partly failed re-sends only the targets that did not land. The
snapshot keeps the confirmed hashes per row (``SnapshotEntry.landed``); a metafield's also keeps
the metafield id bcsync created or found, as ``<hash>#<id>``, so it is updated without a read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

NATIVE = "native"


def digest(payload: Any) -> str:
    """A short stable digest of a JSON payload (keys sorted)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:16]


def attribute_target(name: str) -> str:
    return f"attribute:{name}"


def metafield_target(namespace: str, key: str) -> str:
    return f"metafield:{namespace}.{key}"


def landed_hash(value: Any) -> str | None:
    return None if value is None else str(value).partition("#")[0]


def landed_id(value: Any) -> int | None:
    """The metafield id kept with a landed metafield target, if any."""
    if value is None:
        return None
    _, _, found = str(value).partition("#")
    return int(found) if found.isdigit() else None


def to_send(
    targets: Mapping[str, str], landed: Mapping[str, Any], *, complete: bool
) -> dict[str, str]:
    """The targets to write, with their hashes: those whose payload differs from what landed,
    or with ``complete`` (insert mode finishing its own create), only those that never landed."""
    if complete:
        return {name: value for name, value in targets.items() if name not in landed}
    return {
        name: value for name, value in targets.items() if landed_hash(landed.get(name)) != value
    }


def merge(
    landed: Mapping[str, Any], confirmed: Mapping[str, str], failed: Iterable[str] = ()
) -> dict[str, str]:
    """What landed after a write: the earlier targets, updated by the confirmed ones; a
    target that failed is dropped, so that the next run writes (and finds) it again."""
    merged = {name: str(value) for name, value in landed.items()}
    merged.update(confirmed)
    for name in failed:
        merged.pop(name, None)
    return merged
