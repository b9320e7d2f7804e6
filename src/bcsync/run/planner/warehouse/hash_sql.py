r"""The canonical row hash and key text as SQL the warehouse runs itself (issue 14).

The warehouse planner diffs the model against its cache of clean hashes *in the warehouse*, so
the row hash and the key text must be SQL of the warehouse's dialect: PostgreSQL, DuckDB,
Snowflake or BigQuery. They are the canonical md5 and key text of ``bcsync.run.rowhash`` (read
its docstring for the canonical form) wherever a dialect can make that text exactly; where it
cannot, the field is the warehouse's own text of the value. Correctness never depends on it: a
hash unequal to the local one only costs a re-read of the row (the planner then classifies it
locally), so ``EXACT_KINDS`` documents which columns hash exactly, and the tests hold each claim
to the local planner's hash on real PostgreSQL and DuckDB.

The diff itself compares a cheaper *quick hash* (``quick_hash``): PostgreSQL's own
``hash_record_extended`` of the typed values, DuckDB's ``hash()`` as the local planner's quick-hash
cache makes it. The md5 of the canonical text cost 26 of the 10M-row diff's 26–36 s (issue 14's
benchmark); the quick hash about 4. A quick hash must never call two rows equal whose canonical
texts differ (``test_warehouse_quick_hash`` holds it to that on real PostgreSQL and DuckDB), so
PostgreSQL hashes numbers, dates, timestamps, booleans and bytes as their binary form (its own
typed hashes are coarse: see ``_POSTGRES_SEND``), text cast to ``text COLLATE "C"`` (a
``citext`` or nondeterministic collation would call ``'A'`` and ``'a'`` equal) with its stored
size (the cast drops a ``char(n)``'s padding), and every other kind (intervals: ``1 mon`` =
``30 days``; JSON, arrays, time) as its canonical field text; DuckDB hashes strings under the
binary collation (``NOCASE`` hashed ``'Ab'`` as ``'ab'``) and an ENUM by its label. The hashed
columns' types and the mapping are part of every quick hash (DuckDB's ``hash()`` of 150 is that
of 1.50), as the md5 digest of a tag naming them: PostgreSQL's seed and first field, DuckDB's
first field.
``test_warehouse_quick_hash_reader_*`` hold it to the values the reader hands over. A quick hash
finer than the canonical text (``1.0`` and ``1.00``, ``-0.0`` and ``0.0``) only costs a
re-read. Snowflake and BigQuery keep the md5 as their quick hash (untested there).
The md5 stays for one job: when the table is rebuilt from the ledger (whose hashes are local
md5s), each row whose model row still has its md5 gets its quick hash (``rebuild`` in ``diff``),
so switching planner reads nothing out.

How to use: ``pk_text`` and ``row_hash`` build dialect-neutral expressions holding bcsync's own
nodes; ``for_dialect`` lowers them (and any tree they were embedded in) to plain sqlglot
expressions of one dialect, and ``render`` does that and writes the SQL. Sending a tree that still
holds bcsync's nodes through ``Expression.sql`` fails loudly (sqlglot refuses unknown nodes)
rather than writing wrong SQL. Pass ``dialect=`` to ``pk_text``/``row_hash`` to get a lowered
expression at once. For example::

    query = exp.select(
        pk_text("id", schema.field("id").type, table="q").as_("bcsync_pk"),
        row_hash([(n, schema.field(n).type) for n in hashed], mapping, table="q").as_("h"),
    ).from_(...)
    sql = render(query, session.dialect)

Columns are quoted identifiers (case as given), optionally qualified by ``table``, as they appear
in ``SELECT * FROM (<model>) q``. The SQL reads each column by its Arrow type *as the warehouse's
reader reports it* (``bcsync.warehouse.arrow_rows``), its "kind" here:

============  =====================================================================================
kind          canonical text in the warehouse
============  =====================================================================================
integer       the cast to text (also decimals of scale 0)
decimal       the cast to text with trailing fraction zeros and dot trimmed (PostgreSQL:
              ``trim_scale``; DuckDB: ``rowhash``'s own expression)
decimal_text  ``DECIMAL_TEXT`` columns: in the warehouse the raw numeric (or PostgreSQL ``money``),
              trimmed likewise; PostgreSQL NaN/±Infinity as ``nan``/``inf``/``-inf``
float         integral values below 1e38 as integer digits (PostgreSQL: exact even above 2**63,
              where ``float8::numeric`` would round to 15 digits), non-finite ``nan``/``inf``,
              others the dialect's shortest text (PostgreSQL: needs ``extra_float_digits`` >= 1,
              which bcsync's sessions pin, and writes exponents as DuckDB does: ``1e-07``)
boolean       the cast to text: ``true``/``false`` in all four dialects
string        the cast to text, escaped (``\`` → ``\\``, U+001F → ``\u``)
date          ``YYYY-MM-DD`` (PostgreSQL: the cast, under ``DateStyle = ISO``, pinned by bcsync)
timestamp     ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; with a time zone, converted to UTC first
time          the cast to text (PostgreSQL writes it as DuckDB does)
binary        upper-case hex, as DuckDB's ``hex()``
uuid          lower-case text (PostgreSQL's ``uuid`` reaches Arrow as a string: kind string)
json, other   the warehouse's own text (``TO_JSON_STRING`` on BigQuery), escaped: never equal to
              the local hash, whose JSON is re-written by ``canonical_json`` in Python
============  =====================================================================================

DuckDB runs ``rowhash``'s own SQL for every kind (nested values included), so only JSON differs
there. Snowflake and BigQuery are written from their documentation and only checked to parse
back (tests/run/golden/); their float and time texts are not claimed exact.
PostgreSQL: needs 14 or later (``hash_record_extended``; ``trim_scale`` needs 13).

Known limits of the md5 (each costs a re-read): PostgreSQL ``char(n)`` (the reader keeps the
padding, the cast drops it) and other types read as strings whose driver text differs from the
server's cast; dates and timestamps outside years 1-9999. One is worse: a rebuild from the
ledger (``rebuild``) trusts the md5, so a ``char(n)`` value that had no padding and gained some
by a widened column in the same switch of planner is taken as unchanged (not fixed: the md5
would have to read ``char(n)`` as its output text, ``format('%s', …)``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from bcsync.errors import ConfigError
from bcsync.run import rowhash
from bcsync.warehouse.arrow_rows import DECIMAL_TEXT
from bcsync.warehouse.base import is_arrow_json

DIALECTS = ("postgres", "duckdb", "snowflake", "bigquery")
KINDS = frozenset(
    {
        "integer",
        "decimal",
        "decimal_text",
        "float",
        "float32",
        "boolean",
        "string",
        "date",
        "timestamp",
        "timestamptz",
        "time",
        "binary",
        "uuid",
        "json",
        "other",
    }
)
# Kinds whose warehouse text is the local canonical text, per dialect. PostgreSQL and DuckDB are
# tested against the local planner; Snowflake and BigQuery follow their documentation.
EXACT_KINDS: Mapping[str, frozenset[str]] = {
    "postgres": KINDS - {"json", "other"},
    "duckdb": KINDS - {"json"},
    "snowflake": KINDS - {"json", "other", "float", "float32", "time"},
    "bigquery": KINDS - {"json", "other", "float", "float32", "time"},
}
KEY_TYPES_SUPPORTED = frozenset({"integer", "string", "uuid"})
# A field is the canonical text escaped, so that no value imitates a separator or the NULL mark.
_ESCAPED = frozenset({"string", "json", "other"})
# PostgreSQL's own hash of a value is made for hash joins, not to tell values apart: numeric
# ignores the sign (1.5 and -1.5 hash alike), int8, timestamps and time fold 64 bits into 32
# (1 and 4294967296 hash alike), a float zero hashes as NULL does. So each kind is hashed as its
# binary form (``*send``: every byte through ``hash_any``), cast to the type whose form it is.
_POSTGRES_SEND = {
    "integer": ("int8send", "BIGINT"),
    "decimal": ("numeric_send", "NUMERIC"),
    "float": ("float8send", "DOUBLE PRECISION"),
    "float32": ("float4send", "REAL"),
    "boolean": ("boolsend", "BOOLEAN"),
    "date": ("date_send", "DATE"),
    "timestamp": ("timestamp_send", "TIMESTAMP"),
    "timestamptz": ("timestamptz_send", "TIMESTAMPTZ"),
    "binary": ("byteasend", "BYTEA"),
}
# Part of every quick hash, with the mapping: a new scheme or mapping makes every old hash differ.
QUICK_SCHEME = "bcsync-quick-2"  # 2: the tag as a seed (PostgreSQL) or digest (DuckDB)
_PLACEHOLDER = "bcsync_value"
_SEPARATOR = "CHR(31)"


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    """A call sqlglot writes as it is: its own nodes for the formatting functions would rewrite
    the format string (Snowflake's ``'YYYY-MM-DD"T"…'`` lost its quotes around ``T``)."""
    return exp.Anonymous(this=name, expressions=list(args))


def _literal(text: str) -> exp.Expr:
    return exp.Literal.string(text)


# Canonical text per dialect and kind: SQL of that dialect where ``bcsync_value`` is the
# column, or a function building it from the column.
_Template = str | Callable[[exp.Expr], exp.Expr]
_POSTGRES_FLOAT = """CASE
    WHEN bcsync_value <> TRUNC(bcsync_value) THEN CAST(bcsync_value AS TEXT)
    WHEN ABS(bcsync_value) < 9e18 THEN CAST(CAST(bcsync_value AS BIGINT) AS TEXT)
    WHEN ABS(bcsync_value) < 1e38 THEN CAST(TRIM_SCALE(
        CAST(CAST(bcsync_value / POWER(CAST(2 AS DOUBLE PRECISION),
                                       FLOOR(LN(ABS(bcsync_value)) / LN(2)) - 61) AS BIGINT)
             AS NUMERIC)
        * POWER(CAST(2 AS NUMERIC), CAST(FLOOR(LN(ABS(bcsync_value)) / LN(2)) - 61 AS NUMERIC))
    ) AS TEXT)
    WHEN bcsync_value = 'NaN' THEN 'nan'
    WHEN bcsync_value = 'Infinity' THEN 'inf'
    WHEN bcsync_value = '-Infinity' THEN '-inf'
    ELSE CAST(bcsync_value AS TEXT) END"""
# NaN and Infinity compare equal to themselves in PostgreSQL, so the first test keeps them out
# of the finite branches; ``n - n = 0`` holds for finite numerics only (and needs no Infinity
# literal, which PostgreSQL 13 lacks). NULL fails every test: the CASE gives NULL.
_POSTGRES_DECIMAL_TEXT = """CASE
    WHEN CAST(bcsync_value AS NUMERIC) - CAST(bcsync_value AS NUMERIC) = 0
        THEN CAST(TRIM_SCALE(CAST(bcsync_value AS NUMERIC)) AS TEXT)
    WHEN CAST(bcsync_value AS NUMERIC) = 'NaN' THEN 'nan'
    WHEN CAST(bcsync_value AS NUMERIC) > 0 THEN 'inf'
    WHEN CAST(bcsync_value AS NUMERIC) < 0 THEN '-inf' END"""
_ISO = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
_POSTGRES: dict[str, _Template] = {
    "integer": "CAST(bcsync_value AS TEXT)",
    "decimal": "CAST(TRIM_SCALE(bcsync_value) AS TEXT)",
    "decimal_text": _POSTGRES_DECIMAL_TEXT,
    "float": _POSTGRES_FLOAT,
    "boolean": "CAST(bcsync_value AS TEXT)",
    "string": "CAST(bcsync_value AS TEXT)",
    "date": "CAST(bcsync_value AS TEXT)",
    "timestamp": lambda value: _call("TO_CHAR", value, _literal(_ISO)),
    "timestamptz": lambda value: _call(
        "TO_CHAR", exp.AtTimeZone(this=value, zone=exp.Literal.string("UTC")), _literal(_ISO)
    ),
    "time": "CAST(bcsync_value AS TEXT)",
    "binary": "UPPER(ENCODE(bcsync_value, 'hex'))",
    "uuid": "LOWER(CAST(bcsync_value AS TEXT))",
    "json": "CAST(bcsync_value AS TEXT)",
    "other": "CAST(bcsync_value AS TEXT)",
}
# Text of a fixed-point number: trim the fraction's zeros, then a dot left bare.
_TRIMMED = """CASE WHEN CAST(bcsync_value AS {text}) LIKE '%.%0'
    THEN RTRIM(RTRIM(CAST(bcsync_value AS {text}), '0'), '.')
    ELSE CAST(bcsync_value AS {text}) END"""
_SNOWFLAKE_ISO = 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"'
_SNOWFLAKE: dict[str, _Template] = {
    "integer": "CAST(bcsync_value AS VARCHAR)",
    "decimal": _TRIMMED.format(text="VARCHAR"),
    "decimal_text": _TRIMMED.format(text="VARCHAR"),
    "float": """CASE
        WHEN bcsync_value = 'NaN'::FLOAT THEN 'nan'
        WHEN bcsync_value = 'inf'::FLOAT THEN 'inf'
        WHEN bcsync_value = '-inf'::FLOAT THEN '-inf'
        WHEN bcsync_value = TRUNC(bcsync_value) AND ABS(bcsync_value) < 1e38
            THEN CAST(CAST(bcsync_value AS NUMBER(38, 0)) AS VARCHAR)
        ELSE CAST(bcsync_value AS VARCHAR) END""",
    "boolean": "CAST(bcsync_value AS VARCHAR)",
    "string": "CAST(bcsync_value AS VARCHAR)",
    # Explicit formats: the casts follow the session's DATE/TIMESTAMP_OUTPUT_FORMAT.
    "date": lambda value: _call("TO_CHAR", value, _literal("YYYY-MM-DD")),
    "timestamp": lambda value: _call("TO_CHAR", value, _literal(_SNOWFLAKE_ISO)),
    "timestamptz": lambda value: _call(
        "TO_CHAR", _call("CONVERT_TIMEZONE", _literal("UTC"), value), _literal(_SNOWFLAKE_ISO)
    ),
    "time": "CAST(bcsync_value AS VARCHAR)",
    "binary": "HEX_ENCODE(bcsync_value)",
    "uuid": "LOWER(CAST(bcsync_value AS VARCHAR))",
    "json": "CAST(bcsync_value AS VARCHAR)",
    "other": "CAST(bcsync_value AS VARCHAR)",
}
_BIGQUERY_ISO = "%Y-%m-%dT%H:%M:%E6SZ"
_BIGQUERY: dict[str, _Template] = {
    "integer": "CAST(bcsync_value AS STRING)",
    "decimal": _TRIMMED.format(text="STRING"),
    "decimal_text": _TRIMMED.format(text="STRING"),
    "float": """CASE
        WHEN IS_NAN(bcsync_value) THEN 'nan'
        WHEN IS_INF(bcsync_value) THEN IF(bcsync_value > 0, 'inf', '-inf')
        WHEN bcsync_value = TRUNC(bcsync_value) AND ABS(bcsync_value) < 9e18
            THEN CAST(CAST(bcsync_value AS INT64) AS STRING)
        WHEN bcsync_value = TRUNC(bcsync_value) AND ABS(bcsync_value) < 1e38
            THEN CAST(CAST(bcsync_value AS BIGNUMERIC) AS STRING)
        ELSE CAST(bcsync_value AS STRING) END""",
    "boolean": "CAST(bcsync_value AS STRING)",
    "string": "CAST(bcsync_value AS STRING)",
    "date": "CAST(bcsync_value AS STRING)",
    "timestamp": lambda value: _call("FORMAT_DATETIME", _literal(_BIGQUERY_ISO), value),
    "timestamptz": lambda value: _call(
        "FORMAT_TIMESTAMP", _literal(_BIGQUERY_ISO), value, _literal("UTC")
    ),
    "time": "CAST(bcsync_value AS STRING)",
    "binary": "UPPER(TO_HEX(bcsync_value))",
    "uuid": "LOWER(CAST(bcsync_value AS STRING))",
    # CAST(JSON AS STRING) fails unless the JSON is a string; TO_JSON_STRING takes any value.
    "json": "TO_JSON_STRING(bcsync_value)",
    "other": "TO_JSON_STRING(bcsync_value)",
}
_TEMPLATES = {"postgres": _POSTGRES, "snowflake": _SNOWFLAKE, "bigquery": _BIGQUERY}
_FLOAT32_AS_DOUBLE = {
    "postgres": "DOUBLE PRECISION",
    "snowflake": "DOUBLE",
    "bigquery": "FLOAT64",
}


class CanonicalText(exp.Expression):
    """The canonical text of ``this`` (a column) read as ``kind``; NULL when it is NULL.

    ``duckdb_type`` is the DuckDB type the local planner sees for the column (DuckDB lowers to
    ``rowhash``'s own SQL for it)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": True, "duckdb_type": True}


class RowField(exp.Expression):
    """One field of the row text: the canonical text of ``this`` escaped, or the NULL marker."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": True, "duckdb_type": True}


