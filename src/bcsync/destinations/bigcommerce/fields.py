"""Field specs and value conversion for BigCommerce objects (the catalogues are in ``catalog``).

A mapping's ``field`` is either a native field (``email``, ``billing_address.first_name``) or a
custom field: ``attributes.<name>`` (customer attribute), ``form_fields.<name>`` (customer form
field), ``metafields.<namespace>.<key>``, ``consent[.<category>]`` or a customer address
(``address.<field>``, or ``addresses`` for a list column). Values are checked against the
field's type and length *before* sending, so a bad value is an invalid row that names its
column, not a rejected batch.

NaN and ±Infinity are refused in every kind of field (``non_finite``): JSON has no such numbers,
so Python would write them as bare ``NaN``/``Infinity`` that no JSON parser, BigCommerce's
included, accepts; and as text they would reach the store as the word ``nan``.

An exact number (a decimal, an integer, or its text) is never rounded on its way out: a
``number`` field holds what a double holds, so a value whose digits a double cannot keep
(``1.123456789012345679901``) is refused; a ``money`` field is sent with 4 decimal places, so an
amount with more is refused (a float is rounded to them when it is within its own error of an
amount that has them: ``0.1 + 0.2`` is ``0.3000``). Text fields get a decimal's plain digits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import email.utils
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bcsync.destinations.base import Problem
from bcsync.run.rowhash import canonical_decimal

Kind = Literal[
    "string", "integer", "number", "boolean", "int_list", "json", "date", "money", "rfc2822"
]

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NON_FINITE = {"nan", "inf", "infinity"}  # the spellings float() reads (case-insensitively)


class ValueProblem(ValueError):
    """A value that cannot become the field's type; the message says why (without the column)."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    min_len: int = 0
    max_len: int | None = None
    required: bool = False  # cannot be blank; never cleared
    create_only: bool = False
    email: bool = False


@dataclass(frozen=True)
class FieldRef:
    """A parsed mapping target."""

    kind: Literal["native", "attribute", "form_field", "metafield", "consent", "address"]
    name: str  # native path, attribute / form field / address field name, or metafield key
    namespace: str = ""  # metafields only


def parse_field(field: str) -> FieldRef:
    """Split a mapping's ``field`` into its kind and name; ValueError if it is malformed."""
    head, _, rest = field.partition(".")
    if head == "attributes" and rest:
        return FieldRef("attribute", rest)
    if head == "form_fields" and rest:
        return FieldRef("form_field", rest)
    if head == "consent":
        categories = ("essential", "functional", "analytics", "targeting")
        if rest and rest not in categories:
            raise ValueError(
                f"unknown consent category '{rest}' in '{field}' (known: {', '.join(categories)})"
            )
        return FieldRef("consent", rest)
    if field == "addresses":
        return FieldRef("address", "")  # a list column: the customer's full set
    if head == "address":
        # The parts of customerAddresses_Base (customer_addresses.ADDRESS_FIELDS).
        parts = (
            "first_name", "last_name", "company", "address1", "address2", "city",
            "state_or_province", "postal_code", "country_code", "phone", "address_type",
        )  # fmt: skip
        if rest not in parts:
            raise ValueError(
                f"unknown address field '{rest}' in '{field}' (map address.<field>, one of: "
                f"{', '.join(parts)}; or a list column to 'addresses')"
            )
        return FieldRef("address", rest)
    if head == "metafields":
        namespace, _, key = rest.partition(".")
        if not namespace or not key:
            raise ValueError(f"metafield '{field}' must be metafields.<namespace>.<key>")
        if len(namespace) > 64 or len(key) > 64:
            raise ValueError(f"metafield '{field}': namespace and key are at most 64 characters")
        return FieldRef("metafield", key, namespace)
    return FieldRef("native", field)


@dataclass(frozen=True)
class MappedFields:
    """A sync's mappings sorted by kind, with the problems found on the way."""

    native: list[tuple[str, FieldSpec]]  # (column, field)
    custom: list[tuple[str, FieldRef]]  # (column, attribute / form field / metafield)
    problems: list[Problem]


