"""The diff in the warehouse: one streamed query returns only the model rows whose quick hash is
not a clean hash of the sync's table (candidates) and the table's keys the model lacks (gone).

Its rows land in a temp table of the snapshot's DuckDB (``Diff.table``) with the model's
carried columns, as the local planner's stream would bring them (``StreamSource``: JSON made
canonical on the way), plus ``bcsync_pk`` (key text), ``bcsync_hash`` (the warehouse's row
quick hash), ``bcsync_present`` (NULL: a gone key) and ``bcsync_known`` (the table's key, if any).

Duplicate keys among clean rows never reach the diff: they are found by counting. With every
clean key once in the model, the model has ``table - gone - known candidate keys + candidates``
rows; when it has more, the diff is read again with every row of a duplicated key in it, for
the local classifier to list as invalid.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from sqlglot import exp

from bcsync.config.project import ModelConfig
from bcsync.errors import ConfigError
from bcsync.run.planner.sources import StreamSource, check_columns
from bcsync.run.planner.warehouse.hash_sql import check_key_type, pk_text, quick_hash, row_hash
from bcsync.run.planner.warehouse.report import PlannerReport, counted
from bcsync.run.planner.warehouse.tables import PlannerTables
from bcsync.run.rowhash import canonical_sql, quote_ident
from bcsync.warehouse.base import model_select

# Stands in for the model's SQL while sqlglot writes a query; drawn afresh by each process, so
# that no text of the user's in the query (a mapping naming a field so) is taken for it.
_MODEL = f"bcsync_model_{uuid.uuid4().hex}"
# The diff's own columns, beside the model's carried ones in one row: a model column of the same
# name (DuckDB: in any case) would be read as the other, and its value sent (hostile tests).
RESERVED = ("bcsync_pk", "bcsync_hash", "bcsync_present", "bcsync_known")
# Rows per batch read out of the diff: PostgreSQL's rows pass through Python objects on their
# way to Arrow, ~0.7 KB a row of 10 columns, so the reader's default 65,536 held ~45 MB at once
# (a sixth of the 10M-row benchmark's peak, issue 14).
BATCH_ROWS = 8192


@dataclass(frozen=True)
class Diff:
    table: str  # the temp table of candidates and gone keys (see the module docstring)
    scanned: int  # the model's rows
    decimals: frozenset[str]  # carried columns of decimals as canonical text


def prepare_diff(
    tables: PlannerTables,
    model: ModelConfig,
    *,
    carried: Sequence[str],
    hashed: Sequence[str],
    mapping: str,
) -> DiffQuery:
    """The diff's SQL for the model's columns as the warehouse types them (one empty read)."""
    empty = model_select(model, sync=tables.sync, dialect=tables.dialect, limit=0)
    schema = tables.session.stream(empty).read_all().schema
    types = {field.name: field.type for field in schema}
    check_columns(list(schema.names), model.primary_key, hashed)
    check_key_type(model.primary_key, types[model.primary_key])
    _check_reserved(carried)
    select = model_select(model, sync=tables.sync, dialect=tables.dialect)
    return DiffQuery(tables, model.primary_key, carried, hashed, types, mapping, select)


def read_diff(
    query: DiffQuery,
    conn: duckdb.DuckDBPyConnection,
    tag: str,
    report: PlannerReport,
    *,
    in_table: int,
) -> Diff:
    """Run the diff in the warehouse and keep its rows in a temp table on ``conn``;
    ``in_table``: the rows of the sync's table (counted by the token check)."""
    tables, session, carried = query.tables, query.tables.session, query.carried
    scanned = int(session.query(tables.statements.count_model(query.model))[0][0])
    table = f"bcsync_wdiff_{tag}"
    decimals = _read(
        conn, tag, table, session.stream(query.sql(), batch_rows=BATCH_ROWS), carried, report
    )
    gone, candidates, known = conn.execute(
        f"""SELECT count(*) FILTER (WHERE bcsync_present IS NULL),
                   count(*) FILTER (WHERE bcsync_present),
                   count(DISTINCT bcsync_known) FILTER (WHERE bcsync_present)
            FROM {table}"""
    ).fetchall()[0]
    if scanned != in_table - int(gone) - int(known) + int(candidates):
        conn.execute(f"DROP TABLE {table}")
        decimals = _read(
            conn,
            tag,
            table,
            session.stream(query.sql(duplicates=True), batch_rows=BATCH_ROWS),
            carried,
            report,
        )
    _local_keys(conn, table, query.primary_key)
    report.scanned = scanned
    return Diff(table, scanned, decimals)


def _check_reserved(carried: Sequence[str]) -> None:
    for name in carried:
        if name.lower() in RESERVED:
            raise ConfigError(
                f"model column {name!r} has a name the warehouse planner uses itself "
                f"({', '.join(RESERVED)}); rename it in the model (SELECT ... AS another_name) "
                "or use planner: local"
            )


def _local_keys(conn: duckdb.DuckDBPyConnection, table: str, primary_key: str) -> None:
    """Make ``bcsync_pk`` of each model row the key text the ledger has (the local planner's,
    from the carried key column), so the ledger entries and the write-back find the row.

    The warehouse's key text is the same wherever ``hash_sql`` is exact; where it is not (a
    PostgreSQL ``char(n)`` key: the driver keeps the padding a cast to text drops), the row
    was otherwise taken for a new one every run (sent again) and its ledger key never written
    to the table (W1 broken: the row leaving the model unseen). With the ledger's key in the
    table the warehouse's key never matches it: such rows are read out every run (a cost only)
    and their table key is reported gone each time, which the classifier sees is not."""
    column = quote_ident(primary_key)
    kind = conn.sql(f"SELECT {column} FROM temp.{table}").types[0]
    conn.execute(
        f"UPDATE temp.{table} SET bcsync_pk = {canonical_sql(column, kind)} WHERE bcsync_present"
    )