class RowMd5(exp.Expression):
    """md5 (lower-case hex) of the row text: ``expressions`` are its fields, in order."""

    arg_types: ClassVar[dict[str, bool]] = {"expressions": True}


def kind_of(arrow_type: pa.DataType) -> str:
    """The kind (see the module docstring) of a column of ``arrow_type``."""
    if arrow_type == DECIMAL_TEXT:
        return "decimal_text"
    if is_arrow_json(arrow_type):
        return "json"
    if isinstance(arrow_type, pa.BaseExtensionType):
        return "uuid" if arrow_type.extension_name == "arrow.uuid" else "other"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_decimal(arrow_type):
        return "decimal" if arrow_type.scale > 0 else "integer"
    if pa.types.is_float64(arrow_type):
        return "float"
    if pa.types.is_floating(arrow_type):
        return "float32"
    return _simple_kind(arrow_type)


def _simple_kind(arrow_type: pa.DataType) -> str:
    checks = (
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_string_view, "string"),
        (pa.types.is_date, "date"),
        (pa.types.is_time, "time"),
        (pa.types.is_binary, "binary"),
        (pa.types.is_large_binary, "binary"),
        (pa.types.is_fixed_size_binary, "binary"),
    )
    for check, kind in checks:
        if check(arrow_type):
            return kind
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    return "other"


