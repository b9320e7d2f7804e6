r"""Canonical text and row hashes, as DuckDB SQL expressions (vectorised, no Python per row).

The planner decides "changed" by comparing a row's hash with the one stored in the snapshot, so the
hash must only change when a value that would be sent changes. It is ``md5`` over a canonical text
built by this module; both are defined here, not by DuckDB's ``hash()``, so they stay the same
across library versions. Bump ``HASH_SCHEME`` if the canonical form ever changes.

Canonical text of one value (also the text form of a primary key):

- NULL stays NULL (the row encoding below gives it a marker).
- Integers: decimal digits, ``-`` for negatives.
- Decimals and floats: an integral value is written like an integer (``1``, ``1.0``, ``1.00`` and
  ``Decimal('1.00')`` all give ``1``); otherwise decimals drop trailing zeros (``1.50`` → ``1.5``)
  and floats use the shortest round-trip text (``0.1``). NaN → ``nan``, infinities ``inf``/``-inf``.
  Known limit: a non-integral float smaller than 1e-4 in magnitude is written with an exponent
  (``1e-07``) while the same decimal is not (``0.0000001``). A decimal wider than DuckDB's
  DECIMAL(38) (PostgreSQL's unbounded ``numeric``) reaches the planner as text its reader
  made with ``canonical_decimal``, the same text a DECIMAL of that value gets.
- Booleans: ``true`` / ``false``. Strings: as they are (no trimming, no case folding).
- Dates: ``YYYY-MM-DD``. Timestamps: ISO 8601 in UTC with microseconds,
  ``2024-01-31T08:00:00.000000Z``; a timestamp without time zone is taken to be UTC.
- UUIDs lower case; blobs as hex; times and intervals as DuckDB writes them.
- Lists: ``[e1,e2]`` with each element encoded as below. Structs: ``{name=e,...}`` sorted by
  field name. Maps: entries ``key=value`` sorted. JSON: ``canonical_json`` (compact, keys sorted,
  numbers exact and integral ones as integers), which the planner applies in Python as the model
  streams in (DuckDB SQL cannot sort a JSON's keys), so every JSON column reaches it as a stream.

A row's canonical text joins one field per hashed column, in the order of the column NAMES, with
the unit separator (U+001F). A field is the value's canonical text or, for NULL, ``\N``; text that
may hold any character (strings, JSON, nested values) is escaped first: ``\`` → ``\\`` and U+001F
→ ``\u``. So NULL, ``""`` and the string ``"NULL"`` all differ and no value can imitate a field
boundary. Neither the model's column order nor the order of the mappings changes a hash; adding or
removing a hashed column changes every hash (the new field must be sent). Nested values use a
length-prefixed form inside: ``<byte length>:<text>`` per element, ``~`` for NULL.

Quick hash: md5 over canonical text costs several times the scan of the model, so the snapshot
also caches a 64-bit *quick hash* of each synced row, DuckDB's ``hash()`` over the typed values
(``quick_hash_sql``); a row whose quick hash equals the cached one is unchanged without computing
its md5. ``hash()`` is not stable across DuckDB versions, so the cache is only used under the key
it was made with (``quick_hash_key``: scheme, DuckDB version, machine, hashed columns and their
types) and rebuilt otherwise; the md5 stays the row's identity. Only types whose ``hash()`` is
one-to-one with their canonical text go in as they are; others (nested values, for which
``hash()`` gives NULL, ``[]`` and ``[NULL]`` the same value, intervals, times…) go in as their
canonical field text.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import platform
import sys
from collections.abc import Sequence
from typing import Any

import duckdb
from duckdb.sqltypes import DuckDBPyType

# v2: JSON numbers are exact (v1 read them as floats).
HASH_SCHEME = "bcsync-row-v2"
NULL_MARKER = "\\N"
NESTED_NULL = "~"

_INTEGERS = {
    "tinyint",
    "smallint",
    "integer",
    "bigint",
    "hugeint",
    "utinyint",
    "usmallint",
    "uinteger",
    "ubigint",
    "uhugeint",
}
_TIMESTAMPS = {"timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns"}
# Types whose canonical text is made of digits, signs, letters and punctuation only: never a
# backslash or the field separator, so it needs no escaping.
_PLAIN_TEXT = (
    _INTEGERS
    | _TIMESTAMPS
    | {
        "boolean",
        "decimal",
        "float",
        "double",
        "date",
        "timestamp with time zone",
        "time",
        "uuid",
        "blob",
        "interval",
    }
)
_ISO_UTC = "'%Y-%m-%dT%H:%M:%S.%fZ'"
# A double this large is still an exact integer, and HUGEINT holds it.
_HUGEINT_SAFE = "1e38"
# Below this a double's integral value fits BIGINT, whose text is cheaper to make than HUGEINT's.
_BIGINT_SAFE = "9e18"


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def is_json(dtype: DuckDBPyType) -> bool:
    return str(dtype) == "JSON"


def canonical_sql(expr: str, dtype: DuckDBPyType, depth: int = 0) -> str:
    """A VARCHAR SQL expression giving the canonical text of ``expr`` (NULL when it is NULL).

    Long because it is one case per DuckDB type."""
    kind = dtype.id
    var = f"e{depth}"  # list comprehension variable, unique per nesting level
    if is_json(dtype):
        # Already canonical: the planner rewrites JSON columns with canonical_json() as they stream.
        return f"CAST({expr} AS VARCHAR)"
    if kind == "varchar":
        return f"CAST({expr} AS VARCHAR)"
    if kind == "boolean":
        return f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END"
    if kind in _INTEGERS:
        return f"CAST({expr} AS VARCHAR)"
    if kind == "decimal":
        scale = dict(dtype.children)["scale"]  # an int
        if scale == 0:
            return f"CAST({expr} AS VARCHAR)"
        # A decimal with scale > 0 always prints a '.', so trimming zeros then the dot is safe.
        # rtrim is slow (it decodes UTF-8), so only text that ends in a zero goes through it.
        text = f"CAST({expr} AS VARCHAR)"
        return f"CASE WHEN suffix({text}, '0') THEN rtrim(rtrim({text}, '0'), '.') ELSE {text} END"
    if kind in ("float", "double"):
        x = f"CAST({expr} AS DOUBLE)" if kind == "float" else expr
        return (
            # Every NaN is ``nan``: DuckDB writes a negative one ``-nan``, which its hash() (the
            # quick hashes) does not tell from ``nan``.
            f"CASE WHEN isnan({x}) THEN 'nan' "
            f"WHEN NOT isfinite({x}) THEN lower(CAST({x} AS VARCHAR)) "
            f"WHEN {x} = trunc({x}) AND abs({x}) < {_BIGINT_SAFE} "
            f"THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) "
            f"WHEN {x} = trunc({x}) AND abs({x}) < {_HUGEINT_SAFE} "
            f"THEN CAST(CAST({x} AS HUGEINT) AS VARCHAR) ELSE CAST({x} AS VARCHAR) END"
        )
    if kind == "date":
        return f"strftime({expr}, '%Y-%m-%d')"
    if kind in _TIMESTAMPS:
        return f"strftime(CAST({expr} AS TIMESTAMP), {_ISO_UTC})"
    if kind == "timestamp with time zone":
        return f"strftime(timezone('UTC', {expr}), {_ISO_UTC})"
    if kind == "blob":
        return f"hex({expr})"
    if kind == "uuid":
        return f"lower(CAST({expr} AS VARCHAR))"
    if kind in ("list", "array"):
        element = encoded_sql(canonical_sql(var, _child(dtype, "child"), depth + 1))
        return f"'[' || array_to_string([{element} for {var} in {expr}], ',') || ']'"
    if kind == "struct":
        names = sorted(str(name) for name, _ in dtype.children)
        parts = [
            f"{quote_literal(name + '=')} || "
            + encoded_sql(
                canonical_sql(
                    f"struct_extract({expr}, {quote_literal(name)})", _child(dtype, name), depth + 1
                )
            )
            for name in names
        ]
        inner = " || ',' || ".join(parts) if parts else "''"
        return f"CASE WHEN {expr} IS NOT NULL THEN '{{' || {inner} || '}}' END"
    if kind == "map":
        key = encoded_sql(canonical_sql(f"{var}.key", _child(dtype, "key"), depth + 1))
        value = encoded_sql(canonical_sql(f"{var}.value", _child(dtype, "value"), depth + 1))
        return (
            f"'{{' || array_to_string(list_sort([{key} || '=' || {value} "
            f"for {var} in map_entries({expr})]), ',') || '}}'"
        )
    return f"CAST({expr} AS VARCHAR)"


def _child(dtype: DuckDBPyType, name: str) -> DuckDBPyType:
    child = dict(dtype.children)[name]
    if not isinstance(child, DuckDBPyType):
        raise TypeError(f"{dtype} has no child type {name!r}")
    return child


def encoded_sql(text_expr: str) -> str:
    """``<byte length>:<text>``, or the NULL marker: unambiguous when concatenated."""
    return f"coalesce(CAST(strlen({text_expr}) AS VARCHAR) || ':' || {text_expr}, '{NESTED_NULL}')"


def needs_escape(dtype: DuckDBPyType) -> bool:
    """Whether the canonical text of ``dtype`` may hold any character (so must be escaped)."""
    return dtype.id not in _PLAIN_TEXT or is_json(dtype)


def field_sql(canonical_expr: str, dtype: DuckDBPyType) -> str:
    """One field of the row text: the canonical text, escaped if need be, or the NULL marker."""
    text = canonical_expr
    if needs_escape(dtype):
        escaped = f"replace(replace({text}, '\\', '\\\\'), chr(31), '\\u')"
        if dtype.id == "varchar":
            # A plain or JSON column: almost no value holds either character, and looking for
            # them is far cheaper than copying every value through replace().
            escaped = (
                f"CASE WHEN contains({text}, '\\') OR contains({text}, chr(31)) "
                f"THEN {escaped} ELSE {text} END"
            )
        text = escaped
    return f"coalesce({text}, '{NULL_MARKER}')"


def row_hash_sql(fields: Sequence[tuple[str, str]]) -> str:
    """md5 of the row text, given (column name, field expression from ``field_sql``) pairs."""
    ordered = [expr for _, expr in sorted(fields, key=lambda pair: pair[0])]
    if not ordered:
        return "md5('')"
    return f"md5(concat_ws(chr(31), {', '.join(ordered)}))"


# Types whose DuckDB hash() is one-to-one with their canonical text (equal values, equal text).
_QUICK_AS_IS = (
    _INTEGERS
    | _TIMESTAMPS
    | {
        "varchar",
        "boolean",
        "decimal",
        "float",
        "double",
        "date",
        "timestamp with time zone",
        "uuid",
        "blob",
    }
)
QUICK_SCHEME = "bcsync-quick-v1"


def quick_hash_sql(columns: Sequence[tuple[str, str, DuckDBPyType]]) -> str:
    """DuckDB's hash() of a row, given (column name, SQL expression, type), in name order.

    Columns whose hash() could confuse values with different canonical texts are hashed as their
    canonical field text instead (see the module docstring).
    """
    parts = []
    for _, expr, dtype in sorted(columns, key=lambda c: c[0]):
        if dtype.id == "varchar" and not is_json(dtype):
            # hash() follows a column's collation: under NOCASE 'Ab' and 'ab' hashed alike.
            # The binary collation hashes the bytes, as hash() of an uncollated string does.
            parts.append(f'({expr}) COLLATE "binary"')
        elif dtype.id in _QUICK_AS_IS and not is_json(dtype):
            parts.append(expr)
        else:
            parts.append(field_sql(canonical_sql(expr, dtype), dtype))
    if not parts:
        return "CAST(0 AS UBIGINT)"
    return f"hash({', '.join(parts)})"


def quick_hash_key(types: dict[str, DuckDBPyType], mapping: str = "") -> str:
    """What quick hashes made now are valid under; a cache made under another key is ignored.

    ``mapping`` (where the columns go) is part of the row hash, so a new mapping needs new ones.
    """
    described = ";".join(f"{name}:{types[name]}" for name in sorted(types))
    if mapping:
        described += f"|mapping:{mapping}"
    text = "|".join(
        (
            QUICK_SCHEME,
            HASH_SCHEME,
            f"duckdb {duckdb.__version__}",
            platform.machine(),
            sys.byteorder,
            described,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_decimal(value: decimal.Decimal) -> str:
    """An exact decimal's canonical text: what ``canonical_sql`` makes of a DECIMAL holding it.

    Plain digits, never an exponent; no trailing zeros, and no ``.`` for an integral value
    (``Decimal('1.50')`` → ``1.5``, ``Decimal('1E+3')`` → ``1000``, ``-0.00`` → ``0``).
    """
    if not value.is_finite():
        return "nan" if value.is_nan() else "-inf" if value.is_signed() else "inf"
    if not value:
        return "0"
    text = format(value, "f")  # exact: formatting without a precision never rounds
    return text.rstrip("0").rstrip(".") if "." in text else text


# Integral JSON numbers up to this many digits become Python ints; Python refuses to write
# longer ones (sys.set_int_max_str_digits), so those stay decimals.
_JSON_INT_DIGITS = 4000
# Normalises a decimal without rounding, whatever its digits and exponent.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def canonical_json(text: str | None) -> str | None:
    """JSON re-written compactly with sorted keys and exact numbers.

    Numbers are compared by value: ``1``, ``1.0`` and ``1e0`` are all written ``1``, ``2.50`` is
    ``2.5``, and a number a float cannot hold (``12345678901234567890.125``) keeps every digit,
    so a change in its last digit is a change. Text that does not parse is returned as it is: it
    is hashed as a string, and the destination reports it when it cannot use it.
    """
    if text is None:
        return None
    try:
        parsed = json.loads(text, parse_float=_json_number)
    except (ValueError, RecursionError):
        return text
    try:
        return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except TypeError:  # it holds a decimal no float holds, which json.dumps cannot write
        return _exact_json(parsed)


def _json_number(token: str) -> int | float | decimal.Decimal:
    """A JSON number with a fraction or an exponent: an int if integral, a float if a float
    holds it exactly (so ``json.dumps`` writes it, fast), else the exact decimal."""
    approx = float(token)
    if repr(approx) == token and not approx.is_integer():
        return approx  # the common case, decided without a decimal
    exact = decimal.Decimal(token)
    if exact.adjusted() < _JSON_INT_DIGITS and exact == exact.to_integral_value():
        return int(exact)
    if decimal.Decimal(repr(approx)) == exact:
        return approx
    return exact


def _exact_json(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"))``, writing decimals exactly."""
    if isinstance(value, decimal.Decimal):
        return str(value.normalize(_EXACT))
    if isinstance(value, list):
        return "[" + ",".join(_exact_json(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{_exact_json(key)}:{_exact_json(value[key])}" for key in sorted(value))
        return "{" + ",".join(items) + "}"
    return json.dumps(value, ensure_ascii=False)
