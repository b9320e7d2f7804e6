"""The snapshot file's tables, its format version and the migrations from older formats, and
the SQL fragments the reads and writes share (see ``bcsync.run.snapshot`` for what the columns
mean)."""

FORMAT_VERSION = "3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot (
    pk VARCHAR PRIMARY KEY,
    row_hash VARCHAR,
    dest_id VARCHAR,
    status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR,
    pending_op VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL,
    fast_hash UBIGINT,
    pk_int BIGINT,
    pending_key VARCHAR,
    pending_at TIMESTAMPTZ,
    landed VARCHAR,
    found_key VARCHAR
);
CREATE TABLE IF NOT EXISTS snapshot_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
INSERT INTO snapshot_meta VALUES ('format', '3') ON CONFLICT DO NOTHING;
"""
# ``pk_int``: the key as a BIGINT when the key is the canonical text of one (the planner joins
# integer keys on it, much faster than on text), else NULL.
# An entry that holds its record (DESIGN §3.8): a tombstone (``released``) holds nothing.
HELD = "dest_id IS NOT NULL AND status <> 'released'"
PK_INT = "CASE WHEN CAST(TRY_CAST(pk AS BIGINT) AS VARCHAR) = pk THEN TRY_CAST(pk AS BIGINT) END"
# Format 1 had no quick-hash cache, integer key or lookup key: the columns are added (the next
# plan fills the cache; entries already in flight keep no lookup key).
_MIGRATIONS = {
    "1": f"""
    ALTER TABLE snapshot ADD COLUMN fast_hash UBIGINT;
    ALTER TABLE snapshot ADD COLUMN pk_int BIGINT;
    ALTER TABLE snapshot ADD COLUMN pending_key VARCHAR;
    UPDATE snapshot SET pk_int = {PK_INT};
    UPDATE snapshot_meta SET value = '2' WHERE key = 'format';
    """,
    # Format 2 had no in-flight time or landed targets: an entry in flight is settled without
    # evidence of its time (as before), and the next write of a row sends all its targets.
    "2": """
    ALTER TABLE snapshot ADD COLUMN pending_at TIMESTAMPTZ;
    ALTER TABLE snapshot ADD COLUMN landed VARCHAR;
    ALTER TABLE snapshot ADD COLUMN found_key VARCHAR;
    UPDATE snapshot_meta SET value = '3' WHERE key = 'format';
    """,
}
_RELEASED = """
    status = 'released', row_hash = NULL, fast_hash = NULL, landed = NULL, attempts = 0,
    last_error = NULL, pending_op = NULL, pending_key = NULL, pending_at = NULL,
    updated_at = now()
"""