def is_exact(arrow_type: pa.DataType, dialect: str) -> bool:
    """Whether a column of ``arrow_type`` hashes in ``dialect`` exactly as the local planner."""
    return kind_of(arrow_type) in EXACT_KINDS[dialect]


def check_key_type(column: str, arrow_type: pa.DataType) -> None:
    """Raise ``ConfigError`` naming ``column`` unless its key text in SQL is the local one."""
    if kind_of(arrow_type) not in KEY_TYPES_SUPPORTED:
        raise ConfigError(
            f"primary key column {column!r} is of type {arrow_type}: planner: warehouse "
            "supports integer, text and uuid keys only (use planner: local for this sync)"
        )


def pk_text(
    column: str, arrow_type: pa.DataType, *, table: str | None = None, dialect: str | None = None
) -> exp.Expr:
    """The canonical text of key ``column`` (NULL when NULL), as ``PlannedRow.pk`` holds it.

    Call ``check_key_type`` first: other key types have no text equal to the local one."""
    node = CanonicalText(
        this=_column(column, table), kind=kind_of(arrow_type), duckdb_type=_duckdb_type(arrow_type)
    )
    return node if dialect is None else for_dialect(node, dialect)


def row_hash(
    columns: Sequence[tuple[str, pa.DataType]],
    mapping: str,
    *,
    table: str | None = None,
    dialect: str | None = None,
) -> exp.Expr:
    """The row hash of ``columns`` (the hashed ones: name and Arrow type) under ``mapping``.

    Fields go in column-name order; a non-empty ``mapping`` is one more constant field, named
    ``"\\x00mapping"`` so that it sorts first, as ``bcsync.run.planner.sql`` does."""
    fields: dict[str, exp.Expr] = {}
    for name, arrow_type in columns:
        fields[name] = RowField(
            this=_column(name, table),
            kind=kind_of(arrow_type),
            duckdb_type=_duckdb_type(arrow_type),
        )
    if mapping:
        fields["\x00mapping"] = exp.Literal.string(mapping)
    node = RowMd5(expressions=[fields[name] for name in sorted(fields)])
    return node if dialect is None else for_dialect(node, dialect)


