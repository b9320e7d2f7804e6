"""Customer custom fields: attribute values, form fields, metafields, consent and addresses.

Attribute values go through ``/v3/customers/attribute-values`` (upsert, 10 to a request) after
the customer itself is written; form fields ride inside the customer body; metafields go through
the batch metafield endpoints; consent goes through its own endpoint (``customer_consent``);
addresses ride nested in a create and go through ``/v3/customers/addresses`` after
(``customer_addresses``).
Clearing removes attribute values and metafields through their own
endpoints (a metafield's value cannot be blank).
"""

from __future__ import annotations

import asyncio
import decimal
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from bcsync.destinations.base import Problem, RowOp
from bcsync.destinations.bigcommerce.batching import bisect, chunks
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.customer_addresses import AddressWriter
from bcsync.destinations.bigcommerce.customer_consent import ConsentWriter
from bcsync.destinations.bigcommerce.error_bodies import error_text
from bcsync.destinations.bigcommerce.fields import (
    FieldSpec,
    ValueProblem,
    column_kind,
    convert,
    non_finite,
)
from bcsync.destinations.bigcommerce.metafields import (
    Confirmation,
    Item,
    MetafieldWriter,
    add_error,
)
from bcsync.destinations.bigcommerce.targets import attribute_target, digest
from bcsync.errors import ApiError, RequestRejectedError, Retriable
from bcsync.run.rowhash import canonical_decimal

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

    def __init__(
        self,
        client: BigCommerceClient,
        attributes: Sequence[tuple[str, str]] = (),  # (column, attribute name)
        form_fields: Sequence[tuple[str, str]] = (),  # (column, form field name)
        metafields: Sequence[tuple[str, str, str]] = (),  # (column, namespace, key)
        consent: Sequence[tuple[str, str]] = (),  # (column, category; '' for a list column)
        addresses: Sequence[tuple[str, str]] = (),  # (column, address field; '' for a list)
        names: Mapping[str, str] | None = None,  # customer field -> column (address defaults)
    ) -> None:
        self.client = client
        self.attributes = list(attributes)
        self.form_fields = list(form_fields)
        self.metafields = list(metafields)
        self.attribute_defs: dict[str, tuple[int, str]] = {}  # name -> (id, type)
        self.metafield_writer = MetafieldWriter(client, "customers", self.metafields)
        self.consent = ConsentWriter(client, consent)
        self.addresses = AddressWriter(client, addresses, names)

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
        for column, name in self.form_fields:
            # Form field values ride in the customer body as they are: only JSON may go out.
            problem = non_finite(values.get(column))
            if problem:
                reasons.append(f"column '{column}' (form field {name}): {problem}")
        reasons.extend(self.metafield_writer.validate(values))
        reasons.extend(self.consent.validate(values))
        reasons.extend(self.addresses.validate(values))
        return reasons

    def form_field_values(self, values: Mapping[str, Any], *, create: bool) -> list[dict[str, Any]]:
        fields = []
        for column, name in self.form_fields:
            value = values.get(column)
            if value is None and create:
                continue
            if isinstance(value, (list, tuple)):
                value = [_plain(v) for v in value]
            elif isinstance(value, decimal.Decimal):
                value = _plain(value)
            elif isinstance(value, bool) or value is None:
                value = "" if value is None else str(value).lower()
            elif not isinstance(value, (int, float, str)):
                value = str(value)
            fields.append({"name": name, "value": value})
        return fields

    def form_field_blanks(self) -> list[dict[str, Any]]:
        return [{"name": name, "value": ""} for _, name in self.form_fields]

    # -- writing -----------------------------------------------------------------------------

    def attribute_value(self, name: str, value: Any) -> str | None:
        """The text an attribute value is sent as (None removes it)."""
        if value is None:
            return None
        return _attribute_text(self.attribute_defs.get(name, (0, "string"))[1], value)

    def targets(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Each attribute's and metafield's target hash (see ``targets``)."""
        found = {
            attribute_target(name): digest(self.attribute_value(name, values.get(column)))
            for column, name in self.attributes
        }
        found.update(self.metafield_writer.targets(values))
        found.update(self.consent.targets(values))
        found.update(self.addresses.targets(values))
        return found

    def inline_attributes(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Attribute values for a customer create, which carries them (no second request)."""
        inline = []
        for column, name in self.attributes:
            text = self.attribute_value(name, values.get(column))
            if text is not None:
                inline.append(
                    {"attribute_id": self.attribute_defs[name][0], "attribute_value": text}
                )
        return inline

    async def write(
        self, rows: Sequence[tuple[RowOp, str, Collection[str]]], created: set[str]
    ) -> Confirmation:
        """Write the wanted attribute and metafield targets of customers just written (a
        customer ``created`` in this run already carries its attribute values): the targets
        confirmed per pk, and the error per pk whose targets did not all land."""
        items: list[Item] = []
        to_delete: list[tuple[str, int, int]] = []
        sent: dict[str, dict[str, str]] = {}
        for op, customer_id, wanted in rows:
            for column, name in self.attributes:
                target = attribute_target(name)
                if target not in wanted:
                    continue
                text = self.attribute_value(name, op.values.get(column))
                sent.setdefault(op.pk, {})[target] = digest(text)
                if op.pk in created:
                    continue
                attribute_id = self.attribute_defs[name][0]
                if text is None:
                    to_delete.append((op.pk, int(customer_id), attribute_id))
                    continue
                item = {
                    "customer_id": int(customer_id),
                    "attribute_id": attribute_id,
                    "value": text,
                }
                items.append((op.pk, f"attribute '{name}'", item))
        put, removed, metafields, consent, addresses = await asyncio.gather(
            self._put_values(items),
            self._delete_values(to_delete),
            self.metafield_writer.write(rows, created),
            self.consent.write(rows),
            self.addresses.write(rows, created),
        )
        attribute_errors = Confirmation.of([put, removed]).errors
        # Attribute values count as confirmed for a customer only when none of its failed.
        attributes = {pk: t for pk, t in sent.items() if pk not in attribute_errors}
        return Confirmation.of(
            [
                Confirmation(errors=attribute_errors),
                metafields,
                consent,
                addresses,
                Confirmation(attributes),
            ]
        )

    async def clear(self, rows: Sequence[tuple[RowOp, str]]) -> dict[str, str]:
        """Remove the attribute values, metafields, consent and the addresses bcsync wrote of
        cleared customers: the error per pk."""
        pairs = [
            (op.pk, int(cid), self.attribute_defs[name][0])
            for op, cid in rows
            for _, name in self.attributes
            if name in self.attribute_defs
        ]
        blank_rows = [(op, cid, set[str]()) for op, cid in rows]
        removed, metafields, consent, addresses = await asyncio.gather(
            self._delete_values(pairs),
            self.metafield_writer.write(blank_rows, set(), blank=True),
            self.consent.clear(rows),
            self.addresses.clear(rows),
        )
        return dict(Confirmation.of([removed, metafields, consent, addresses]).errors)

    async def _put_values(self, items: Sequence[Item]) -> Confirmation:
        async def send(part: Sequence[Item]) -> None:
            await self.client.request(
                "PUT",
                "/v3/customers/attribute-values",
                json=[item for _, _, item in part],
                pks=sorted({pk for pk, _, _ in part}),
                write_kind="write",
            )

        rejected = await asyncio.gather(*(bisect(c, send) for c in chunks(items, VALUE_BATCH)))
        errors: dict[str, str] = {}
        for (pk, label, _), message in (pair for part in rejected for pair in part):
            add_error(errors, pk, f"{label}: {message}")
        return Confirmation(errors=errors)

    async def _delete_values(self, pairs: Sequence[tuple[str, int, int]]) -> Confirmation:
        """Remove the attribute values of (customer, attribute) pairs."""
        errors: dict[str, str] = {}
        if not pairs:
            return Confirmation()
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
            except ApiError as exc:
                if not isinstance(exc, RequestRejectedError | Retriable):
                    raise
                for pk, _ in part2:
                    add_error(
                        errors, pk, f"removing attribute values: {error_text(exc.body, str(exc))}"
                    )
        return Confirmation(errors=errors)


def _plain(value: Any) -> str:
    """A value as form-field text: an exact decimal with every digit, never an exponent."""
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return canonical_decimal(value)
    return str(value)