def map_fields(
    mappings: Sequence[Any], catalog: Mapping[str, FieldSpec], *, what: str, custom: set[str]
) -> MappedFields:
    """Parse each mapping's ``field`` against an object's native ``catalog`` and the custom
    field kinds it supports (``custom``); ``what`` names the object in messages."""
    mapped = MappedFields([], [], [])
    kinds = {"attribute": "attributes.<name>", "form_field": "form_fields.<name>",
             "metafield": "metafields.<namespace>.<key>",
             "consent": "consent.<category> or consent",
             "address": "address.<field> or addresses"}  # fmt: skip
    for index, mapping in enumerate(mappings):
        where: tuple[str | int, ...] = ("mappings", index, "field")
        try:
            ref = parse_field(mapping.field)
        except ValueError as exc:
            mapped.problems.append(Problem(str(exc), where))
            continue
        if ref.kind == "native" and ref.name in catalog:
            mapped.native.append((mapping.column, catalog[ref.name]))
        elif ref.kind in custom:
            mapped.custom.append((mapping.column, ref))
        else:
            known = ", ".join([*sorted(catalog), *(kinds[k] for k in sorted(custom))])
            mapped.problems.append(
                Problem(
                    f"unknown or read-only {what} field '{mapping.field}' (known: {known})", where
                )
            )
    return mapped