def quick_hash(
    columns: Sequence[tuple[str, pa.DataType]], mapping: str, *, table: str | None, dialect: str
) -> exp.Expr:
    """The quick hash (see the module docstring) of ``columns`` under ``mapping``, as text of
    ``dialect``: what the sync's table holds for a clean row and the diff compares."""
    if dialect not in ("postgres", "duckdb"):
        return row_hash(columns, mapping, table=table, dialect=dialect)
    ordered = sorted(columns, key=lambda column: column[0])
    # The columns' types are part of it: DuckDB's hash() of 150 (INTEGER) is that of 1.50
    # (DECIMAL(10,2)), of true that of 1, and text and JSON reach PostgreSQL's as the same text.
    types = ";".join(f"{name}:{arrow_type}" for name, arrow_type in ordered)
    # The tag goes in as its digest: hashing 600 characters of mapping with every row was a
    # quarter of the hash's cost (1.7 of 7 CPU-s per 10M rows). PostgreSQL takes it as the seed
    # and first field.
    named = f"{QUICK_SCHEME}|{mapping}|{types}".encode()
    tag = hashlib.md5(named, usedforsecurity=False).digest()  # a FIPS host refuses md5 else
    if dialect == "duckdb":
        return _duckdb_quick(ordered, f"{QUICK_SCHEME}|{tag.hex()}", table)
    seed = exp.cast(
        exp.Literal.number(int.from_bytes(tag[:8], "big", signed=True)),
        exp.DataType.build("BIGINT"),
    )
    # And its first field: a NULL field adds nothing to the record's hash, whatever the seed,
    # so a row of NULLs alone would hash alike under every mapping.
    parts: list[exp.Expr] = [seed]
    for name, arrow_type in ordered:
        kind, column = kind_of(arrow_type), _column(name, table)
        if kind == "integer" and pa.types.is_decimal(arrow_type):
            kind = "decimal"  # a numeric of scale 0
        if kind in _POSTGRES_SEND:
            function, sql_type = _POSTGRES_SEND[kind]
            cast = exp.cast(column, exp.DataType.build(sql_type, dialect="postgres"))
            parts.append(exp.Anonymous(this=function, expressions=[cast]))
        elif kind == "string":
            text = exp.cast(column, exp.DataType.build("text"))
            parts.append(exp.Collate(this=text, expression=exp.to_identifier("C", quoted=True)))
            # The cast drops a char(n)'s padding, which the reader keeps: the value's size counts
            # it (any type has one, an enum too; a size that differs for equal text, stored
            # compressed or not, only costs a re-read). ``format('%s', …)`` was exact but 2 s
            # slower per 10M rows of 4 text columns.
            parts.append(exp.Anonymous(this="PG_COLUMN_SIZE", expressions=[column]))
        else:
            field = RowField(this=column, kind=kind, duckdb_type=_duckdb_type(arrow_type))
            parts.append(for_dialect(field, dialect))
    row = exp.Anonymous(this="ROW", expressions=parts)
    hashed = exp.Anonymous(this="HASH_RECORD_EXTENDED", expressions=[row, seed.copy()])
    return exp.cast(hashed, exp.DataType.build("text"))


