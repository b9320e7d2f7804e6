"""The classification SQL: two statements that diff a model against the snapshot in DuckDB.

One pass over the model, then one over the few rows it kept; both run on the snapshot's
connection and read the snapshot only through its relation (``SnapshotRelation``). Each row is
classified as DESIGN §3.1 says (see ``bcsync.run.planner``), into a temp table ordered by kind and
key that ``ChangeSet`` hands out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import duckdb
from duckdb.sqltypes import DuckDBPyType

from bcsync.run.rowhash import (
    canonical_sql,
    field_sql,
    quick_hash_key,
    quick_hash_sql,
    quote_ident,
    quote_literal,
    row_hash_sql,
)
from bcsync.run.snapshot import SnapshotRelation


@dataclass
class Classified:
    """What ``classify`` made: the ``changes`` temp table and what it learnt on the way."""

    table: str
    key: str  # the quick-hash key of the model's hashed columns (``bcsync.run.rowhash``)
    queried: int  # the model's rows
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


@dataclass(frozen=True)
class _Model:
    """The model as the statements read it: ``relation`` (a FROM item) with ``carried``
    columns, of ``types``, stored as ``v0``, ``v1``… (the primary key first)."""

    relation: str
    primary_key: str
    carried: list[str]
    types: dict[str, DuckDBPyType]


def classify(
    conn: duckdb.DuckDBPyConnection,
    snapshot: SnapshotRelation,
    model: str,
    tag: str,
    *,
    primary_key: str,
    carried: list[str],
    types: dict[str, DuckDBPyType],
    hashed: list[str],
    cached_key: str | None,
    full_resync: bool,
    mapping: str = "",
) -> Classified:
    """Two statements: one pass over the model (the FROM item ``model``), then one over the few
    rows it kept.

    The snapshot's cached quick hashes are used only if they were made under this model's key
    (``cached_key`` equal to ``Classified.key``).

    1. ``kept``: each model row gets its quick hash as it streams and is full-outer-joined
       with the snapshot's keys and quick hashes. A row whose quick hash equals the cached
       one is unchanged: only its place in the snapshot is stored. The others (new, edited,
       or without a valid cached hash, and NULL keys) keep their values; the snapshot
       entries absent from the model are there too.
    2. ``changes``: the kept rows' md5s, their snapshot entries and their kinds, ordered by
       kind and key and numbered; duplicate keys are listed as invalid, once per row.

    Duplicate keys among dropped rows show in the counts: rows matching a snapshot key
    outnumber the snapshot keys matched. Only then are the matched rows grouped by key.

    Long because it is the planner's two SQL statements and the duplicates query, written out in
    full so that each can be read as the SQL DuckDB runs.
    """
    source = _Model(model, primary_key, carried, types)
    kept, changes = f"bcsync_kept_{tag}", f"bcsync_changes_{tag}"
    result = Classified(changes, quick_hash_key({n: types[n] for n in hashed}, mapping), 0)
    trusted = cached_key == result.key and not full_resync
    values = [f"v{i}" for i in range(len(carried))]
    raw = ", ".join(
        f"{quote_ident(name)} AS {col}" for name, col in zip(carried, values, strict=True)
    )
    quick = quick_hash_sql([(n, quote_ident(n), types[n]) for n in hashed])
    key = snapshot.join_key(quote_ident(primary_key), types[primary_key])
    # A dropped row keeps only its place in the snapshot (s_rowid) and costs next to nothing
    # to store: a NULL list. The kept rows' values ride in the list's one element.
    keep = "m.present" + (" AND NOT coalesce(m.fast = s.s_fast, FALSE)" if trusted else "")
    preserve = conn.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
    conn.execute("BEGIN TRANSACTION")  # rowids must not move between the statements
    try:
        # Keep the join as written: DuckDB cannot size a stream, and would build its hash
        # table over the model's 1M wide rows instead of the snapshot's narrow keys.
        conn.execute("SET disabled_optimizers = 'build_side_probe_side'")
        _stage(
            conn,
            result,
            "model_join",
            f"""
            CREATE TEMP TABLE {kept} AS
            WITH model AS (
                SELECT {key.model} AS m_key, {quick} AS fast, TRUE AS present, {raw}
                FROM {model}
            ), snap AS ({snapshot.scan_sql(key)})
            SELECT s.s_rowid, m.present, CASE WHEN {keep} THEN [struct_pack(
                fast := m.fast, {", ".join(f"{col} := m.{col}" for col in values)}
            )] END AS payload
            FROM model m FULL OUTER JOIN snap s ON s.s_key = m.m_key
            """,
        )
        # Only this join: the next ones are best built over the few kept rows.
        conn.execute("RESET disabled_optimizers")
        started = time.perf_counter()
        result.queried, duplicates = _duplicates(conn, snapshot, source, kept)
        result.timings["duplicates"] = time.perf_counter() - started
        # Rows are stored in the ORDER BY's order, so their rowids number them by kind and key
        # (a row_number() window would sort the whole wide rows again, 5x slower).
        conn.execute("SET preserve_insertion_order = true")  # put back below
        _stage(
            conn,
            result,
            "classify",
            _classify_sql(
                snapshot, source, kept, changes, hashed, duplicates, full_resync, mapping
            ),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        conn.execute(f"DROP TABLE IF EXISTS temp.{changes}")
        raise
    finally:  # after COMMIT or ROLLBACK: settings cannot change in an aborted transaction
        conn.execute("RESET disabled_optimizers")
        conn.execute(f"SET preserve_insertion_order = {bool(preserve[0][0])}")
        conn.execute(f"DROP TABLE IF EXISTS temp.{kept}")
    return result


def _stage(conn: duckdb.DuckDBPyConnection, result: Classified, name: str, sql: str) -> None:
    started = time.perf_counter()
    conn.execute(sql)
    result.timings[name] = time.perf_counter() - started


def _duplicates(
    conn: duckdb.DuckDBPyConnection, snapshot: SnapshotRelation, model: _Model, kept: str
) -> tuple[int, str]:
    """The model's row count, and a query listing each duplicated key (``pk``) with its
    number of rows (``copies``)."""
    queried, matched, absent = conn.execute(
        f"""
        SELECT count(*) FILTER (WHERE present),
               count(*) FILTER (WHERE present AND s_rowid IS NOT NULL),
               count(*) FILTER (WHERE present IS NULL)
        FROM {kept}
        """
    ).fetchall()[0]
    pk_text = canonical_sql("payload[1].v0", model.types[model.primary_key])
    unmatched = f"""
        SELECT {pk_text} AS pk, count(*) AS copies FROM {kept}
        WHERE present AND s_rowid IS NULL AND payload[1].v0 IS NOT NULL
        GROUP BY 1 HAVING count(*) > 1
    """
    in_snapshot = int(conn.execute(snapshot.count_sql()).fetchall()[0][0])
    if int(matched) == in_snapshot - int(absent):
        # Each snapshot key the model has, it has once: duplicates can only be new keys.
        return int(queried), unmatched
    return (
        int(queried),
        f"""
        {unmatched}
        UNION ALL
        SELECT {snapshot.key_sql("s")}, d.copies
        FROM (SELECT s_rowid, count(*) AS copies FROM {kept}
              WHERE present AND s_rowid IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d
        JOIN {snapshot.at_sql("s", "d.s_rowid")}
    """,
    )


def _classify_sql(
    snapshot: SnapshotRelation,
    model: _Model,
    kept: str,
    changes: str,
    hashed: list[str],
    duplicates: str,
    full_resync: bool,
    mapping: str,
) -> str:
    """The kept rows' md5s, snapshot entries and kinds, into the ``changes`` table.

    Long because it is one SQL statement, kept whole so that it reads as DuckDB runs it."""
    types, primary_key = model.types, model.primary_key
    by_name = {name: f"v{i}" for i, name in enumerate(model.carried)}
    fields = [
        (name, field_sql(canonical_sql(by_name[name], types[name]), types[name])) for name in hashed
    ]
    if mapping:  # a field no column can be: the name sorts first, the value is constant
        fields.append(("\x00mapping", quote_literal(mapping)))
    pk_text = canonical_sql("v0", types[primary_key])
    kept_values = ", ".join(
        f"CASE WHEN kind IN ('added', 'changed') THEN {col} END AS {col}"
        for col in by_name.values()
    )
    null_reason = quote_literal(f"primary key column {primary_key!r} is null")
    dup_prefix = quote_literal("duplicate primary key '")
    dup_suffix = quote_literal(f"' in column {primary_key!r} (")
    nulls = ", ".join(f"NULL AS {col}" for col in by_name.values())
    null_entry = ", ".join(f"NULL AS e_{name}" for name in snapshot.entry_columns)
    # Unchanged rows are kept only to cache their quick hash: their entries are not needed.
    kept_entry = ", ".join(
        f"CASE WHEN kind <> 'unchanged' THEN e_{name} END AS e_{name}"
        for name in snapshot.entry_columns
    )
    return f"""
        CREATE TEMP TABLE {changes} AS
        WITH duplicates AS ({duplicates}),
        unpacked AS (
            SELECT s_rowid, present, payload[1].fast AS fast,
                   {", ".join(f"payload[1].{col} AS {col}" for col in by_name.values())}
            FROM {kept} WHERE payload IS NOT NULL OR present IS NULL
        ), kept AS (
            SELECT *, {pk_text} AS pk_text,
                   CASE WHEN present AND v0 IS NOT NULL
                        THEN {row_hash_sql(fields)} END AS row_hash
            FROM unpacked
        ), joined AS (
            SELECT k.*, {snapshot.entry_sql("s", prefix="e_")}
            FROM kept k LEFT JOIN {snapshot.at_sql("s", "k.s_rowid")}
        ), classified AS (
            SELECT *, {_kind_sql(full_resync)} AS kind FROM joined
        ), acted AS (
            SELECT kind, coalesce(pk_text, e_pk) AS pk,
                   CASE WHEN kind IN ('added', 'changed') THEN row_hash END AS row_hash,
                   fast,
                   {kept_values},
                   NULL AS reason, {kept_entry}
            FROM classified
            WHERE kind IS NOT NULL AND kind <> 'invalid'
              AND (NOT coalesce(present, FALSE)
                   OR pk_text NOT IN (SELECT pk FROM duplicates))
            UNION ALL
            SELECT 'invalid', NULL, NULL, NULL, {nulls}, {null_reason}, {null_entry}
            FROM classified WHERE kind = 'invalid'
            UNION ALL
            SELECT 'invalid', d.pk, NULL, NULL, {nulls},
                   {dup_prefix} || d.pk || {dup_suffix} || d.copies || ' rows)',
                   {null_entry}
            FROM duplicates d, range(d.copies)
        )
        SELECT * FROM acted ORDER BY kind, pk NULLS FIRST
    """


def _kind_sql(full_resync: bool) -> str:
    """What a row of the model/snapshot full join is (NULL: nothing to do, not even count).

    It reads the row's snapshot entry as ``SnapshotRelation.entry_sql`` selects it (``e_``
    and a ``SnapshotEntry`` field; ``e_pk`` NULL: the key is not in the snapshot)."""
    if full_resync:
        return (
            "CASE WHEN present THEN CASE WHEN pk_text IS NULL THEN 'invalid' ELSE 'added' END END"
        )
    return """CASE
        WHEN present IS NULL THEN CASE
            WHEN e_status = 'released' THEN NULL  -- a tombstone: it holds nothing to act on
            WHEN e_pending_op IS NOT NULL THEN CASE
                -- a write in flight when a run died: the record is known, or its create can
                -- be looked up by its key; without either it waits for its row to return
                WHEN e_dest_id IS NOT NULL OR e_pending_key IS NOT NULL THEN 'removed' END
            WHEN e_dest_id IS NULL THEN 'obsolete'
            WHEN e_status IN ('synced', 'failed') THEN 'removed' END
        WHEN pk_text IS NULL THEN 'invalid'
        WHEN e_pk IS NULL OR e_status = 'released' THEN 'added'
        WHEN e_dest_id IS NULL AND (e_status <> 'synced' OR e_pending_op IS NOT NULL) THEN 'added'
        WHEN e_pending_op IS NOT NULL OR e_status = 'failed' THEN 'changed'
        WHEN e_row_hash IS DISTINCT FROM row_hash THEN 'changed'
        ELSE 'unchanged' END"""
