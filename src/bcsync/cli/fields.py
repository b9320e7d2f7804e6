"""``bcsync fields [customers|orders] [--json | --markdown]``: every field a mapping may name.

The list comes from the catalogue (``bcsync.destinations.bigcommerce.catalog``): each native
field with its type and limits, then the forms that name the store's own fields (attributes, form
fields, metafields, consent, addresses). ``--markdown`` prints the table the README's "Fields you
can map" section holds; a test fails when the two drift apart. Registered by the main CLI with
``app.command()(fields)``; needs no project.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bcsync.destinations.bigcommerce.catalog import CUSTOM_FORMS, NOTES, OBJECTS, PREFIXED
from bcsync.destinations.bigcommerce.fields import FieldSpec

# How each field kind reads to a user.
KIND_LABELS = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "int_list": "list of integers",
    "json": "JSON",
    "date": "date",
    "money": "money",
    "rfc2822": "date-time",
}
# Limits every field of a kind has, whatever its spec says.
KIND_LIMITS = {
    "money": "≥ 0, at most 4 decimals",
    "number": "about 16 significant digits",
}


class ObjectName(StrEnum):
    customers = "customers"
    orders = "orders"


def limits(spec: FieldSpec) -> str:
    """A field's limits in words: length, required, create-only, kind-wide limits."""
    parts = []
    if spec.max_len is not None:
        low = max(spec.min_len, 1 if spec.required else 0)
        if low == spec.max_len:
            parts.append(f"exactly {low} characters")
        else:
            parts.append(
                f"{low}–{spec.max_len} characters" if low else f"≤ {spec.max_len} characters"
            )
    elif spec.min_len > 1:
        parts.append(f"≥ {spec.min_len} characters")
    if spec.kind in KIND_LIMITS:
        parts.append(KIND_LIMITS[spec.kind])
    if spec.required:
        parts.append("never blank")
    if spec.create_only:
        parts.append("create only")
    return "; ".join(parts)


def _native(name: str) -> list[tuple[str, FieldSpec]]:
    """The object's native fields as a mapping names them: its own, then the prefixed ones."""
    found = [(spec.name, spec) for spec in OBJECTS[name].values()]
    for prefix, specs in PREFIXED.get(name, {}).items():
        found.extend((f"{prefix}.{spec.name}", spec) for spec in specs.values())
    return found


def field_rows(name: str) -> list[dict[str, Any]]:
    """The object's mappable fields, native ones first, as plain dicts (the ``--json`` rows)."""
    notes = NOTES.get(name, {})
    rows: list[dict[str, Any]] = [
        {
            "field": field,
            "form": "native",
            "type": KIND_LABELS[spec.kind],
            "limits": limits(spec),
            "min_length": spec.min_len or None,
            "max_length": spec.max_len,
            "required": spec.required,
            "create_only": spec.create_only,
            "note": notes.get(field, ""),
        }
        for field, spec in _native(name)
    ]
    rows.extend(
        {
            "field": form.form,
            "form": "custom",
            "type": form.kind,
            "limits": "",
            "min_length": None,
            "max_length": None,
            "required": False,
            "create_only": False,
            "note": form.note,
        }
        for form in CUSTOM_FORMS.get(name, ())
    )
    return rows


def _details(row: dict[str, Any]) -> str:
    return "; ".join(part for part in (row["limits"], row["note"]) if part)


def markdown(names: Sequence[str] = tuple(OBJECTS)) -> str:
    """The README's field tables: one per object, ``| field | type | limits and notes |``."""
    blocks = []
    for name in names:
        lines = [f"**{name}**", "", "| field | type | limits and notes |", "|---|---|---|"]
        for row in field_rows(name):
            details = _details(row).replace("|", "\\|")
            lines.append(f"| `{row['field']}` | {row['type']} | {details} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def fields(
    obj: Annotated[
        ObjectName | None,
        typer.Argument(help="Only this object's fields."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's Markdown tables.")
    ] = False,
) -> None:
    """Every field a mapping can name, with its type and limits (native and custom forms)."""
    names = [obj.value] if obj is not None else list(OBJECTS)
    if as_json:
        document = {"objects": {name: field_rows(name) for name in names}}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    if as_markdown:
        sys.stdout.write(markdown(names))
        return
    from bcsync.cli.render import console

    out: Console = console()
    for name in names:
        table = Table(title=f"{name} fields", title_justify="left", expand=False)
        for header in ("field", "type", "limits and notes"):
            table.add_column(header, overflow="fold")
        for row in field_rows(name):
            table.add_row(*(escape(text) for text in (row["field"], row["type"], _details(row))))
        out.print(table)
    out.print(
        "[dim]Custom forms name the store's own fields; `bcsync check` checks each mapping "
        "against the store.[/dim]"
    )
