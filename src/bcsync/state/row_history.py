"""Read-only queries of the run store for the web UI's Run and Row pages.

A run's rejected and invalid rows grouped by their message (with how many rows share it), one
group's rows paged by key, every row for an export, one primary key's outcomes across the runs
of a sync, and the run before a given one that carried a row (whose request holds the values
last synced). Each function is one short read transaction on ``store.engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bcsync.state.database import read_transaction
from bcsync.state.records import RowOutcomeRecord
from bcsync.state.schema import api_call_pks, row_outcomes, runs, snapshot_entries
from bcsync.state.store import RunStore

PROBLEM_OUTCOMES = ("rejected", "invalid")


@dataclass(frozen=True)
class ErrorGroup:
    """The rows of one run that share an outcome (rejected | invalid) and a message."""

    outcome: str
    error: str | None
    count: int


@dataclass(frozen=True)
class OutcomeRow:
    """One row outcome with its position in the store (``id``: the key pages go by)."""

    id: int
    record: RowOutcomeRecord


@dataclass(frozen=True)
class RowRun:
    """One run's outcome for a row, with the run it belongs to."""

    run_id: str
    status: str
    started_at: datetime
    record: RowOutcomeRecord


def error_groups(
    store: RunStore, run_id: str, *, pk: str | None = None, limit: int | None = None
) -> list[ErrorGroup]:
    """The run's rejected and invalid rows grouped by outcome and message, most rows first (the
    first ``limit`` groups, when given)."""
    cols = row_outcomes.c
    count = sa.func.count().label("n")
    query = (
        sa.select(cols.outcome, cols.error, count)
        .where(cols.run_id == run_id, cols.outcome.in_(PROBLEM_OUTCOMES))
        .group_by(cols.outcome, cols.error)
        .order_by(count.desc(), cols.outcome, cols.error)
    )
    if pk is not None:
        query = query.where(cols.pk == pk)
    if limit is not None:
        query = query.limit(limit)
    with read_transaction(store.engine) as conn:
        return [ErrorGroup(row.outcome, row.error, int(row.n)) for row in conn.execute(query)]


def group_rows(
    store: RunStore,
    run_id: str,
    outcome: str,
    error: str | None,
    *,
    after: int = 0,
    limit: int = 50,
    pk: str | None = None,
) -> list[OutcomeRow]:
    """The rows of one group in the order they were recorded, from the one after ``after``."""
    cols = row_outcomes.c
    same_error = cols.error.is_(None) if error is None else cols.error == error
    query = (
        sa.select(cols.id, cols.pk, cols.outcome, cols.op, cols.error, cols.dest_id)
        .where(cols.run_id == run_id, cols.outcome == outcome, same_error, cols.id > after)
        .order_by(cols.id)
        .limit(limit)
    )
    if pk is not None:
        query = query.where(cols.pk == pk)
    with read_transaction(store.engine) as conn:
        return [_outcome_row(row) for row in conn.execute(query)]


def problem_rows(store: RunStore, run_id: str, *, page: int = 5000) -> Iterator[RowOutcomeRecord]:
    """Every rejected and invalid row of the run, in recorded order (read ``page`` at a time)."""
    cols = row_outcomes.c
    after = 0
    while True:
        query = (
            sa.select(cols.id, cols.pk, cols.outcome, cols.op, cols.error, cols.dest_id)
            .where(cols.run_id == run_id, cols.outcome.in_(PROBLEM_OUTCOMES), cols.id > after)
            .order_by(cols.id)
            .limit(page)
        )
        with read_transaction(store.engine) as conn:
            rows = [_outcome_row(row) for row in conn.execute(query)]
        for row in rows:
            yield row.record
        if len(rows) < page:
            return
        after = rows[-1].id


def row_runs(store: RunStore, sync: str, pk: str, *, limit: int = 50) -> list[RowRun]:
    """``pk``'s outcomes in the runs of ``sync``, newest run first (its last outcome per run)."""
    cols = row_outcomes.c
    last = (
        sa.select(sa.func.max(cols.id).label("id"))
        .select_from(row_outcomes.join(runs, runs.c.run_id == cols.run_id))
        .where(runs.c.sync == sync, cols.pk == pk)
        .group_by(cols.run_id)
        .subquery()
    )
    query = (
        sa.select(
            runs.c.run_id,
            runs.c.status,
            runs.c.started_at,
            cols.pk,
            cols.outcome,
            cols.op,
            cols.error,
            cols.dest_id,
        )
        .select_from(row_outcomes.join(runs, runs.c.run_id == cols.run_id))
        .where(cols.id.in_(sa.select(last.c.id)))
        .order_by(runs.c.started_at.desc(), runs.c.run_id)
        .limit(limit)
    )
    with read_transaction(store.engine) as conn:
        return [
            RowRun(
                row.run_id,
                row.status,
                row.started_at,
                RowOutcomeRecord(row.pk, row.outcome, row.op, row.error, row.dest_id),
            )
            for row in conn.execute(query)
        ]


def carrying_runs(store: RunStore, sync: str, pk: str, *, limit: int = 50) -> list[str]:
    """The runs of ``sync`` whose recorded API calls carried ``pk``, newest first."""
    query = (
        sa.select(runs.c.run_id)
        .where(runs.c.sync == sync, _carried(pk))
        .order_by(runs.c.started_at.desc(), runs.c.run_id)
        .limit(limit)
    )
    with read_transaction(store.engine) as conn:
        return [str(row.run_id) for row in conn.execute(query)]


def previous_carrying_run(store: RunStore, sync: str, pk: str, before: str) -> str | None:
    """The latest run of ``sync`` started before run ``before`` whose calls carried ``pk``."""
    started = sa.select(runs.c.started_at).where(runs.c.run_id == before).scalar_subquery()
    query = (
        sa.select(runs.c.run_id)
        .where(runs.c.sync == sync, _carried(pk), runs.c.started_at < started)
        .order_by(runs.c.started_at.desc(), runs.c.run_id)
        .limit(1)
    )
    with read_transaction(store.engine) as conn:
        found = conn.execute(query).scalar()
    return str(found) if found is not None else None


def _carried(pk: str) -> sa.Exists:
    """Whether a recorded call of the run carried ``pk`` (an index lookup per run)."""
    return sa.exists().where(api_call_pks.c.run_id == runs.c.run_id, api_call_pks.c.pk == pk)


def _outcome_row(row: Any) -> OutcomeRow:
    return OutcomeRow(
        int(row.id), RowOutcomeRecord(row.pk, row.outcome, row.op, row.error, row.dest_id)
    )


def shared_holding(store: RunStore, sync: str, pk: str) -> str | None:
    """In a run store that keeps the snapshots (PostgreSQL): the record ``pk`` holds (None: no
    entry, or a released one)."""
    cols = snapshot_entries.c
    query = sa.select(cols.dest_id, cols.status).where(cols.sync == sync, cols.pk == pk)
    with read_transaction(store.engine) as conn:
        row = conn.execute(query).first()
    if row is None or row.status == "released":
        return None
    return str(row.dest_id) if row.dest_id is not None else None
