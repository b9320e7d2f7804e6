"""Metafields of customers or orders, written through the batch metafield endpoints.

A metafield's value cannot be blank (minimum length 1), so a null or empty value removes the
metafield. Existing metafields are found per record (the batch list endpoint has no resource
filter); a batch that partly fails answers 422 with the good items applied, and the failed items'
indexes become per-row errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from bcsync.destinations.base import RowOp
from bcsync.destinations.bigcommerce.batching import chunks, error_text
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.errors import RequestRejectedError

METAFIELD_BATCH = 25
Item = tuple[str, str, dict[str, Any]]  # (pk, label for errors, request item)


def metafield_text(value: Any) -> str | None:
    """A metafield value: text, JSON for structured values, whole numbers without ``.0``."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    return text or None


def failed_indexes(body: Any) -> dict[int, str]:
    """Item indexes named in a metafield batch error (``errors[].errors`` keyed by index)."""
    failed: dict[int, str] = {}
    if not isinstance(body, dict):
        return failed
    for error in body.get("errors") or []:
        if isinstance(error, dict) and isinstance(error.get("errors"), dict):
            for key, message in error["errors"].items():
                if str(key).isdigit():
                    failed[int(key)] = str(message)
    return failed


def add_error(errors: dict[str, str], pk: str, message: str) -> None:
    errors[pk] = f"{errors[pk]}; {message}" if pk in errors else message


class MetafieldWriter:
    """Writes the mapped ``metafields.<namespace>.<key>`` of one sync."""

    def __init__(
        self,
        client: BigCommerceClient,
        resource: Literal["customers", "orders"],
        mappings: Sequence[tuple[str, str, str]],  # (column, namespace, key), shared with owner
    ) -> None:
        self.client = client
        self.resource = resource
        self.metafields = mappings

    async def existing(
        self, record_ids: Sequence[str], namespaces: Sequence[str]
    ) -> dict[tuple[str, str, str], int]:
        """Ids of the mapped metafields that ``record_ids`` already have, keyed by
        (record id, namespace, key), in as few calls as possible.

        The store-wide list (filtered by namespace and key) costs one call per 250 metafields;
        reading per record costs one call per record. The first page of the list says how many
        pages there are, so the cheaper way is chosen after one call."""
        found: dict[tuple[str, str, str], int] = {}
        if not record_ids:
            return found
        wanted = set(record_ids)
        keys = sorted({key for _, _, key in self.metafields})
        params = {"namespace:in": ",".join(namespaces), "key:in": ",".join(keys), "limit": "250"}
        if len(record_ids) > 1:
            first = await self.client.request(
                "GET", f"/v3/{self.resource}/metafields", params={**params, "page": "1"}
            )
            body = first.body if isinstance(first.body, dict) else {}
            pages = int(((body.get("meta") or {}).get("pagination") or {}).get("total_pages") or 1)
            if pages - 1 <= len(record_ids):
                listed = list(body.get("data") or [])
                for page in range(2, pages + 1):
                    more = await self.client.request(
                        "GET",
                        f"/v3/{self.resource}/metafields",
                        params={**params, "page": str(page)},
                    )
                    listed.extend((more.body or {}).get("data") or [])
                for mf in listed:
                    record = str(mf.get("resource_id"))
                    if record in wanted:
                        found[(record, mf["namespace"], mf["key"])] = int(mf["id"])
                return found

        async def read(record_id: str) -> None:
            async for page in self.client.get_all(
                f"/v3/{self.resource}/{record_id}/metafields",
                params={"namespace:in": ",".join(namespaces), "limit": "250"},
                v=3,
            ):
                for mf in page:
                    found[(record_id, mf["namespace"], mf["key"])] = int(mf["id"])

        await asyncio.gather(*(read(record_id) for record_id in record_ids))
        return found

    def validate(self, values: Mapping[str, Any]) -> list[str]:
        reasons = []
        for column, namespace, key in self.metafields:
            text = metafield_text(values.get(column))
            if text is not None and len(text) > 65535:
                reasons.append(
                    f"column '{column}' (metafield {namespace}.{key}): longer than 65535 characters"
                )
        return reasons

    async def write(
        self,
        rows: Sequence[tuple[RowOp, str]],
        created: set[str],
        errors: dict[str, str],
        *,
        blank: bool = False,
    ) -> None:
        if not self.metafields or not rows:
            return
        namespaces = sorted({ns for _, ns, _ in self.metafields})
        to_read = sorted({cid for op, cid in rows if op.pk not in created})
        existing = await self.existing(to_read, namespaces)
        creates: list[Item] = []
        updates: list[Item] = []
        deletes: list[tuple[str, int]] = []
        for op, cid in rows:
            for column, namespace, key in self.metafields:
                text = None if blank else metafield_text(op.values.get(column))
                label = f"metafield {namespace}.{key}"
                found = existing.get((cid, namespace, key))
                if text is None:
                    if found is not None:
                        deletes.append((op.pk, found))
                elif found is None:
                    item = {
                        "resource_id": int(cid),
                        "namespace": namespace,
                        "key": key,
                        "value": text,
                        "permission_set": "app_only",
                    }
                    creates.append((op.pk, label, item))
                else:
                    # Order metafield PUTs need every field, not just the changed value.
                    item = {
                        "id": found,
                        "namespace": namespace,
                        "key": key,
                        "value": text,
                        "permission_set": "app_only",
                    }
                    updates.append((op.pk, label, item))
        tasks = [self._metafield_batch("POST", c, errors) for c in chunks(creates, METAFIELD_BATCH)]
        tasks += [self._metafield_batch("PUT", c, errors) for c in chunks(updates, METAFIELD_BATCH)]
        for part in chunks(deletes, METAFIELD_BATCH):
            tasks.append(self._metafield_delete(part, errors))
        await asyncio.gather(*tasks)

    async def _metafield_batch(
        self, method: str, items: Sequence[Item], errors: dict[str, str]
    ) -> None:
        try:
            await self.client.request(
                method,
                f"/v3/{self.resource}/metafields",
                json=[item for _, _, item in items],
                pks=sorted({pk for pk, _, _ in items}),
                write_kind="create" if method == "POST" else "write",
            )
        except RequestRejectedError as exc:
            failed = failed_indexes(exc.body)
            for index, (pk, label, _) in enumerate(items):
                if not failed or index in failed:
                    message = failed.get(index) or error_text(exc.body, str(exc))
                    add_error(errors, pk, f"{label}: {message}")

    async def _metafield_delete(
        self, items: Sequence[tuple[str, int]], errors: dict[str, str]
    ) -> None:
        try:
            await self.client.request(
                "DELETE",
                f"/v3/{self.resource}/metafields",
                json=[mid for _, mid in items],
                pks=sorted({pk for pk, _ in items}),
                write_kind="write",
            )
        except RequestRejectedError as exc:
            for pk, _ in items:
                add_error(errors, pk, f"removing metafields: {error_text(exc.body, str(exc))}")
