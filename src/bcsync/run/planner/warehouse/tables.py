"""The warehouse planner's tables, and every statement that writes them (written by
``statements`` in the warehouse's dialect, so the SQL of any warehouse dialect can be generated).

``<schema>.<sync>``: ``(pk TEXT PRIMARY KEY, row_hash TEXT NULL)``, the sync's cache of clean
rows' quick hashes (``hash_sql.quick_hash``; invariants W1 and W2 in
``bcsync.run.planner.warehouse``). ``<schema>.bcsync_tokens``: ``(sync, token)``, the token
of the ledger copy each sync's table was last made consistent with; the snapshot keeps the same
token (``Snapshot.warehouse_token``) until anything else writes it.

Each write goes through a staging table, in one transaction: the write-back replaces rows (a
DELETE of the keys, then an INSERT of those that stay), marking keys dirty updates the rows the
diff found and inserts the keys it did not. Every SQL warehouse can do both (no ``ON CONFLICT``
or ``MERGE`` needed, and no enforced primary key).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from bcsync.errors import ConfigError, WarehouseError
from bcsync.run.planner.warehouse.hash_sql import QUICK_SCHEME
from bcsync.run.planner.warehouse.statements import TOKENS, PlannerSql
from bcsync.warehouse.session import WarehouseSession

__all__ = ["BATCH_ROWS", "TOKENS", "PlannerTables"]

BATCH_ROWS = 50_000  # rows per writing transaction


@dataclass(frozen=True)
class PlannerTables:
    """The planner tables of one sync in one warehouse session."""

    session: WarehouseSession
    schema: str
    sync: str

    @property
    def dialect(self) -> str:
        return self.session.dialect

    @property
    def statements(self) -> PlannerSql:
        return PlannerSql(self.dialect, self.schema, self.sync)

    def table(self) -> exp.Table:
        """The sync's table of hashes."""
        return self.statements.table()

    def sql(self, expression: exp.Expr) -> str:
        return self.statements.render(expression)

    def name(self) -> str:
        return self.sql(self.table())

    # -- reading ---------------------------------------------------------------------------

    def token(self) -> str | None:
        """The token the warehouse holds for the sync (None: no table, or never made). A
        token whose table of hashes is gone (dropped by hand) stands for nothing: None, so the
        next run rebuilds the table instead of failing on it for good."""
        with self.named_in_full():
            if not self.exists(TOKENS) or not self.exists():
                return None
            rows = self.session.query(self.statements.read_token())
        return str(rows[0][0]) if rows else None

    def count(self) -> int:
        with self.named_in_full():
            return int(self.session.query(self.statements.count_table())[0][0])

    def exists(self, table: str | None = None) -> bool:
        """Whether ``table`` (default: the sync's) is a table of the planner's schema."""
        statements = self.statements
        if statements.dialect == "bigquery" and not self.schema_exists():
            return False  # BigQuery's TABLES view is the dataset's own: it must exist first
        rows = self.session.query(statements.table_exists(table or self.sync))
        return int(rows[0][0]) > 0

    def schema_exists(self) -> bool:
        return int(self.session.query(self.statements.schema_exists())[0][0]) > 0

    # -- writing ---------------------------------------------------------------------------

    def bootstrap(
        self,
        hashes: pa.Table | pa.RecordBatchReader,
        rebuild: Callable[[str], str | None],
    ) -> str:
        """Make the sync's table from ``hashes`` (``pk``, ``row_hash``: the ledger's md5s; a
        reader is uploaded batch by batch, so a ledger of any size fits in memory) and return
        its new token. ``rebuild`` (``DiffQuery.rebuild``) gives the statement that fills the
        table from the md5s staged in a table of that name, turning those still true of the
        model into quick hashes; where it gives None, the md5s are uploaded into the table.

        The old token goes first and the new one is written last, so a bootstrap cut short
        leaves tokens that differ and the next run bootstraps again."""
        statements, session = self.statements, self.session
        token = new_token()
        staging = _staging_name()
        fill = rebuild(staging)  # built before the first write
        with self.named_in_full():
            self._ensure_schema()
            self._check_ours()
            with session.transaction():
                session.execute(statements.delete_token())
            session.execute(statements.drop_table())
            session.execute(statements.create_table())
            if fill is None:
                self._upload(self.name(), hashes)
            else:
                with self._staged(staging):
                    self._upload(self.sql(statements.staging(staging)), hashes, keep=True)
                    session.execute(fill)
            if (settle := statements.settle_table()) is not None:
                session.execute(settle)
            session.execute(statements.insert_token(token))
        return token

    def _upload(
        self, into: str, hashes: pa.Table | pa.RecordBatchReader, *, keep: bool = False
    ) -> None:
        """Upload ``hashes`` into the table ``into``, batch by batch (``keep``: with the
        staging table's ``keep`` column, NULL)."""
        batches = hashes.to_batches(BATCH_ROWS) if isinstance(hashes, pa.Table) else hashes
        for batch in batches:
            table = pa.Table.from_batches([batch])
            if keep:
                table = table.append_column("keep", pa.nulls(len(table), pa.bool_()))
            self.session.upload(into, table)

    @contextlib.contextmanager
    def _staged(self, staging: str) -> Iterator[None]:
        """The staging table ``staging`` for the block, dropped after it whatever happens."""
        self.session.execute(self.statements.create_staging(staging))
        try:
            yield
        finally:
            self.session.execute(self.statements.drop_staging(staging))

    def rotate(self) -> str:
        """Give the sync's table a new token and return it (a run, once its keys are dirty).

        A token that changes with every run tells a warehouse restored from a backup, or a
        snapshot file restored from one, from the copy the other side knows: their tokens then
        differ and the next run rebuilds the table. Kept, a restored table's clean hashes of
        yesterday's rows hid today's changes back to them (the hostile tests)."""
        token = new_token()
        with self.named_in_full(), self.session.transaction():
            self.session.execute(self.statements.delete_token())
            self.session.execute(self.statements.insert_token(token))
        return token

    def replace(self, hashes: pa.Table) -> None:
        """Set the rows of these keys: ``row_hash`` as given (NULL: dirty), or no row when
        ``keep`` is false. ``BATCH_ROWS`` keys per transaction."""
        with self.named_in_full():
            for offset in range(0, hashes.num_rows, BATCH_ROWS):
                self._replace_batch(hashes.slice(offset, BATCH_ROWS))

    def dirty(self, keys: pa.Table) -> None:
        """Make these keys dirty (``pk``; ``new``: the table has no row for it, as the diff
        that found them saw): rows updated in place, new keys inserted. ``BATCH_ROWS`` keys
        per transaction."""
        with self.named_in_full():
            for offset in range(0, keys.num_rows, BATCH_ROWS):
                batch = keys.slice(offset, BATCH_ROWS)
                nulls = pa.nulls(batch.num_rows, pa.string())
                staged = pa.table(
                    {"pk": batch["pk"], "row_hash": nulls, "keep": batch["new"]}
                )  # keep: the keys to insert
                self._with_staging(staged, self._dirty_staged)

    def _dirty_staged(self, staging: str, batch: pa.Table) -> None:
        statements, session = self.statements, self.session
        new = batch["keep"].to_pylist()
        if not all(new):
            session.execute(statements.dirty_staged(staging))  # a new key has no row to touch
        if any(new):
            session.execute(statements.insert_staged(staging))

    def _with_staging(self, batch: pa.Table, write: Callable[[str, pa.Table], None]) -> None:
        """``write`` (staging table name, batch) in one transaction, ``batch`` staged."""
        staging = _staging_name()
        with self._staged(staging):
            self.session.upload(
                self.sql(self.statements.staging(staging)),
                batch.select(["pk", "row_hash", "keep"]),
            )
            with self.session.transaction():
                write(staging, batch)

    def _replace_batch(self, batch: pa.Table) -> None:
        self._with_staging(batch, self._replace_staged)

    def _replace_staged(self, staging: str, batch: pa.Table) -> None:
        self.session.execute(self.statements.delete_staged(staging))
        self.session.execute(self.statements.insert_staged(staging))

    def drop(self) -> bool:
        """Drop the sync's table and token; whether there was a table."""
        with self.named_in_full():
            existed = self.exists()
            if existed:
                self._check_ours()
            if self.exists(TOKENS):
                self.session.execute(self.statements.delete_token())
            self.session.execute(self.statements.drop_table())
        return existed

    @contextlib.contextmanager
    def named_in_full(self) -> Iterator[None]:
        """PostgreSQL names a table it refuses without its schema ("permission denied for table
        customers"), so the statement its error ends with would grant on, or hand over, a table
        of that name on the search path (the model's, perhaps): the planner's tables are named
        in full there."""
        try:
            yield
        except WarehouseError as exc:
            text = original = str(exc)
            for name in (self.sync, TOKENS):
                alone = _ident(name)
                full = f"{_ident(self.schema)}.{alone}"
                text = text.replace(f" ON {alone} TO ", f" ON {full} TO ")
                text = text.replace(f"TABLE {alone} OWNER TO ", f"TABLE {full} OWNER TO ")
            if text == original:
                raise
            raise WarehouseError(text) from None

    def _check_ours(self) -> None:
        """Refuse to replace or drop a table that is not a table of hashes. Found by the hostile
        tests: with ``planner_schema`` the model's own schema (``public``, ``main``) and the
        sync named as its model's table (or ``bcsync_tokens``), the bootstrap dropped the
        user's table and made its own in its place."""
        rows = self.session.query(self.statements.table_columns())
        if rows and sorted(str(row[0]).lower() for row in rows) != ["pk", "row_hash"]:
            raise ConfigError(
                f"{self.name()} is not a warehouse planner table (its columns are not pk and "
                "row_hash): bcsync will not replace or drop it. Set planner_schema to a schema "
                "of bcsync's own (the default is bcsync_planner)"
            )

    def _ensure_schema(self) -> None:
        """The schema and the tokens table, created only when missing: PostgreSQL checks the
        right to create before whether it exists, and a role may use what it cannot create."""
        if not self.schema_exists():
            self.session.execute(self.statements.create_schema())
        if not self.exists(TOKENS):
            self.session.execute(self.statements.create_tokens())


def new_token() -> str:
    """A fresh token, marked with the quick-hash scheme its table's hashes follow."""
    return f"{QUICK_SCHEME}:{uuid.uuid4().hex}"


def current(token: str | None) -> bool:
    """Whether ``token`` is of a table whose hashes follow today's scheme. A table of an older
    scheme (md5s, before the quick hashes) is rebuilt rather than read out whole once."""
    return token is not None and token.startswith(f"{QUICK_SCHEME}:")


def _ident(name: str) -> str:
    """A name as ``bcsync.warehouse.postgres_writes`` writes it in its GRANT statements."""
    return '"' + name.replace('"', '""') + '"'


def _staging_name() -> str:
    """A staging table's name, new each time (two runs' staging tables never meet)."""
    return f"bcsync_staging_{uuid.uuid4().hex[:12]}"
