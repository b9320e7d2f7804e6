"""The run store's tables as they are after the latest migration, and their vocabularies.

These ``Table`` objects are what the store queries. They are *not* used to create anything: the
schema is built and upgraded only by ``migrations.py``, and a test checks that a migrated store
has exactly these columns, so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from bcsync.vocabulary import COUNT_KEYS as COUNT_KEYS  # each counter is a column of ``runs``
from bcsync.vocabulary import FINISHED, RUNNING, SENT_KEYS
from bcsync.vocabulary import OUTCOMES as OUTCOMES

# A status is plain text (no CHECK constraint), so stores of any schema version take a new one.
RUNNING_STATUSES = tuple(RUNNING)
FINISHED_STATUSES = tuple(FINISHED)
ALERT_STATES = ("ok", "warning", "critical")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``. SQLite has no time zone type, so the value is stored as
    naive UTC text (which also sorts correctly) and comes back with ``tzinfo=UTC`` attached.
    Naive datetimes are refused on the way in: a silent local-time guess is how runs end up an
    hour off.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value.isoformat()} has no time zone; pass UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Row outcome ids grow with every checkpoint of every run: 64-bit on PostgreSQL, and SQLite's
# INTEGER PRIMARY KEY (already 64-bit) so that it stays an autoincrementing rowid alias.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

schema_versions = sa.Table(
    "bcsync_schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("sync", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("error", sa.Text),
    *(sa.Column(key, sa.BigInteger, nullable=False) for key in COUNT_KEYS),
    sa.Column("api_calls", sa.BigInteger, nullable=False),
    sa.Column("full_resync", sa.Boolean, nullable=False),
    sa.Column("pid", sa.Integer),
    sa.Column("hostname", sa.Text),
    sa.Column("trigger", sa.String(64)),
    sa.Column("planning_at", UtcDateTime),
    sa.Column("syncing_at", UtcDateTime),
    *(
        sa.Column(key, sa.BigInteger, nullable=False, server_default=sa.text("0"))
        for key in SENT_KEYS
    ),
    sa.Column("queued_at", UtcDateTime),
)

row_outcomes = sa.Table(
    "row_outcomes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("pk", sa.Text, nullable=False),
    sa.Column("op", sa.String(16)),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("dest_id", sa.Text),
)

sync_locks = sa.Table(
    "sync_locks",
    metadata,
    sa.Column("sync", sa.Text, primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("hostname", sa.Text, nullable=False),
    sa.Column("acquired_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
    sa.Column("lease_expires_at", UtcDateTime, nullable=False),
    sa.Column("lease_seconds", sa.Float, nullable=False),
    sa.Column("process_token", sa.Text),
)

api_calls = sa.Table(
    "api_calls",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("request_headers", sa.JSON, nullable=False),
    sa.Column("request_body", sa.Text),
    sa.Column("status", sa.Integer),
    sa.Column("response_headers", sa.JSON, nullable=False),
    sa.Column("response_body", sa.Text),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("pks", sa.JSON, nullable=False),
    sa.Column("error", sa.Text),
)

# One row per (call, primary key carried) so that ``debug RUN --pk 42`` is an index lookup, not a
# scan of every call's JSON.
api_call_pks = sa.Table(
    "api_call_pks",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("pk", sa.Text, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
)

alert_states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("sync", sa.Text, primary_key=True),
    sa.Column("trigger", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("dedup_key", sa.Text),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("last_run_id", sa.String(64)),
)

# Every alert notification sent (or tried) through a channel, newest last: the Alerts page's
# history. ``trigger`` is ``test`` for a channel test; ``error`` is already redacted.
sent_alerts = sa.Table(
    "sent_alerts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("sent_at", UtcDateTime, nullable=False),
    sa.Column("sync", sa.Text, nullable=False),
    sa.Column("trigger", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("delivered", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("run_id", sa.String(64)),
    sa.Column("title", sa.Text, nullable=False),
)

# A sync's snapshot kept in a PostgreSQL run store (``shared_snapshot.py``): one head per sync,
# whose generation grows with every write, and the entries (``bcsync.run.snapshot`` columns).
snapshot_heads = sa.Table(
    "snapshot_heads",
    metadata,
    sa.Column("sync", sa.Text, primary_key=True),
    sa.Column("lineage", sa.String(32), nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

snapshot_entries = sa.Table(
    "snapshot_entries",
    metadata,
    sa.Column("sync", sa.Text, primary_key=True),
    sa.Column("pk", sa.Text, primary_key=True),
    sa.Column("row_hash", sa.Text),
    sa.Column("dest_id", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("pending_op", sa.String(16)),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("pending_key", sa.Text),
    sa.Column("pending_at", UtcDateTime),
    sa.Column("landed", sa.Text),
    sa.Column("found_key", sa.Text),
)

# Each schedule tick fired (``tick``: the fire time in ISO 8601 UTC, or ``after:<run id>`` for a
# run that another sync's finished run set off), with the run it created (maybe ``skipped``).
schedule_ticks = sa.Table(
    "schedule_ticks",
    metadata,
    sa.Column("sync", sa.Text, primary_key=True),
    sa.Column("tick", sa.String(96), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("fired_at", UtcDateTime, nullable=False),
)

# The rate governor's state of one store (``store_key``: API URL and store hash, no secret),
# shared through a PostgreSQL run store by every worker that sends to that store.
store_quotas = sa.Table(
    "store_quotas",
    metadata,
    sa.Column("store_key", sa.Text, primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
