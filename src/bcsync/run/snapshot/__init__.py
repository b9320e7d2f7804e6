"""A sync's snapshot: what this sync last confirmed in BigCommerce, per primary key (DuckDB file).

One file per sync (``.bcsync/snapshots/<sync>.duckdb``). Per primary key (canonical text, see
``bcsync.run.rowhash``) it keeps the hash of the last *confirmed* write, the BigCommerce id, a
status, the attempt count and last error of failed writes, and ``pending_op`` while a write is
in flight.

It also caches, per entry, a *quick hash* of the confirmed values (``fast_hash``, DuckDB's
``hash()`` over the typed columns, see ``bcsync.run.rowhash.quick_hash_sql``). The planner skips the
md5 of a row whose quick hash equals the cached one. DuckDB's ``hash()`` may change between
versions, so the cache is only trusted under the key it was made with (``quick_hash_key`` in
``snapshot_meta``: DuckDB version, machine, hashed columns and their types); a different key makes
the planner ignore and rebuild it. Invariant: a non-NULL ``fast_hash`` is the quick hash of values
whose md5 is ``row_hash``, on an entry that is ``synced`` with nothing in flight; every write that
changes ``row_hash``, ``status`` or ``pending_op`` sets it or clears it.

Statuses: ``synced`` (last write confirmed), ``failed`` (last write rejected; the hash is still the
one of the last confirmed write, NULL if there never was one), ``pending`` (a first write was
marked in flight and has no outcome yet), ``released`` (a tombstone: the row left the model, or
the state was reset, and no longer holds a record; ``dest_id`` keeps the record it held, so that a
row coming back finds it again instead of creating another). Any entry with ``pending_op`` set is
*in doubt*: a run marked it before sending and died before recording the outcome; ``pending_key``
says how its create is found again, ``pending_at`` when it was marked, in the store's clock.

The snapshot is the sync's ledger of ownership (DESIGN §3.8, rules in ``bcsync.run.ownership``): a
``synced`` or ``failed`` entry with a ``dest_id`` *holds* that record. ``landed`` (JSON) keeps, per
write target of the row (native fields, each attribute, each metafield…), the hash of what
BigCommerce confirmed, and for metafields the id bcsync created, so that a changed row sends only
the targets that changed and a row whose writes partly failed sends only what is missing.

Every method is one transaction: a process killed between calls leaves the file consistent, and a
process killed during a call loses only that call. With a PostgreSQL run store the file is a local
copy of entries kept there (``shared``, see ``bcsync.state.shared_snapshot``): every write is made
there first, and a copy that is not at the shared version is reloaded when it is opened.

No secret ever goes in here: errors are BigCommerce's row messages, which carry no credentials.

The package, one concept a module:

- ``entries``: an entry, the outcomes a run records (``Confirmed``, ``Failed``), the summary, and
  ``snapshot_path``;
- ``relation``: the planner's read API (``SnapshotRelation``, ``JoinKey``, ``entries_from_arrow``);
- ``schema``: the file's tables, format version and migrations;
- ``reads``: the queries on the file;
- ``shared``: the file as a copy of a PostgreSQL run store's entries;
- ``ledger``: ``Snapshot``, which opens the file and writes it.
"""

from bcsync.run.snapshot.entries import (
    ENTRY_COLUMNS,
    OPS,
    Confirmed,
    Failed,
    Op,
    SnapshotEntry,
    SnapshotSummary,
    Status,
    entry_from_row,
    snapshot_path,
)
from bcsync.run.snapshot.ledger import DEFAULT_MEMORY_LIMIT, MAX_ERROR_CHARS, Snapshot
from bcsync.run.snapshot.relation import (
    JoinKey,
    SnapshotRelation,
    entries_from_arrow,
    python_values,
)
from bcsync.run.snapshot.schema import FORMAT_VERSION, HELD, PK_INT
from bcsync.run.snapshot.shared import SHARED_COLUMNS, SHARED_SCHEMA, SHARED_TIMESTAMPS

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "ENTRY_COLUMNS",
    "FORMAT_VERSION",
    "HELD",
    "MAX_ERROR_CHARS",
    "OPS",
    "PK_INT",
    "SHARED_COLUMNS",
    "SHARED_SCHEMA",
    "SHARED_TIMESTAMPS",
    "Confirmed",
    "Failed",
    "JoinKey",
    "Op",
    "Snapshot",
    "SnapshotEntry",
    "SnapshotRelation",
    "SnapshotSummary",
    "Status",
    "entries_from_arrow",
    "entry_from_row",
    "python_values",
    "snapshot_path",
]
