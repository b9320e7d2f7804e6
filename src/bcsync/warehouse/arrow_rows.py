"""Turn DB-API rows into Arrow record batches with a fixed schema.

PostgreSQL (psycopg) columns are typed from the cursor description, before any row is read:

======================  ===============================================================
PostgreSQL              Arrow
======================  ===============================================================
bool                    bool
int2 / int4 / int8      int16 / int32 / int64
float4 / float8         float32 / float64
numeric(p, s), p ≤ 38   decimal128(p, s)  — exact, like DuckDB's DECIMAL
numeric (no precision)  float64 — an unbounded numeric (e.g. ``sum()``/``avg()`` results)
                        cannot fit a fixed decimal; float64 keeps 15–17 significant digits
date / time             date32 / time64[us]
timestamp               timestamp[us]
timestamptz             timestamp[us, tz=UTC]
interval                duration[us]
json / jsonb            string holding JSON text (field metadata ``bcsync.type: json``)
bytea                   binary
arrays of the above     list<…>
anything else           string (the value's text)
======================  ===============================================================

Other drivers do not describe types portably, so their columns are typed from the first batch's
Python values (a column that is all NULL there becomes string).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

Convert = Callable[[Any], Any]
JSON_METADATA = {b"bcsync.type": b"json"}


def _same(value: Any) -> Any:
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _json_text(value: Any) -> str:
    # psycopg parses json columns; other drivers may hand back the text already.
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _to_float(value: Any) -> float:
    return float(value)


@dataclass(frozen=True)
class ColumnType:
    """An Arrow type and how to turn one non-null driver value into something pyarrow accepts."""

    arrow: pa.DataType
    convert: Convert = _same
    is_json: bool = False


_STRING = ColumnType(pa.string(), _text)
_JSON = ColumnType(pa.string(), _json_text, is_json=True)

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
    "json": _JSON,
    "jsonb": _JSON,
    "bytea": ColumnType(pa.binary(), bytes),
}


def postgres_column_type(oid: int, precision: int | None, scale: int | None) -> ColumnType:
    """The Arrow type of a PostgreSQL column, from its type OID (and numeric precision)."""
    from psycopg.postgres import types

    info = types.get(oid)
    if info is None:
        return _STRING
    if info.array_oid == oid and info.oid != oid:
        element = postgres_column_type(info.oid, None, None)
        return ColumnType(pa.list_(element.arrow), _list_of(element.convert))
    if info.name == "numeric":
        if precision and 0 < precision <= 38:
            return ColumnType(pa.decimal128(precision, max(scale or 0, 0)))
        return ColumnType(pa.float64(), _to_float)
    return _POSTGRES_TYPES.get(info.name, _STRING)


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
    if isinstance(value, float | decimal.Decimal):
        return ColumnType(pa.float64(), _to_float)
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
        return pa.schema(
            pa.field(name, kind.arrow, metadata=JSON_METADATA if kind.is_json else None)
            for name, kind in zip(self.names, self.types, strict=True)
        )

    def batch(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        """A record batch of ``rows``; a value that does not fit its column raises ValueError."""
        arrays = []
        for index, (name, kind) in enumerate(zip(self.names, self.types, strict=True)):
            values = [None if row[index] is None else kind.convert(row[index]) for row in rows]
            try:
                arrays.append(pa.array(values, type=kind.arrow))
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
                raise ValueError(f"column '{name}' does not fit {kind.arrow}: {exc}") from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


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
