"""Metafields of customers or orders, written through the batch metafield endpoints.

A metafield's value cannot be blank (minimum length 1), so a null or empty value removes the
metafield. Existing metafields are found per record (the batch list endpoint has no resource
filter); a batch that partly fails answers 422 with the good items applied, and the failed items'
indexes become per-row errors.
"""

from __future__ import annotations

import asyncio
import decimal
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bcsync.destinations.base import RowOp
from bcsync.destinations.bigcommerce.batching import chunks
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.error_bodies import (
    applied_items,
    error_text,
    metafield_failures,
)
from bcsync.destinations.bigcommerce.fields import non_finite
from bcsync.destinations.bigcommerce.targets import digest, landed_id, metafield_target
from bcsync.errors import ApiError, RequestRejectedError, Retriable
from bcsync.run.rowhash import canonical_decimal

METAFIELD_BATCH = 25
Item = tuple[str, str, dict[str, Any]]  # (pk, label for errors, request item)


def metafield_text(value: Any) -> str | None:
    """A metafield value: text, JSON for structured values, whole numbers without ``.0``."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return canonical_decimal(value)  # every digit, never an exponent (not str(): 1E-7)
    text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    return text or None


def add_error(errors: dict[str, str], pk: str, message: str) -> None:
    errors[pk] = f"{errors[pk]}; {message}" if pk in errors else message


@dataclass(frozen=True)
class Confirmation:
    """What a write of custom-field targets settled: per pk, the targets BigCommerce confirmed
    (target → hash, with the record's id where bcsync keeps it) and the error of those it did
    not. A row is synced only when every target it had to write is confirmed."""

    confirmed: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def of(parts: Iterable[Confirmation]) -> Confirmation:
        """The parts together, in order: a pk's errors are joined, its targets merged."""
        confirmed: dict[str, dict[str, str]] = {}
        errors: dict[str, str] = {}
        for part in parts:
            for pk, targets in part.confirmed.items():
                confirmed.setdefault(pk, {}).update(targets)
            for pk, message in part.errors.items():
                add_error(errors, pk, message)
        return Confirmation(confirmed, errors)


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
            # metafield_text would write NaN as "nan", or as bare NaN inside JSON text.
            problem = non_finite(values.get(column))
            if problem:
                reasons.append(f"column '{column}' (metafield {namespace}.{key}): {problem}")
                continue
            text = metafield_text(values.get(column))
            if text is not None and len(text) > 65535:
                reasons.append(
                    f"column '{column}' (metafield {namespace}.{key}): longer than 65535 characters"
                )
        return reasons

    def targets(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Each mapped metafield's target hash (see ``targets``): the digest of its text."""
        return {
            metafield_target(namespace, key): digest(metafield_text(values.get(column)))
            for column, namespace, key in self.metafields
        }

    async def write(
        self,
        rows: Sequence[tuple[RowOp, str, Collection[str]]],
        created: set[str],
        *,
        blank: bool = False,
        overwrite: bool = True,
    ) -> Confirmation:
        """Write the wanted metafield targets of each ``(op, record id, wanted)``; confirmed
        targets are ``<hash>#<metafield id>``. A metafield whose id bcsync keeps is updated
        without a read; the others are found with ``existing`` first (not for records
        ``created`` in this run, which have none). ``blank`` removes every mapped one; without
        ``overwrite`` (insert mode) a metafield already there is left as it is."""
        if not self.metafields or not rows:
            return Confirmation()
        namespaces = sorted({ns for _, ns, _ in self.metafields})
        existing = await self.existing(self._to_read(rows, created, blank=blank), namespaces)
        confirmed: dict[str, dict[str, str]] = {}  # what needs no call
        creates: list[Item] = []
        updates: list[Item] = []
        deletes: list[tuple[str, int, str]] = []
        for op, cid, wanted in rows:
            for column, namespace, key in self.metafields:
                target = metafield_target(namespace, key)
                if not blank and target not in wanted:
                    continue
                text = None if blank else metafield_text(op.values.get(column))
                label = f"metafield {namespace}.{key}"
                found = landed_id(op.landed.get(target)) or existing.get((cid, namespace, key))
                if text is None:
                    if found is not None:
                        deletes.append((op.pk, found, target))
                    else:
                        confirmed.setdefault(op.pk, {})[target] = digest(None)
                    continue
                item = {
                    "namespace": namespace,
                    "key": key,
                    "value": text,
                    "permission_set": "app_only",
                }
                if found is not None and not overwrite:
                    confirmed.setdefault(op.pk, {})[target] = f"{digest(text)}#{found}"
                elif found is None:
                    creates.append((op.pk, label, {"resource_id": int(cid), **item}))
                else:
                    # Order metafield PUTs need every field, not just the changed value.
                    updates.append((op.pk, label, {"id": found, **item}))
        tasks = [self._metafield_batch("POST", c) for c in chunks(creates, METAFIELD_BATCH)]
        tasks += [self._metafield_batch("PUT", c) for c in chunks(updates, METAFIELD_BATCH)]
        tasks += [self._metafield_delete(part) for part in chunks(deletes, METAFIELD_BATCH)]
        return Confirmation.of([Confirmation(confirmed), *await asyncio.gather(*tasks)])

    def _to_read(
        self,
        rows: Sequence[tuple[RowOp, str, Collection[str]]],
        created: set[str],
        *,
        blank: bool,
    ) -> list[str]:
        """The record ids whose metafields ``write`` must read first: those not ``created`` in
        this run with a wanted (or, when ``blank``, any) metafield whose id bcsync does not keep."""
        return sorted(
            {
                cid
                for op, cid, wanted in rows
                if op.pk not in created
                and any(
                    landed_id(op.landed.get(metafield_target(ns, key))) is None
                    for _, ns, key in self.metafields
                    if blank or metafield_target(ns, key) in wanted
                )
            }
        )

    async def _metafield_batch(self, method: str, items: Sequence[Item]) -> Confirmation:
        try:
            response = await self.client.request(
                method,
                f"/v3/{self.resource}/metafields",
                json=[item for _, _, item in items],
                pks=sorted({pk for pk, _, _ in items}),
                write_kind="create" if method == "POST" else "write",
            )
            failed: dict[int, str] = {}
            data = response.body.get("data") if isinstance(response.body, dict) else None
        except RequestRejectedError as exc:
            # A batch that partly fails applies the good items and names the bad ones.
            failed = metafield_failures(exc.body) or dict.fromkeys(
                range(len(items)), error_text(exc.body, str(exc))
            )
            data = applied_items(exc.body)
        except ApiError as exc:
            if not isinstance(exc, Retriable):
                raise
            # No answer (or a server error after retries): unconfirmed, so written again (and
            # found first) next run; a create that did land is found by that read.
            failed = dict.fromkeys(range(len(items)), f"BigCommerce did not confirm: {exc}")
            data = None
        ids = {
            (str(mf.get("resource_id")), mf.get("namespace"), mf.get("key")): mf.get("id")
            for mf in data or []
            if isinstance(mf, dict)
        }
        confirmed: dict[str, dict[str, str]] = {}
        errors: dict[str, str] = {}
        for index, (pk, label, item) in enumerate(items):
            if index in failed:
                add_error(errors, pk, f"{label}: {failed[index]}")
                continue
            found = item.get("id") or ids.get(
                (str(item.get("resource_id")), item["namespace"], item["key"])
            )
            target = metafield_target(item["namespace"], item["key"])
            value = digest(item["value"])
            confirmed.setdefault(pk, {})[target] = f"{value}#{found}" if found else value
        return Confirmation(confirmed, errors)

    async def _metafield_delete(self, items: Sequence[tuple[str, int, str]]) -> Confirmation:
        try:
            await self.client.request(
                "DELETE",
                f"/v3/{self.resource}/metafields",
                json=[mid for _, mid, _ in items],
                pks=sorted({pk for pk, _, _ in items}),
                write_kind="write",
            )
        except ApiError as exc:
            if not isinstance(exc, RequestRejectedError | Retriable):
                raise
            message = f"removing metafields: {error_text(exc.body, str(exc))}"
            errors: dict[str, str] = {}
            for pk, _, _ in items:
                add_error(errors, pk, message)
            return Confirmation(errors=errors)
        confirmed: dict[str, dict[str, str]] = {}
        for pk, _, target in items:
            confirmed.setdefault(pk, {})[target] = digest(None)
        return Confirmation(confirmed)