def _duckdb_quick(
    columns: Sequence[tuple[str, pa.DataType]], tag: str, table: str | None
) -> exp.Expr:
    """DuckDB's quick hash as the local planner's cache makes it (``rowhash.quick_hash_sql``),
    the tag one more field; a kind it does not read from DuckDB itself as its field text."""
    parts = [("\x00tag", exp.Literal.string(tag).sql("duckdb"), duckdb.sqltype("VARCHAR"))]
    for name, arrow_type in columns:
        column: exp.Expr = _column(name, table)
        dtype = duckdb.sqltype(_duckdb_type(arrow_type))
        if kind_of(arrow_type) == "decimal_text":
            column = _field(
                RowField(this=column, kind="decimal_text", duckdb_type=str(dtype)), "duckdb"
            )
            dtype = duckdb.sqltype("VARCHAR")
        elif str(dtype) == "VARCHAR":  # an ENUM hashes as its index: its label instead
            column = exp.cast(column, exp.DataType.build("VARCHAR", dialect="duckdb"))
        parts.append((name, column.sql("duckdb"), dtype))
    hashed = sqlglot.parse_one(rowhash.quick_hash_sql(parts), read="duckdb")
    return exp.cast(hashed, exp.DataType.build("text"))


def for_dialect(expression: exp.Expr, dialect: str) -> exp.Expr:
    """A copy of ``expression`` whose bcsync nodes are plain sqlglot SQL of ``dialect``."""
    if dialect not in DIALECTS:
        raise ValueError(f"no row-hash SQL for dialect {dialect!r} (one of {', '.join(DIALECTS)})")
    return expression.transform(functools.partial(_lower, dialect=dialect))