def _read(
    conn: duckdb.DuckDBPyConnection,
    tag: str,
    table: str,
    reader: pa.RecordBatchReader,
    carried: Sequence[str],
    report: PlannerReport,
) -> frozenset[str]:
    source = StreamSource(conn, f"wdiff_{tag}", counted(reader, report), carried)
    try:
        conn.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {source.relation}")
    finally:
        source.close()
    return source.decimals


@dataclass(frozen=True)
class DiffQuery:
    """The diff's statements for one model, its columns as the warehouse types them."""

    tables: PlannerTables
    primary_key: str
    carried: Sequence[str]
    hashed: Sequence[str]
    types: dict[str, pa.DataType]
    mapping: str
    model: str  # the model's SQL

    def _key(self) -> exp.Expr:
        column = self.primary_key
        return pk_text(column, self.types[column], table="q", dialect=self.tables.dialect)

    def _columns(self) -> list[tuple[str, pa.DataType]]:
        return [(name, self.types[name]) for name in self.hashed]

    def rebuild(self, staging: str) -> str | None:
        """After a rebuild from the ledger, whose hashes are md5s: the statement that fills the
        sync's table from the md5s staged in ``staging`` (``pk``, ``row_hash``), each key whose
        model row still has that md5 with the row's quick hash instead, the others dirty (so a
        sync switching planner reads out only what changed). None where the md5 is the quick
        hash (Snowflake, BigQuery): the md5s go into the table as they are. A key repeated in
        the model takes one of its rows' quick hashes (``ON CONFLICT DO NOTHING``); the diff's
        count then finds the repeat and reads every copy out.

        One INSERT into the new table, where an UPDATE of every row after uploading took 300 to
        416 s at 10M rows and left the table twice its size (issue 14's benchmark)."""
        dialect, columns = self.tables.dialect, self._columns()
        if dialect not in ("postgres", "duckdb"):
            return None
        staged = exp.column("row_hash", "s")
        still = exp.EQ(
            this=staged, expression=row_hash(columns, self.mapping, table="q", dialect=dialect)
        )
        quick = quick_hash(columns, self.mapping, table="q", dialect=dialect)
        select = (
            exp.select(
                exp.column("pk", "s"),
                exp.Case(ifs=[exp.If(this=still, true=quick)]),
            )
            .from_(self.tables.statements.staging(staging).as_("s"))
            .join(
                exp.to_table(_MODEL).as_("q"),
                on=exp.EQ(this=exp.column("pk", "s"), expression=self._key()),
                join_type="left",
            )
        )
        insert = exp.insert(select, self.tables.table(), columns=["pk", "row_hash"])
        insert.set(
            "conflict",
            exp.OnConflict(action=exp.var("DO NOTHING"), conflict_keys=[exp.to_identifier("pk")]),
        )
        return self.tables.sql(insert).replace(_MODEL, f"({self.model})")

    def sql(self, *, duplicates: bool = False) -> str:
        """The diff query (see the module docstring)."""
        dialect = self.tables.dialect
        key = self._key()
        digest = quick_hash(self._columns(), self.mapping, table="q", dialect=dialect)
        inner = exp.select(
            exp.alias_(key, "bcsync_pk"),
            exp.alias_(digest, "bcsync_hash"),
            exp.alias_(exp.true(), "bcsync_present"),
            *(exp.column(n, "q", quoted=True) for n in self.carried),
        ).from_(exp.to_table(_MODEL).as_("q"))
        m_pk, s_pk = exp.column("bcsync_pk", "m"), exp.column("pk", "s")
        s_hash = exp.column("row_hash", "s")
        wanted = exp.or_(
            exp.column("bcsync_present", "m").is_(exp.null()),
            s_pk.is_(exp.null()),
            s_hash.is_(exp.null()),
            exp.NEQ(this=s_hash, expression=exp.column("bcsync_hash", "m")),
        )
        if duplicates:
            repeated = (
                exp.select(exp.alias_(key, "pk"))
                .from_(exp.to_table(_MODEL).as_("q"))
                .group_by(key)
                .having(
                    exp.GT(this=exp.func("COUNT", exp.Star()), expression=exp.Literal.number(1))
                )
            )
            wanted = exp.or_(wanted, m_pk.isin(query=repeated))
        select = (
            exp.select(
                "m.bcsync_pk",
                "m.bcsync_hash",
                "m.bcsync_present",
                *(exp.column(n, "m", quoted=True) for n in self.carried),
                exp.alias_(s_pk, "bcsync_known"),
            )
            .from_(inner.subquery("m"))
            .join(
                self.tables.table().as_("s"),
                on=exp.EQ(this=s_pk, expression=m_pk),
                join_type="FULL OUTER",
            )
            .where(wanted)
        )
        return self.tables.sql(select).replace(_MODEL, f"({self.model})")


def model_relation(table: str, carried: Sequence[str]) -> str:
    """The diff's model rows as a FROM item, with the model's carried columns."""
    columns = ", ".join(quote_ident(name) for name in carried)
    return f"(SELECT {columns} FROM temp.{table} WHERE bcsync_present) AS bcsync_model"
