"""Customer custom fields: attribute values, form fields and metafields.

Attribute values go through ``/v3/customers/attribute-values`` (upsert, 10 to a request) after
the customer itself is written; form fields ride inside the customer body; metafields go through
the batch metafield endpoints. Clearing removes attribute values and metafields through their own
endpoints (a metafield's value cannot be blank).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from bcsync.destinations.base import Problem, RowOp
from bcsync.destinations.bigcommerce.batching import bisect, chunks, error_text
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.fields import FieldSpec, ValueProblem, column_kind, convert
from bcsync.destinations.bigcommerce.metafields import Item, MetafieldWriter, add_error
from bcsync.errors import RequestRejectedError

VALUE_BATCH = 10
ATTRIBUTE_SPECS = {
    "string": FieldSpec("attribute", "string", 0, 255),
    "number": FieldSpec("attribute", "number"),
    "date": FieldSpec("attribute", "date"),
}


def _attribute_text(kind: str, value: Any) -> str:
    converted = convert(ATTRIBUTE_SPECS.get(kind, ATTRIBUTE_SPECS["string"]), value)
    if isinstance(converted, float) and converted.is_integer():
        return str(int(converted))
    return str(converted)


class CustomerExtras:
    """Mapped attributes, form fields and metafields of one customers sync."""

    def __init__(self, client: BigCommerceClient) -> None:
        self.client = client
        self.attributes: list[tuple[str, str]] = []  # (column, attribute name)
        self.form_fields: list[tuple[str, str]] = []  # (column, form field name)
        self.metafields: list[tuple[str, str, str]] = []  # (column, namespace, key)
        self.attribute_defs: dict[str, tuple[int, str]] = {}  # name -> (id, type)
        self.metafield_writer = MetafieldWriter(client, "customers", self.metafields)

    # -- checks ------------------------------------------------------------------------------

    async def load_attributes(
        self, column_types: Mapping[str, str], create_missing: bool, *, dry_run: bool = False
    ) -> list[Problem]:
        """Read the store's attribute definitions; create the missing ones if allowed (not in a
        dry run, where they are only assumed)."""
        if not self.attributes:
            return []
        self.attribute_defs = {}
        async for page in self.client.get_all(
            "/v3/customers/attributes", params={"limit": "250"}, v=3
        ):
            for attribute in page:
                self.attribute_defs[attribute["name"]] = (int(attribute["id"]), attribute["type"])
        problems: list[Problem] = []
        wanted: dict[str, str] = {}
        for column, name in self.attributes:
            kind = column_kind(column_types.get(column, "string"))
            if name in self.attribute_defs:
                attr_type = self.attribute_defs[name][1]
                if attr_type == "number" and kind not in ("integer", "number"):
                    problems.append(
                        Problem(
                            f"attribute '{name}' is a number attribute but column '{column}' "
                            f"holds {column_types.get(column)}"
                        )
                    )
                if attr_type == "date" and kind not in ("date", "string"):
                    problems.append(
                        Problem(
                            f"attribute '{name}' is a date attribute but column '{column}' "
                            f"holds {column_types.get(column)}"
                        )
                    )
            elif create_missing:
                wanted[name] = {"integer": "number", "number": "number", "date": "date"}.get(
                    kind, "string"
                )
            else:
                problems.append(
                    Problem(
                        f"customer attribute '{name}' does not exist in the store; create it in "
                        "BigCommerce or set create_missing_attributes: true"
                    )
                )
        if wanted and (dry_run or problems):  # create nothing in a run that will not go on
            for index, (name, kind) in enumerate(wanted.items()):
                self.attribute_defs[name] = (-1 - index, kind)
        elif wanted:
            response = await self.client.request(
                "POST",
                "/v3/customers/attributes",
                json=[{"name": name, "type": kind} for name, kind in wanted.items()],
                write_kind="create",
            )
            for attribute in response.body["data"]:
                self.attribute_defs[attribute["name"]] = (int(attribute["id"]), attribute["type"])
        return problems

    def validate(self, values: Mapping[str, Any]) -> list[str]:
        reasons = []
        for column, name in self.attributes:
            kind = self.attribute_defs.get(name, (0, "string"))[1]
            try:
                if values.get(column) is not None:
                    _attribute_text(kind, values.get(column))
            except ValueProblem as exc:
                reasons.append(f"column '{column}' (attribute {name}, {kind}): {exc}")
        reasons.extend(self.metafield_writer.validate(values))
        return reasons

    def form_field_values(self, values: Mapping[str, Any], *, create: bool) -> list[dict[str, Any]]:
        fields = []
        for column, name in self.form_fields:
            value = values.get(column)
            if value is None and create:
                continue
            if isinstance(value, (list, tuple)):
                value = [str(v) for v in value]
            elif isinstance(value, bool) or value is None:
                value = "" if value is None else str(value).lower()
            elif not isinstance(value, (int, float, str)):
                value = str(value)
            fields.append({"name": name, "value": value})
        return fields

    def form_field_blanks(self) -> list[dict[str, Any]]:
        return [{"name": name, "value": ""} for _, name in self.form_fields]

    # -- writing -----------------------------------------------------------------------------

    async def write(self, rows: Sequence[tuple[RowOp, str]], created: set[str]) -> dict[str, str]:
        """Write attribute values and metafields for customers just created or updated.
        Returns an error message per pk whose custom fields did not all land."""
        errors: dict[str, str] = {}
        items: list[Item] = []
        to_delete: list[tuple[str, int, int]] = []
        for op, customer_id in rows:
            for column, name in self.attributes:
                attribute_id, kind = self.attribute_defs[name]
                value = op.values.get(column)
                if value is None:
                    if op.pk not in created:
                        to_delete.append((op.pk, int(customer_id), attribute_id))
                    continue
                item = {
                    "customer_id": int(customer_id),
                    "attribute_id": attribute_id,
                    "value": _attribute_text(kind, value),
                }
                items.append((op.pk, f"attribute '{name}'", item))
        await asyncio.gather(
            self._put_values(items, errors),
            self._delete_values(to_delete, errors),
            self.metafield_writer.write(rows, created, errors),
        )
        return errors

    async def clear(self, rows: Sequence[tuple[RowOp, str]]) -> dict[str, str]:
        errors: dict[str, str] = {}
        pairs = [
            (op.pk, int(cid), self.attribute_defs[name][0])
            for op, cid in rows
            for _, name in self.attributes
            if name in self.attribute_defs
        ]
        blank_rows = [(op, cid) for op, cid in rows]
        await asyncio.gather(
            self._delete_values(pairs, errors),
            self.metafield_writer.write(blank_rows, set(), errors, blank=True),
        )
        return errors

    async def _put_values(self, items: Sequence[Item], errors: dict[str, str]) -> None:
        def reject(item: Item, message: str) -> None:
            add_error(errors, item[0], f"{item[1]}: {message}")

        async def send(part: Sequence[Item]) -> None:
            await self.client.request(
                "PUT",
                "/v3/customers/attribute-values",
                json=[item for _, _, item in part],
                pks=sorted({pk for pk, _, _ in part}),
                write_kind="write",
            )

        await asyncio.gather(*(bisect(c, send, reject) for c in chunks(items, VALUE_BATCH)))

    async def _delete_values(
        self, pairs: Sequence[tuple[str, int, int]], errors: dict[str, str]
    ) -> None:
        """Remove the attribute values of (customer, attribute) pairs."""
        if not pairs:
            return
        pk_of = {(cid, aid): pk for pk, cid, aid in pairs}
        value_ids: list[tuple[str, int]] = []
        for part in chunks(sorted({cid for _, cid, _ in pairs}), 50):
            params = {
                "customer_id:in": ",".join(map(str, part)),
                "attribute_id:in": ",".join(sorted({str(aid) for _, _, aid in pairs})),
                "limit": "250",
            }
            async for page in self.client.get_all(
                "/v3/customers/attribute-values", params=params, v=3
            ):
                for value in page:
                    key = (int(value["customer_id"]), int(value["attribute_id"]))
                    if key in pk_of:
                        value_ids.append((pk_of[key], int(value["id"])))
        for part2 in chunks(value_ids, 50):
            try:
                await self.client.request(
                    "DELETE",
                    "/v3/customers/attribute-values",
                    params={"id:in": ",".join(str(vid) for _, vid in part2)},
                    pks=sorted({pk for pk, _ in part2}),
                    write_kind="write",
                )
            except RequestRejectedError as exc:
                for pk, _ in part2:
                    add_error(
                        errors, pk, f"removing attribute values: {error_text(exc.body, str(exc))}"
                    )