def render(expression: exp.Expr, dialect: str) -> str:
    """``expression`` (holding bcsync nodes or not) as SQL text of ``dialect``."""
    return for_dialect(expression, dialect).sql(dialect=dialect)


def _lower(node: exp.Expr, *, dialect: str) -> exp.Expr:
    if isinstance(node, CanonicalText):
        return _canonical(node, dialect)
    if isinstance(node, RowField):
        return _field(node, dialect)
    if isinstance(node, RowMd5):
        return _md5(node, dialect)
    return node


def _canonical(node: CanonicalText | RowField, dialect: str) -> exp.Expr:
    value: exp.Expr = node.this
    kind = str(node.args["kind"])
    if dialect == "duckdb":
        if kind == "decimal_text":  # not from a DuckDB reader, whose decimals are DECIMALs
            return _template(_TRIMMED.format(text="VARCHAR"), dialect, value)
        dtype = duckdb.sqltype(str(node.args["duckdb_type"]))
        return sqlglot.parse_one(rowhash.canonical_sql(value.sql("duckdb"), dtype), read="duckdb")
    if kind == "float32":
        value = exp.cast(value, exp.DataType.build(_FLOAT32_AS_DOUBLE[dialect], dialect=dialect))
        kind = "float"
    return _template(_TEMPLATES[dialect][kind], dialect, value)


