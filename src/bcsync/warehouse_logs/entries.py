"""What one run puts in the log tables: its ``sync_runs`` row and its ``sync_changelog`` rows.

Both are built from the run store (the run's record and its row outcomes, in the order they
were recorded), so writing them again later gives the same rows. The changelog is read from the
store in batches, straight into Arrow columns: a run of a million rows never sits in memory as
Python objects. Every text that could quote a secret (the run's error, BigCommerce's row errors,
the run JSON) goes through the project's redactor first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from bcsync.run.results import MAX_LISTED_ROWS, RunResult
from bcsync.state import RunRecord, RunStore
from bcsync.state.database import read_transaction
from bcsync.state.schema import row_outcomes
from bcsync.vocabulary import COUNT_KEYS
from bcsync.warehouse_logs.tables import CHANGELOG_SCHEMA, RUNS_SCHEMA

Redact = Callable[[str], str]
UPLOAD_ROWS = 50_000  # changelog rows per Arrow table handed to the warehouse


def _clean(text: str | None, redact: Redact) -> str | None:
    return redact(text) if text is not None else None


def run_json(store: RunStore, record: RunRecord) -> dict[str, Any]:
    """The run JSON ``bcsync show RUN --json`` prints (at most 100 rejected and invalid rows)."""
    document = record.to_json()
    listed = {
        kind: [
            o.to_json() for o in store.outcomes(record.run_id, kinds=[kind], limit=MAX_LISTED_ROWS)
        ]
        for kind in ("rejected", "invalid")
    }
    result = RunResult(
        run_id=record.run_id,
        sync=record.sync,
        status=record.status,
        started_at=document["started_at"],
        finished_at=document["finished_at"],
        error=record.error,
        counts=record.counts,
        api_calls=record.api_calls,
        rejected_rows=listed["rejected"],
        invalid_rows=listed["invalid"],
    )
    return result.to_json()


def run_row(store: RunStore, record: RunRecord, redact: Redact, logged_at: datetime) -> pa.Table:
    """The run's one ``sync_runs`` row."""
    document = redact(json.dumps(run_json(store, record), default=str, ensure_ascii=False))
    row: dict[str, Any] = {
        "run_id": record.run_id,
        "sync": record.sync,
        "status": str(record.status),
        "trigger": record.trigger,
        "full_resync": record.full_resync,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "error": _clean(record.error, redact),
        "api_calls": record.api_calls,
        **{key: record.counts[key] for key in COUNT_KEYS},
        "run_json": document,
        "logged_at": logged_at,
    }
    return pa.Table.from_pylist([row], schema=RUNS_SCHEMA)


def changelog(
    store: RunStore, record: RunRecord, redact: Redact, *, batch_rows: int = UPLOAD_ROWS
) -> Iterator[pa.Table]:
    """The run's ``sync_changelog`` rows, ``batch_rows`` at a time. ``seq`` numbers them in the
    order the run recorded them; ``occurred_at`` is the end of the run (the run store keeps no
    time per row)."""
    at = record.finished_at or record.started_at
    cols = row_outcomes.c
    query = (
        sa.select(cols.pk, cols.op, cols.outcome, cols.error, cols.dest_id)
        .where(cols.run_id == record.run_id)
        .order_by(cols.id)
    )
    seq = 0
    with read_transaction(store.engine) as conn:
        result = conn.execute(query)
        while rows := result.fetchmany(batch_rows):
            pks, ops, outcomes, errors, dest_ids = zip(*rows, strict=True)
            count = len(rows)
            table = pa.Table.from_pydict(
                {
                    "run_id": pa.repeat(record.run_id, count),
                    "seq": pa.array(range(seq + 1, seq + 1 + count), pa.int64()),
                    "sync": pa.repeat(record.sync, count),
                    "pk": pa.array(pks, pa.string()),
                    "operation": pa.array(ops, pa.string()),
                    "status": pa.array(outcomes, pa.string()),
                    "error": pa.array([_clean(e, redact) for e in errors], pa.string()),
                    "bigcommerce_id": pa.array(dest_ids, pa.string()),
                    "occurred_at": pa.repeat(
                        pa.scalar(at, CHANGELOG_SCHEMA.field("occurred_at").type), count
                    ),
                },
                schema=CHANGELOG_SCHEMA,
            )
            seq += count
            yield table
