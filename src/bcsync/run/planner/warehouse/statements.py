"""Every statement the warehouse planner sends about its own tables, built once as sqlglot
expressions and written in the warehouse's dialect (postgres, duckdb, snowflake, bigquery).

PostgreSQL and DuckDB run these in the tests; the Snowflake and BigQuery text is only generated
and kept as golden files (``tests/run/golden/warehouse_planner_<dialect>.sql``). Where the
dialects differ in what they can do, not just in spelling, the difference is made here:

- keys: ``pk TEXT PRIMARY KEY`` everywhere but BigQuery, whose tables take only
  ``PRIMARY KEY (pk) NOT ENFORCED``; Snowflake accepts the column constraint but does not
  enforce it either. Nothing relies on enforcement: rows are deleted before they are inserted;
- existence: ``information_schema`` of the current database; BigQuery has one per dataset (so a
  table is looked for only once its dataset is known to exist) and a region-wide
  ``INFORMATION_SCHEMA.SCHEMATA`` (without a region qualifier, BigQuery reads the US region);
- staging: a temporary table, except in BigQuery where temporary tables live only inside a
  script or session: there it is an ordinary table of the planner's dataset, dropped after use.

Column names (``pk``, ``row_hash``, ``sync``, ``token``, ``keep``) stay unquoted, so Snowflake
folds them to upper case in every statement alike; schema and table names are quoted as given.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from bcsync.run.planner.warehouse.hash_sql import DIALECTS

__all__ = ["DIALECTS", "TOKENS", "PlannerSql"]

TOKENS = "bcsync_tokens"
_MODEL = "bcsync_model_sql"  # stands in for the model's SQL while sqlglot writes a statement


def _quoted(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _text() -> exp.DataType:
    return exp.DataType.build("text")


def _column(name: str, kind: exp.DataType, *constraints: exp.ColumnConstraintKind) -> exp.ColumnDef:
    return exp.ColumnDef(
        this=exp.to_identifier(name),
        kind=kind,
        constraints=[exp.ColumnConstraint(kind=c) for c in constraints],
    )


def _count() -> exp.Expr:
    return exp.func("COUNT", exp.Star())


@dataclass(frozen=True)
class PlannerSql:
    """The planner's statements for one sync, as text of ``dialect``."""

    dialect: str
    schema: str
    sync: str

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise ValueError(f"no planner SQL for dialect {self.dialect!r}")

    # -- names -----------------------------------------------------------------------------

    def table(self) -> exp.Table:
        """The sync's table of hashes."""
        return exp.Table(this=_quoted(self.sync), db=_quoted(self.schema))

    def tokens(self) -> exp.Table:
        return exp.Table(this=_quoted(TOKENS), db=_quoted(self.schema))

    def staging(self, name: str) -> exp.Table:
        """Where one batch of keys is staged (see the module docstring)."""
        if self.dialect == "bigquery":
            return exp.Table(this=_quoted(name), db=_quoted(self.schema))
        return exp.to_table(name)

    def render(self, expression: exp.Expr) -> str:
        return expression.sql(dialect=self.dialect)

    # -- existence -------------------------------------------------------------------------

    def schema_exists(self) -> str:
        """One row, one count: 1 when the planner's schema exists."""
        if self.dialect == "bigquery":
            source = exp.Table(this=_quoted("INFORMATION_SCHEMA.SCHEMATA"))
        else:
            source = exp.table_("schemata", db="information_schema")
        where = exp.column("schema_name").eq(exp.Literal.string(self.schema))
        return self.render(exp.select(_count()).from_(source).where(where))

    def table_exists(self, table: str) -> str:
        """One row, one count: 1 when ``table`` of the planner's schema exists (BigQuery: ask
        only once the schema is known to exist)."""
        where: exp.Expr = exp.column("table_name").eq(exp.Literal.string(table))
        if self.dialect == "bigquery":
            source = exp.Table(this=_quoted("INFORMATION_SCHEMA.TABLES"), db=_quoted(self.schema))
        else:
            source = exp.table_("tables", db="information_schema")
            where = exp.column("table_schema").eq(exp.Literal.string(self.schema)).and_(where)
        return self.render(exp.select(_count()).from_(source).where(where))

    def table_columns(self) -> str:
        """The column names of the sync's table: a table of hashes has ``pk`` and ``row_hash``
        only (``PlannerTables`` refuses to replace or drop any other)."""
        where: exp.Expr = exp.column("table_name").eq(exp.Literal.string(self.sync))
        if self.dialect == "bigquery":
            source = exp.Table(this=_quoted("INFORMATION_SCHEMA.COLUMNS"), db=_quoted(self.schema))
        else:
            source = exp.table_("columns", db="information_schema")
            where = exp.column("table_schema").eq(exp.Literal.string(self.schema)).and_(where)
        return self.render(exp.select("column_name").from_(source).where(where))

    # -- creating and dropping -------------------------------------------------------------

    def create_schema(self) -> str:
        return self.render(exp.Create(this=exp.Table(db=_quoted(self.schema)), kind="SCHEMA"))

    def create_tokens(self) -> str:
        return self._create(self.tokens(), ("sync", "token"), not_null="token")

    def create_table(self) -> str:
        created = self._create(self.table(), ("pk", "row_hash"))
        if self.dialect == "postgres":
            # Room on every page: a run's dirty marks update its keys' rows in place, and with
            # room beside them PostgreSQL updates them without new index entries (HOT).
            created += " WITH (fillfactor = 90)"
        return created

    def drop_table(self) -> str:
        return self.render(exp.Drop(tables=[self.table()], kind="TABLE", exists=True))

    def settle_table(self) -> str | None:
        """PostgreSQL: ``VACUUM (ANALYZE)`` of the sync's table once a rebuild filled it. The
        first read of freshly written rows marks each as committed (hint bits), which made the
        first diff after a rebuild 3 s slower at 10M rows; the VACUUM does it within the
        rebuild, which took no measurably longer. None elsewhere."""
        if self.dialect != "postgres":
            return None
        return f"VACUUM (ANALYZE) {self.render(self.table())}"

    def _create(
        self, table: exp.Table, columns: tuple[str, str], *, not_null: str | None = None
    ) -> str:
        key, other = columns
        rest: list[exp.ColumnConstraintKind] = (
            [exp.NotNullColumnConstraint()] if other == not_null else []
        )
        if self.dialect == "bigquery":
            definitions: list[exp.Expr] = [
                _column(key, _text()),
                _column(other, _text(), *rest),
                exp.PrimaryKey(expressions=[exp.to_identifier(key)], options=["NOT ENFORCED"]),
            ]
        else:
            definitions = [
                _column(key, _text(), exp.PrimaryKeyColumnConstraint()),
                _column(other, _text(), *rest),
            ]
        schema = exp.Schema(this=table, expressions=definitions)
        return self.render(exp.Create(this=schema, kind="TABLE"))

    # -- the token -------------------------------------------------------------------------

    def _this_sync(self) -> exp.Expr:
        return exp.column("sync").eq(exp.Literal.string(self.sync))

    def read_token(self) -> str:
        return self.render(exp.select("token").from_(self.tokens()).where(self._this_sync()))

    def delete_token(self) -> str:
        return self.render(exp.delete(self.tokens(), where=self._this_sync()))

    def insert_token(self, token: str) -> str:
        values = exp.values([(exp.Literal.string(self.sync), exp.Literal.string(token))])
        return self.render(exp.insert(values, self.tokens(), columns=["sync", "token"]))

    # -- counts ----------------------------------------------------------------------------

    def count_table(self) -> str:
        return self.render(exp.select(_count()).from_(self.table()))

    def count_model(self, model: str) -> str:
        """The rows of the model's SQL ``model`` (sent as written, inside parentheses)."""
        query = exp.select(_count()).from_(exp.to_table(_MODEL).as_("bcsync_q"))
        return self.render(query).replace(_MODEL, f"({model})", 1)

    # -- staging and replacing -------------------------------------------------------------

    def create_staging(self, name: str) -> str:
        columns = [
            _column("pk", _text()),
            _column("row_hash", _text()),
            _column("keep", exp.DataType.build("boolean")),
        ]
        temporary = self.dialect != "bigquery"
        properties = exp.Properties(expressions=[exp.TemporaryProperty()]) if temporary else None
        return self.render(
            exp.Create(
                this=exp.Schema(this=self.staging(name), expressions=columns),
                kind="TABLE",
                properties=properties,
            )
        )

    def delete_staged(self, name: str) -> str:
        """The table's rows of every staged key."""
        staged = exp.select("pk").from_(self.staging(name))
        return self.render(exp.delete(self.table(), where=exp.column("pk").isin(query=staged)))

    def dirty_staged(self, name: str) -> str:
        """The table's rows of every staged key made dirty (NULL hash), in place: one pass
        where a DELETE and an INSERT took two (1.5 of 5 s for 100,000 keys of 10M)."""
        staged = exp.select("pk").from_(self.staging(name))
        return self.render(
            exp.update(
                self.table(),
                {"row_hash": exp.null()},
                where=exp.column("pk").isin(query=staged),
            )
        )

    def insert_staged(self, name: str) -> str:
        """The staged keys that stay, with their hashes (NULL: dirty)."""
        kept = exp.select("pk", "row_hash").from_(self.staging(name)).where(exp.column("keep"))
        return self.render(exp.insert(kept, self.table(), columns=["pk", "row_hash"]))

    def drop_staging(self, name: str) -> str:
        return self.render(exp.Drop(tables=[self.staging(name)], kind="TABLE", exists=True))
