"""The warehouse planner's tables, and every statement that writes them (sqlglot-built, so the
SQL of any warehouse dialect can be generated).

``<schema>.<sync>``: ``(pk TEXT PRIMARY KEY, row_hash TEXT NULL)``, the sync's cache of clean
hashes (invariants W1 and W2 in ``bcsync.run.planner.warehouse``). ``<schema>.bcsync_tokens``:
``(sync, token)``, the token of the ledger copy each sync's table was last made consistent
with; the snapshot keeps the same token (``Snapshot.warehouse_token``) until anything else
writes it.

Rows are replaced, never updated: each write is a DELETE of the keys then an INSERT of those
that stay, from a staging table, in one transaction, which every SQL warehouse can do
(no ``ON CONFLICT`` or ``MERGE`` needed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from bcsync.warehouse.session import WarehouseSession

TOKENS = "bcsync_tokens"
BATCH_ROWS = 50_000  # rows per writing transaction
_HASHES = pa.schema([("pk", pa.string()), ("row_hash", pa.string())])


def _quoted(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


@dataclass(frozen=True)
class PlannerTables:
    """The planner tables of one sync in one warehouse session."""

    session: WarehouseSession
    schema: str
    sync: str

    @property
    def dialect(self) -> str:
        return self.session.dialect

    def table(self) -> exp.Table:
        """The sync's table of hashes."""
        return exp.Table(this=_quoted(self.sync), db=_quoted(self.schema))

    def sql(self, expression: exp.Expression) -> str:
        return expression.sql(dialect=self.dialect)

    def name(self) -> str:
        return self.sql(self.table())

    def _tokens(self) -> str:
        return self.sql(exp.Table(this=_quoted(TOKENS), db=_quoted(self.schema)))

    def _literal(self, text: str) -> str:
        return self.sql(exp.Literal.string(text))

    # -- reading ---------------------------------------------------------------------------

    def token(self) -> str | None:
        """The token the warehouse holds for the sync (None: no table, or never made)."""
        if not self._exists(TOKENS):
            return None
        rows = self.session.query(
            f"SELECT token FROM {self._tokens()} WHERE sync = {self._literal(self.sync)}"
        )
        return str(rows[0][0]) if rows else None

    def count(self) -> int:
        return int(self.session.query(f"SELECT count(*) FROM {self.name()}")[0][0])

    def _exists(self, table: str | None = None) -> bool:
        rows = self.session.query(
            "SELECT count(*) FROM information_schema.tables "
            f"WHERE table_schema = {self._literal(self.schema)} "
            f"AND table_name = {self._literal(table or self.sync)}"
        )
        return int(rows[0][0]) > 0

    # -- writing ---------------------------------------------------------------------------

    def bootstrap(self, hashes: pa.Table) -> str:
        """Make the sync's table ``hashes`` (``pk``, ``row_hash``) and return its new token.

        The old token goes first and the new one is written last, so a bootstrap cut short
        leaves tokens that differ and the next run bootstraps again."""
        self._ensure_schema()
        token = uuid.uuid4().hex
        with self.session.transaction():
            self.session.execute(
                f"DELETE FROM {self._tokens()} WHERE sync = {self._literal(self.sync)}"
            )
        self.session.execute(f"DROP TABLE IF EXISTS {self.name()}")
        self.session.execute(
            f"CREATE TABLE {self.name()} (pk {self._text()} PRIMARY KEY, row_hash {self._text()})"
        )
        for offset in range(0, hashes.num_rows, BATCH_ROWS):
            self.session.upload(self.name(), hashes.slice(offset, BATCH_ROWS))
        self.session.execute(
            f"INSERT INTO {self._tokens()} (sync, token) "
            f"VALUES ({self._literal(self.sync)}, {self._literal(token)})"
        )
        return token

    def replace(self, hashes: pa.Table) -> None:
        """Set the rows of these keys: ``row_hash`` as given (NULL: dirty), or no row when
        ``keep`` is false. ``BATCH_ROWS`` keys per transaction."""
        for offset in range(0, hashes.num_rows, BATCH_ROWS):
            self._replace_batch(hashes.slice(offset, BATCH_ROWS))

    def _replace_batch(self, batch: pa.Table) -> None:
        staging = f"bcsync_staging_{uuid.uuid4().hex[:12]}"
        text = self._text()
        session = self.session
        session.execute(
            f"CREATE TEMPORARY TABLE {staging} (pk {text}, row_hash {text}, keep BOOLEAN)"
        )
        try:
            session.upload(staging, batch.select(["pk", "row_hash", "keep"]))
            with session.transaction():
                session.execute(f"DELETE FROM {self.name()} WHERE pk IN (SELECT pk FROM {staging})")
                session.execute(
                    f"INSERT INTO {self.name()} (pk, row_hash) "
                    f"SELECT pk, row_hash FROM {staging} WHERE keep"
                )
        finally:
            session.execute(f"DROP TABLE IF EXISTS {staging}")

    def drop(self) -> bool:
        """Drop the sync's table and token; whether there was a table."""
        existed = self._exists()
        if self._exists(TOKENS):
            self.session.execute(
                f"DELETE FROM {self._tokens()} WHERE sync = {self._literal(self.sync)}"
            )
        self.session.execute(f"DROP TABLE IF EXISTS {self.name()}")
        return existed

    def _ensure_schema(self) -> None:
        """The schema and the tokens table, created only when missing: PostgreSQL checks the
        right to create before whether it exists, and a role may use what it cannot create."""
        schemata = self.session.query(
            "SELECT count(*) FROM information_schema.schemata "
            f"WHERE schema_name = {self._literal(self.schema)}"
        )
        if not int(schemata[0][0]):
            self.session.execute(f"CREATE SCHEMA {self.sql(_quoted(self.schema))}")
        if not self._exists(TOKENS):
            self.session.execute(
                f"CREATE TABLE {self._tokens()} "
                f"(sync {self._text()} PRIMARY KEY, token {self._text()} NOT NULL)"
            )

    def _text(self) -> str:
        return self.sql(exp.DataType.build("text"))