def type_problems(
    mappings: Sequence[Any],
    catalog: Mapping[str, FieldSpec],
    column_types: Mapping[str, str],
    *,
    what: str,
    skip: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Mappings whose column's type cannot become the native field's type."""
    problems = []
    for index, mapping in enumerate(mappings):
        spec = catalog.get(mapping.field)
        arrow_type = column_types.get(mapping.column)
        if spec is None or arrow_type is None or spec.name in skip:
            continue
        if not column_fits(spec.kind, arrow_type):
            problems.append(
                Problem(
                    f"column '{mapping.column}' ({arrow_type}) cannot become {what} field "
                    f"'{mapping.field}' ({spec.kind})",
                    ("mappings", index, "column"),
                )
            )
    return problems


def non_finite(value: Any) -> str | None:
    """Why ``value`` cannot go out as JSON: ``"NaN is not a number BigCommerce accepts"``, with
    where it sits in a list or object (``NaN at [1].price``); None when it has no such number."""
    found = _non_finite(value, "")
    return f"{found} is not a number BigCommerce accepts" if found else None


def _non_finite(value: Any, path: str) -> str | None:
    name = None
    if isinstance(value, float) and not math.isfinite(value):
        name = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    elif isinstance(value, decimal.Decimal) and not value.is_finite():
        name = "NaN" if value.is_nan() else "-Infinity" if value.is_signed() else "Infinity"
    if name is not None:
        return f"{name} at {path}" if path else name
    items: Any = ()
    if isinstance(value, Mapping):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    for where, item in items:
        found = _non_finite(item, where)
        if found:
            return found
    return None


def _finite(value: Any) -> None:
    problem = non_finite(value)
    if problem:
        raise ValueProblem(problem)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, decimal.Decimal):
        return canonical_decimal(value)  # every digit, never an exponent
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return str(value)
    raise ValueProblem(f"expected text, got {type(value).__name__}")


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueProblem("expected an integer, got a boolean")
    _finite(value)  # int() of NaN or Infinity raises ValueError / OverflowError, not ours
    if isinstance(value, int):
        return value
    if isinstance(value, (float, decimal.Decimal)) and value == int(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueProblem(f"expected an integer, got {value!r}")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueProblem("expected a number, got a boolean")
    _finite(value)
    if not isinstance(value, (int, float, decimal.Decimal, str)):
        raise ValueProblem(f"expected a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise ValueProblem(f"expected a number, got {value!r}") from None
    except OverflowError:  # float() of an int past 1.8e308
        number = math.inf
    if math.isfinite(number):
        if not isinstance(value, float) and _exact(value) != decimal.Decimal(repr(number)):
            raise ValueProblem(
                f"{_shortened(value)} has more digits than a number field keeps (about 16): "
                "round it in the model"
            )
        return number
    # float() also reads the text "nan" and "inf", and makes a decimal past 1.8e308 infinite.
    if math.isnan(number) or str(value).strip().lstrip("+-").lower() in _NON_FINITE:
        _finite(number)  # raises, naming NaN or Infinity
    raise ValueProblem(f"{_shortened(value)} is too large for a number")


def _exact(value: int | decimal.Decimal | str) -> decimal.Decimal:
    return decimal.Decimal(value.strip() if isinstance(value, str) else value)


def _shortened(value: Any) -> str:
    text = str(value).strip()
    return text if len(text) <= 24 else f"{text[:12]}… ({len(text)} characters)"


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise ValueProblem(f"expected true or false, got {value!r}")


def _int_list(value: Any) -> list[int]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueProblem(f"expected a list of integers, got {value!r}") from exc
    if not isinstance(value, (list, tuple)):
        raise ValueProblem(f"expected a list of integers, got {value!r}")
    return [_integer(item) for item in value]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueProblem(f"expected JSON, got invalid JSON ({exc.msg})") from exc
    return value


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            pass
    raise ValueProblem(f"expected a date, got {value!r}")


_MONEY_PLACES = decimal.Decimal("0.0001")
# How far a float may be from the 4-place amount it stands for: far above a double's own error
# (1e-16 of the value, more after sums), far below a ten-thousandth.
_FLOAT_NOISE = 1e-12
# Rounds to 4 places whatever the amount's size (the default context holds 28 digits).
_WIDE = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def _money(value: Any) -> str:
    """Money for the v2 API: a non-negative decimal string with 4 places (the API's own form)."""
    if isinstance(value, bool):
        raise ValueProblem("expected an amount, got a boolean")
    try:
        amount = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise ValueProblem(f"expected an amount, got {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueProblem(f"expected a non-negative amount, got {value!r}")
    rounded = amount.quantize(_MONEY_PLACES, context=_WIDE).copy_abs()  # -0 is "0.0000"
    inexact = rounded != amount
    if inexact and isinstance(value, float):
        inexact = not math.isclose(value, float(rounded), rel_tol=_FLOAT_NOISE)
    if inexact:
        raise ValueProblem(
            f"{_shortened(value)} has more than 4 decimal places, which money cannot hold: "
            "round it in the model"
        )
    return str(rounded)


def _rfc2822(value: Any) -> str:
    """A date for the v2 API: RFC 2822 in UTC (``Tue, 20 Nov 2012 00:00:00 +0000``)."""
    moment: dt.datetime
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            try:
                moment = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError) as exc:
                raise ValueProblem(f"expected a date and time, got {value!r}") from exc
    else:
        raise ValueProblem(f"expected a date and time, got {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return email.utils.format_datetime(moment.astimezone(dt.UTC)).replace("-0000", "+0000")


def convert(spec: FieldSpec, value: Any) -> Any:
    """The API value for ``value``; raises ValueProblem. None stays None (the caller decides)."""
    if value is None:
        return None
    _finite(value)
    converted = _convert(spec, value)
    _finite(converted)  # JSON text may spell NaN, which json.loads reads
    return converted


def _convert(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "string":
        text = _text(value)
        if spec.email and not EMAIL_RE.match(text.strip()):
            raise ValueProblem(f"{text!r} is not a valid email address")
        if spec.email:
            text = text.strip()
        if len(text) < spec.min_len:
            raise ValueProblem(f"must be at least {spec.min_len} characters")
        if spec.max_len is not None and len(text) > spec.max_len:
            raise ValueProblem(f"is {len(text)} characters long; the maximum is {spec.max_len}")
        return text
    if spec.kind == "integer":
        return _integer(value)
    if spec.kind == "number":
        return _number(value)
    if spec.kind == "boolean":
        return _boolean(value)
    if spec.kind == "int_list":
        return _int_list(value)
    if spec.kind == "date":
        return _date(value)
    if spec.kind == "money":
        return _money(value)
    if spec.kind == "rfc2822":
        return _rfc2822(value)
    return _json(value)


def set_path(body: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, creating the intermediate objects."""
    parts = path.split(".")
    node = body
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def column_kind(arrow_type: str) -> str:
    """A coarse kind for an Arrow type string, to check a column can become a field's type."""
    lowered = arrow_type.lower()
    if lowered.startswith(("int", "uint")):
        return "integer"
    if lowered.startswith(("double", "float", "decimal", "halffloat")):
        return "number"
    if lowered in ("bool", "boolean"):
        return "boolean"
    if lowered.startswith(("timestamp", "date")):
        return "date"
    if lowered.startswith(("list", "large_list", "struct", "map")):
        return "json"
    if "type_name=decimal, vendor_name=bcsync" in lowered:  # warehouse.arrow_rows.DECIMAL_TEXT
        return "number"
    return "string"


_COMPATIBLE: Mapping[str, frozenset[str]] = {
    "string": frozenset({"string", "integer", "number", "boolean", "date"}),
    "integer": frozenset({"integer", "number", "string"}),
    "number": frozenset({"integer", "number", "string"}),
    "boolean": frozenset({"boolean", "integer", "string"}),
    "int_list": frozenset({"json", "string"}),
    "json": frozenset({"json", "string"}),
    "date": frozenset({"date", "string"}),
    "money": frozenset({"integer", "number", "string"}),
    "rfc2822": frozenset({"date", "string"}),
}


def column_fits(field_kind: Kind, arrow_type: str) -> bool:
    """Whether a column of ``arrow_type`` can plausibly hold a field of ``field_kind``."""
    return column_kind(arrow_type) in _COMPATIBLE[field_kind]
