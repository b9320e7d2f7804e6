"""The mapping form's checks, as the user maps: does each column's type fit its field, and
which columns could map to a field by name (``first_name`` → ``first_name``).

Pure functions over the model's column types and the store's field list (``store_fields``);
``bcsync check`` makes the same type checks against the store when the sync is saved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bcsync.destinations.bigcommerce.fields import FieldRef, parse_field
from bcsync.destinations.bigcommerce.store_fields import StoreField, arrow_family

# How a family reads in a sentence: "column 'tier' is text".
FAMILY_WORDS = {
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true/false",
    "date": "a date",
    "timestamp": "a timestamp",
    "json": "JSON",
}
KIND_WORDS = {
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "money": "an amount of money",
    "boolean": "true/false",
    "int_list": "a list of integers",
    "json": "JSON",
    "date": "a date",
    "rfc2822": "a date and time",
}


@dataclass(frozen=True)
class MappingCheck:
    column: str
    field: str
    ok: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "field": self.field, "ok": self.ok, "message": self.message}


def _described(entry: StoreField) -> str:
    ref = parse_field(entry.field)
    what = {"attribute": "attribute", "form_field": "form field", "metafield": "metafield"}
    name = f"{ref.namespace}.{ref.name}" if ref.kind == "metafield" else ref.name
    label = what.get(entry.kind, "field")
    if entry.kind == "native":
        name = entry.field
    return f"{label} '{name}' is {KIND_WORDS.get(entry.type, entry.type)}"


def check_mapping(
    column: str,
    field: str,
    column_types: Mapping[str, str],
    fields: Mapping[str, StoreField],
    *,
    store_read: bool = True,
) -> MappingCheck:
    """One mapping row: ok, or why not (``column 'tier' is text; attribute 'Loyalty Points' is
    a number``). ``store_read`` False: the store's own fields are unknown, so they pass."""
    if column not in column_types:
        known = ", ".join(column_types) or "none"
        return MappingCheck(
            column, field, False, f"column '{column}' is not in the model ({known})"
        )
    try:
        ref: FieldRef = parse_field(field)
    except ValueError as exc:
        return MappingCheck(column, field, False, str(exc))
    entry = fields.get(field)
    family = arrow_family(column_types[column])
    if entry is None:
        if ref.kind == "attribute" and store_read:
            return MappingCheck(
                column,
                field,
                False,
                f"attribute '{ref.name}' does not exist in the store: create it (or set "
                "create_missing_attributes: true)",
            )
        if ref.kind == "native":
            return MappingCheck(column, field, False, f"'{field}' is not a field bcsync can write")
        return MappingCheck(column, field, True, "not checked: the store does not list it")
    if family not in entry.accepts:
        return MappingCheck(
            column,
            field,
            False,
            f"column '{column}' is {FAMILY_WORDS[family]}; {_described(entry)}",
        )
    return MappingCheck(column, field, True, f"column '{column}' is {FAMILY_WORDS[family]}: fits")


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def suggest(
    columns: Sequence[str], fields: Sequence[StoreField], mapped: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(column, field) pairs for columns not mapped yet whose name is a field's name, exactly
    or once case, spaces and punctuation are set aside (``loyalty_tier`` → ``attributes.Loyalty
    Tier``); native fields first. ``mapped``: column → field already chosen."""
    taken = set(mapped.values())
    by_exact: dict[str, str] = {}
    by_normal: dict[str, str] = {}
    for entry in fields:
        short = entry.field.split(".", 1)[1] if entry.kind != "native" else entry.field
        if entry.kind == "metafield":
            short = entry.field.rsplit(".", 1)[-1]
        by_exact.setdefault(short, entry.field)
        by_normal.setdefault(_normal(short), entry.field)
    found = []
    for column in columns:
        if column in mapped:
            continue
        field = by_exact.get(column) or by_normal.get(_normal(column))
        if field is not None and field not in taken:
            found.append((column, field))
            taken.add(field)
    return found