def _field(node: RowField, dialect: str) -> exp.Expr:
    kind = str(node.args["kind"])
    text = _canonical(node, dialect)
    if dialect == "duckdb" and kind != "decimal_text":
        dtype = duckdb.sqltype(str(node.args["duckdb_type"]))
        field = rowhash.field_sql(text.sql("duckdb"), dtype)
        return sqlglot.parse_one(field, read="duckdb")
    if kind in _ESCAPED:
        text = _template(
            "REPLACE(REPLACE(bcsync_value, '\\', '\\\\'), CHR(31), '\\u')", "postgres", text
        )
    return exp.Coalesce(this=text, expressions=[exp.Literal.string(rowhash.NULL_MARKER)])


def _md5(node: RowMd5, dialect: str) -> exp.Expr:
    fields = [_lower(field, dialect=dialect) for field in node.expressions]
    if not fields:
        text: exp.Expr = exp.Literal.string("")
    elif dialect == "bigquery":  # no CONCAT_WS there; sqlglot would write it anyway
        text = exp.Anonymous(
            this="ARRAY_TO_STRING",
            expressions=[exp.Array(expressions=fields), sqlglot.parse_one(_SEPARATOR)],
        )
    else:
        # exp.ConcatWs would be wrapped by sqlglot in a NULL test per field: fields are never NULL.
        text = exp.Anonymous(this="CONCAT_WS", expressions=[sqlglot.parse_one(_SEPARATOR), *fields])
    return exp.MD5(this=text)  # BigQuery: sqlglot writes TO_HEX(MD5(…)), MD5 giving bytes there


def _template(sql: _Template, dialect: str, value: exp.Expr) -> exp.Expr:
    """``sql`` (of ``dialect``) with ``value`` in place of ``bcsync_value``."""
    if not isinstance(sql, str):
        return sql(value.copy())

    def substitute(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.name == _PLACEHOLDER and not node.table:
            return value.copy()
        return node

    return _parsed(sql, dialect).transform(substitute)


@functools.lru_cache(maxsize=256)
def _parsed(sql: str, dialect: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read=dialect)


def _column(name: str, table: str | None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


@functools.lru_cache(maxsize=256)
def _duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type the local planner gives a streamed column of ``arrow_type``."""
    empty: Any = pa.schema([("c", arrow_type)]).empty_table()
    with duckdb.connect() as conn:
        return str(conn.from_arrow(empty).types[0])
