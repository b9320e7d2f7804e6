"""Turn DB-API rows into Arrow record batches with a fixed schema.

PostgreSQL (psycopg) columns are typed from the cursor description, before any row is read:

======================  ===============================================================
PostgreSQL              Arrow
======================  ===============================================================
bool                    bool
int2 / int4 / int8      int16 / int32 / int64
float4 / float8         float32 / float64
numeric(p, s), p ≤ 38   decimal128(p, s)  — exact, like DuckDB's DECIMAL
numeric (no precision)  ``DECIMAL_TEXT``: the exact value as canonical text (see below)
numeric(p, s), p > 38   ``DECIMAL_TEXT``
money                   ``DECIMAL_TEXT`` (the session's ``lc_monetary`` is pinned to C)
date / time             date32 / time64[us]
timestamp               timestamp[us]
timestamptz             timestamp[us, tz=UTC]
interval                duration[us]
json / jsonb            ``arrow.json`` holding the JSON text as the server sent it
bytea                   binary
arrays of the above     list<…>
anything else           string (the value's text)
======================  ===============================================================

An unbounded ``numeric`` (``sum()``/``avg()`` results, or a column declared without precision)
fits no fixed decimal type, and a float would lose its digits. ``DECIMAL_TEXT`` is Arrow's
*opaque* extension type over strings, named ``bcsync``/``decimal``: each value is written by
``rowhash.canonical_decimal``, the text a DuckDB DECIMAL of the same value hashes as, so the
planner needs nothing more to hash it; it hands the destination ``decimal.Decimal`` values.

Other drivers do not describe types portably, so their columns are typed from the first batch's
Python values (a column that is all NULL there becomes string; ``Decimal`` becomes
``DECIMAL_TEXT``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from bcsync.run.rowhash import canonical_decimal

Convert = Callable[[Any], Any]
DECIMAL_TEXT = pa.opaque(pa.string(), type_name="decimal", vendor_name="bcsync")


def is_decimal_text(arrow_type: pa.DataType) -> bool:
    """Whether a column holds ``DECIMAL_TEXT`` values (or lists of them, at any depth)."""
    if arrow_type == DECIMAL_TEXT:
        return True
    return pa.types.is_list(arrow_type) and is_decimal_text(arrow_type.value_type)


def _same(value: Any) -> Any:
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _json_text(value: Any) -> str:
    # The warehouse has psycopg hand JSON over as text (its parser would round numbers to
    # floats); other drivers may hand back parsed values.
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _decimal_text(value: Any) -> str:
    """``value`` (a Decimal, or a number another driver typed differently) as canonical text."""
    if isinstance(value, float):
        value = repr(value)
    return canonical_decimal(decimal.Decimal(value))


def _money_text(value: Any) -> str:
    """A ``money`` value as the server writes it under ``lc_monetary = C``: ``-$1,234.56``."""
    return canonical_decimal(decimal.Decimal(str(value).replace("$", "").replace(",", "")))


@dataclass(frozen=True)
class ColumnType:
    """An Arrow type and how to turn one non-null driver value into something pyarrow accepts."""

    arrow: pa.DataType
    convert: Convert = _same


_STRING = ColumnType(pa.string(), _text)
_JSON = ColumnType(pa.json_(), _json_text)
_DECIMAL = ColumnType(DECIMAL_TEXT, _decimal_text)

_POSTGRES_TYPES: dict[str, ColumnType] = {
    "bool": ColumnType(pa.bool_()),
    "int2": ColumnType(pa.int16()),
    "int4": ColumnType(pa.int32()),
    "int8": ColumnType(pa.int64()),
    "oid": ColumnType(pa.int64()),
    "float4": ColumnType(pa.float32()),
    "float8": ColumnType(pa.float64()),
    "date": ColumnType(pa.date32()),
    "time": ColumnType(pa.time64("us")),
    "timestamp": ColumnType(pa.timestamp("us")),
    "timestamptz": ColumnType(pa.timestamp("us", tz="UTC")),
    "interval": ColumnType(pa.duration("us")),
    "money": ColumnType(DECIMAL_TEXT, _money_text),
    "json": _JSON,
    "jsonb": _JSON,
    "bytea": ColumnType(pa.binary(), bytes),
}


def json_as_text(dbapi_connection: Any, _record: Any = None) -> None:
    """Have a psycopg connection hand json and jsonb over as the server's text (a SQLAlchemy
    "connect" hook): its own parser reads JSON numbers as floats, which would round
    ``12345678901234567890.125`` before the planner could compare it."""
    from psycopg.types.string import TextLoader

    for name in ("json", "jsonb"):
        dbapi_connection.adapters.register_loader(name, TextLoader)


def postgres_column_type(oid: int, precision: int | None, scale: int | None) -> ColumnType:
    """The Arrow type of a PostgreSQL column, from its type OID (and numeric precision)."""
    from psycopg.postgres import types

    info = types.get(oid)
    if info is None:
        return _STRING
    if info.array_oid == oid and info.oid != oid:
        element = postgres_column_type(info.oid, precision, scale)
        return ColumnType(pa.list_(element.arrow), _list_of(element.convert))
    if info.name == "numeric":
        return _numeric(precision, scale)
    return _POSTGRES_TYPES.get(info.name, _STRING)


def _numeric(precision: int | None, scale: int | None) -> ColumnType:
    """decimal128 when the declared precision fits one, else exact text."""
    if not precision:
        return _DECIMAL
    scale = scale or 0
    # PostgreSQL 15 allows a scale below 0 (numeric(3, -2) holds 12300) or above the precision
    # (numeric(2, 4) holds 0.0012): as an Arrow decimal, the digits either side of the point.
    digits = max(precision - min(scale, 0), scale)
    if digits > 38:
        return _DECIMAL
    return ColumnType(pa.decimal128(digits, max(scale, 0)))


def _list_of(convert: Convert) -> Convert:
    def convert_list(values: Any) -> list[Any]:
        return [None if item is None else convert(item) for item in values]

    return convert_list


def python_value_type(value: Any) -> ColumnType:
    """The Arrow type for a column whose first non-null value is ``value``."""
    if isinstance(value, bool):
        return ColumnType(pa.bool_())
    if isinstance(value, int):
        return ColumnType(pa.int64())
    if isinstance(value, decimal.Decimal):
        return _DECIMAL
    if isinstance(value, float):
        return ColumnType(pa.float64(), float)
    if isinstance(value, dt.datetime):
        return ColumnType(pa.timestamp("us", tz="UTC" if value.tzinfo else None))
    if isinstance(value, dt.date):
        return ColumnType(pa.date32())
    if isinstance(value, dt.time):
        return ColumnType(pa.time64("us"))
    if isinstance(value, dt.timedelta):
        return ColumnType(pa.duration("us"))
    if isinstance(value, bytes | bytearray | memoryview):
        return ColumnType(pa.binary(), bytes)
    if isinstance(value, dict | list):
        return _JSON
    return _STRING


@dataclass(frozen=True)
class RowConverter:
    """Fixed column names and types; turns lists of row tuples into record batches."""

    names: tuple[str, ...]
    types: tuple[ColumnType, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(zip(self.names, (kind.arrow for kind in self.types), strict=True))

    def batch(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        """A record batch of ``rows``; a value that does not fit its column raises ValueError."""
        arrays = []
        for index, (name, kind) in enumerate(zip(self.names, self.types, strict=True)):
            try:
                values = [None if row[index] is None else kind.convert(row[index]) for row in rows]
                # pyarrow builds extension types (JSON, DECIMAL_TEXT) only from their storage.
                storage = _storage(kind.arrow)
                array = pa.array(values, type=storage)
                arrays.append(array if storage == kind.arrow else array.view(kind.arrow))
            except (pa.ArrowException, ArithmeticError, TypeError, ValueError) as exc:
                raise ValueError(f"column '{name}' does not fit {kind.arrow}: {exc}") from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _storage(arrow_type: pa.DataType) -> pa.DataType:
    if isinstance(arrow_type, pa.BaseExtensionType):
        return arrow_type.storage_type
    if pa.types.is_list(arrow_type):
        return pa.list_(_storage(arrow_type.value_type))
    return arrow_type


def postgres_converter(description: Sequence[Any]) -> RowConverter:
    """A converter typed from a psycopg cursor description."""
    names = tuple(column[0] for column in description)
    types = tuple(postgres_column_type(column[1], column[4], column[5]) for column in description)
    return RowConverter(names, types)


def inferred_converter(description: Sequence[Any], rows: Sequence[Sequence[Any]]) -> RowConverter:
    """A converter typed from the first non-null value of each column in ``rows``."""
    names = tuple(column[0] for column in description)
    types = []
    for index in range(len(names)):
        first = next((row[index] for row in rows if row[index] is not None), None)
        types.append(_STRING if first is None else python_value_type(first))
    return RowConverter(names, tuple(types))
