"""The run store: run history, row outcomes, recorded API calls, alert states and run locks.

One database (SQLite by default, PostgreSQL for teams) through SQLAlchemy Core. Opening a store
brings its schema up to date (``migrations.py``). Every method is its own short transaction, so a
run's checkpoints (``add_outcomes``, ``add_api_calls``) are durable as soon as they return and a
crash loses only what was in flight.

Nothing secret must be stored. This module takes the strings it is given: callers redact first
(the debugger replaces the access token with ``***`` before calling ``add_api_calls``). As a last
line of defence, credential headers that still carry a value are masked here too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bcsync.errors import StateError
from bcsync.state import locks, run_queue
from bcsync.state.database import (
    DEFAULT_URL,
    create_store_engine,
    describe,
    dialect_insert,
    read_transaction,
    write_transaction,
)
from bcsync.state.migrations import LATEST_VERSION, current_version, migrate
from bcsync.state.records import (
    AlertStateRecord,
    ApiCallRecord,
    RowOutcomeRecord,
    RunRecord,
    SyncLockRecord,
)
from bcsync.state.schema import (
    ALERT_STATES,
    COUNT_KEYS,
    FINISHED_STATUSES,
    OUTCOMES,
    RUNNING_STATUSES,
    alert_states,
    api_call_pks,
    api_calls,
    row_outcomes,
    runs,
)
from bcsync.state.shared_snapshot import SharedSnapshot
from bcsync.vocabulary import SENT_KEYS, Counts, RunStatus, SentByKind

_CREDENTIAL_HEADERS = frozenset({"x-auth-token", "authorization"})
_MASK = "***"


def _now() -> datetime:
    return datetime.now(UTC)


def _masked(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (_MASK if k.lower() in _CREDENTIAL_HEADERS else v) for k, v in headers.items()}


def _pk_insert_sql(paramstyle: str) -> str:
    marks = "?, ?, ?" if paramstyle == "qmark" else "%s, %s, %s"
    return f"INSERT INTO {api_call_pks.name} (run_id, pk, seq) VALUES ({marks})"


def _run_record(row: sa.Row[Any]) -> RunRecord:
    m = row._mapping
    return RunRecord(
        run_id=m["run_id"],
        sync=m["sync"],
        status=m["status"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        error=m["error"],
        counts=Counts.of({key: m[key] for key in COUNT_KEYS}),
        api_calls=int(m["api_calls"]),
        full_resync=bool(m["full_resync"]),
        pid=m["pid"],
        hostname=m["hostname"],
        trigger=m["trigger"],
        planning_at=m["planning_at"],
        syncing_at=m["syncing_at"],
        sent=SentByKind(**{key: int(m[key]) for key in SENT_KEYS}),
        queued_at=m["queued_at"],
    )


def _api_call_record(row: sa.Row[Any]) -> ApiCallRecord:
    m = dict(row._mapping)
    del m["run_id"]
    m["pks"] = tuple(m["pks"])
    return ApiCallRecord(**m)


class RunStore:
    """Access to one run store. Open with ``RunStore.open(url)``; ``close()`` when done.

    Safe to share between threads (each call checks a connection out of the engine's pool).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str = DEFAULT_URL) -> RunStore:
        """Connect to the store at ``url``, creating or upgrading its schema as needed.

        ``postgresql://`` is taken as the psycopg 3 driver. Raises ``StateError`` if the store
        cannot be reached or was written by a newer bcsync.
        """
        engine = create_store_engine(url)
        try:
            with read_transaction(engine) as conn:
                up_to_date = current_version(conn) == LATEST_VERSION
            if not up_to_date:
                with write_transaction(engine) as conn:
                    migrate(conn)
        except StateError as exc:
            engine.dispose()
            cause = exc.__cause__
            detail = cause.orig if isinstance(cause, sa.exc.DBAPIError) else exc
            raise StateError(f"cannot open the run store {describe(engine)}: {detail}") from None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def shared_snapshot(self, sync: str) -> SharedSnapshot | None:
        """Where ``sync``'s snapshot is kept for every machine: in a PostgreSQL store, None in
        SQLite, whose snapshots stay in their local files (see ``shared_snapshot``)."""
        if self._engine.dialect.name != "postgresql":
            return None
        return SharedSnapshot(self._engine, sync)

    # -- runs ------------------------------------------------------------------------------------

    def start_run(self, sync: str, *, full_resync: bool = False, trigger: str = "api") -> str:
        """Record a new run of ``sync`` in status ``querying``; returns its id (32 hex chars)."""
        run_id = uuid.uuid4().hex
        with write_transaction(self._engine) as conn:
            conn.execute(
                runs.insert().values(
                    run_id=run_id,
                    sync=sync,
                    status="querying",
                    started_at=_now(),
                    full_resync=full_resync,
                    pid=os.getpid(),
                    hostname=locks.hostname(),
                    trigger=trigger,
                    api_calls=0,
                    **dict.fromkeys(COUNT_KEYS, 0),
                )
            )
        return run_id

    # -- queued runs and schedule ticks (``run_queue.py``) -------------------------------------

    def queue_run(
        self,
        sync: str,
        *,
        trigger: str,
        tick: str | None = None,
        skipped_because: str | None = None,
        full_resync: bool = False,
    ) -> str | None:
        """A ``queued`` run of ``sync`` (or a ``skipped`` one, with the reason), created in the
        transaction that records ``tick``; None when ``tick`` had already fired."""
        return run_queue.create(
            self._engine,
            sync,
            trigger=trigger,
            tick=tick,
            skipped_because=skipped_because,
            full_resync=full_resync,
        )

    def begin_queued_run(self, run_id: str) -> bool:
        """``queued`` → ``querying`` in this process; False if it is no longer queued."""
        return run_queue.begin(self._engine, run_id)

    def close_queued_run(self, run_id: str, status: str, error: str) -> bool:
        """End a run that never started; False if it is no longer queued."""
        return run_queue.close_queued(self._engine, run_id, RunStatus(status), error)

    def waiting_or_running(self, sync: str) -> list[tuple[str, RunStatus]]:
        """The runs of ``sync`` queued or in progress, oldest first."""
        return run_queue.waiting_or_running(self._engine, sync)

    def claim_ticks(self, claims: Sequence[run_queue.TickClaim]) -> dict[tuple[str, str], str]:
        """Record many ticks with their runs in one transaction; the run id of each key won."""
        return run_queue.claim_ticks(self._engine, claims)

    def waiting_runs(self, syncs: Sequence[str] | None = None) -> list[run_queue.WaitingRun]:
        """Runs queued or in progress (of ``syncs``, or of all), oldest first, with their locks."""
        return run_queue.waiting_runs(self._engine, syncs)

    def last_clock_ticks(self, syncs: Sequence[str]) -> dict[str, str]:
        """The latest clock tick key recorded for each of ``syncs`` that has one."""
        return run_queue.last_clock_ticks(self._engine, syncs)

    def last_after_firing(self, sync: str) -> str | None:
        """The id of the upstream run that set off ``sync``'s latest ``after:`` firing."""
        return run_queue.last_after_firing(self._engine, sync)

    def latest_finished_run(self, sync: str, *, after: datetime | None) -> RunRecord | None:
        """``sync``'s latest run that ran (not skipped) and finished later than ``after``."""
        row = run_queue.latest_finished_run(self._engine, sync, after=after)
        return _run_record(row) if row is not None else None

    def set_status(self, run_id: str, status: str) -> None:
        """Move a running run to another running status (querying | planning | syncing)."""
        if status not in RUNNING_STATUSES:
            raise ValueError(f"{status!r} is not a running status {RUNNING_STATUSES}")
        phase_at = {f"{status}_at": _now()} if status in ("planning", "syncing") else {}
        self._update_run(run_id, status=status, **phase_at)

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        counts: Mapping[str, int],
        api_calls: int,
        error: str | None = None,
        sent: SentByKind | None = None,
    ) -> None:
        """Record the end of a run: final status, counters (missing keys are 0), error message,
        and how the rows of each kind ended (``sent``, when known)."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"{status!r} is not a final status {FINISHED_STATUSES}")
        unknown = set(counts) - set(COUNT_KEYS)
        if unknown:
            raise ValueError(f"unknown run counters {sorted(unknown)}; known: {COUNT_KEYS}")
        self._update_run(
            run_id,
            status=status,
            finished_at=_now(),
            error=error,
            api_calls=api_calls,
            **{key: int(counts.get(key, 0)) for key in COUNT_KEYS},
            **(asdict(sent) if sent is not None else {}),
        )

    def record_progress(
        self,
        run_id: str,
        counts: Mapping[str, int],
        api_calls: int,
        sent: SentByKind | None = None,
    ) -> None:
        """A running run's counters and API calls so far (one UPDATE per checkpoint), so that a
        run started anywhere can be watched from the store; a finished run is left as it is."""
        values = {key: int(counts.get(key, 0)) for key in COUNT_KEYS}
        values |= asdict(sent) if sent is not None else {}
        with write_transaction(self._engine) as conn:
            conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id, runs.c.status.in_(RUNNING_STATUSES))
                .values(api_calls=api_calls, **values)
            )

    def _update_run(self, run_id: str, **values: Any) -> None:
        with write_transaction(self._engine) as conn:
            done = conn.execute(runs.update().where(runs.c.run_id == run_id).values(**values))
            if done.rowcount != 1:
                raise StateError(f"no run {run_id} in the run store")

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or with this unique id prefix; None if none matches.

        Raises ``StateError`` listing candidates if the prefix matches several runs.
        """
        if not run_id:
            return None
        with read_transaction(self._engine) as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
            if row is not None:
                return _run_record(row)
            matches = conn.execute(
                sa.select(runs)
                .where(runs.c.run_id.startswith(run_id, autoescape=True))
                .order_by(runs.c.started_at.desc())
                .limit(6)
            ).all()
        if len(matches) > 1:
            shown = ", ".join(str(m.run_id) for m in matches[:5])
            raise StateError(f"run id {run_id!r} is ambiguous; it starts {shown}, …")
        return _run_record(matches[0]) if matches else None

    def list_runs(self, sync: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The latest runs (of one sync, or of all), newest first."""
        query = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id).limit(limit)
        if sync is not None:
            query = query.where(runs.c.sync == sync)
        with read_transaction(self._engine) as conn:
            return [_run_record(row) for row in conn.execute(query)]

    # -- row outcomes ----------------------------------------------------------------------------

    def add_outcomes(self, run_id: str, outcomes: Sequence[RowOutcomeRecord]) -> None:
        """Checkpoint a batch of row outcomes of ``run_id`` in one transaction."""
        for o in outcomes:
            if o.outcome not in OUTCOMES:
                raise ValueError(f"row {o.pk!r}: outcome {o.outcome!r} is not one of {OUTCOMES}")
        if not outcomes:
            return
        with write_transaction(self._engine) as conn:
            conn.execute(
                row_outcomes.insert(),
                [
                    {
                        "run_id": run_id,
                        "pk": o.pk,
                        "op": o.op,
                        "outcome": o.outcome,
                        "error": o.error,
                        "dest_id": o.dest_id,
                    }
                    for o in outcomes
                ],
            )

    def prune_row_outcomes(self, older_than: datetime) -> int:
        """Delete the row outcomes of runs started before ``older_than`` (the runs and their
        counters stay); returns how many went."""
        old_runs = sa.select(runs.c.run_id).where(runs.c.started_at < older_than)
        with write_transaction(self._engine) as conn:
            return int(
                conn.execute(
                    row_outcomes.delete().where(row_outcomes.c.run_id.in_(old_runs))
                ).rowcount
            )

    def outcomes(
        self,
        run_id: str,
        *,
        kinds: Sequence[str] | None = None,
        limit: int | None = None,
        pk: str | None = None,
    ) -> list[RowOutcomeRecord]:
        """The run's row outcomes in the order they were recorded, optionally of some kinds or
        of one row."""
        cols = row_outcomes.c
        query = (
            sa.select(cols.pk, cols.outcome, cols.op, cols.error, cols.dest_id)
            .where(cols.run_id == run_id)
            .order_by(cols.id)
            .limit(limit)
        )
        if kinds is not None:
            query = query.where(cols.outcome.in_(list(kinds)))
        if pk is not None:
            query = query.where(cols.pk == pk)
        with read_transaction(self._engine) as conn:
            return [RowOutcomeRecord(**row._asdict()) for row in conn.execute(query)]

    # -- API calls (the debugger) ----------------------------------------------------------------

    def add_api_calls(self, run_id: str, calls: Sequence[ApiCallRecord]) -> None:
        """Record a batch of the run's API calls (redacted by the caller) in one transaction."""
        if not calls:
            return
        call_rows: list[dict[str, Any]] = []
        pk_rows: list[tuple[str, str, int]] = []
        for c in calls:
            call_rows.append(
                {
                    "run_id": run_id,
                    "seq": c.seq,
                    "started_at": c.started_at,
                    "duration_ms": c.duration_ms,
                    "method": c.method,
                    "path": c.path,
                    "query": c.query,
                    "request_headers": _masked(c.request_headers),
                    "request_body": c.request_body,
                    "status": c.status,
                    "response_headers": _masked(c.response_headers),
                    "response_body": c.response_body,
                    "attempt": c.attempt,
                    "pks": [str(pk) for pk in c.pks],
                    "error": c.error,
                }
            )
            pk_rows.extend((run_id, str(pk), c.seq) for pk in set(c.pks))
        try:
            with write_transaction(self._engine) as conn:
                conn.execute(api_calls.insert(), call_rows)
                if pk_rows:
                    # Ten rows or so per call: straight to the driver, as plain tuples, because
                    # SQLAlchemy's per-row parameter processing was most of the recording cost.
                    conn.exec_driver_sql(_pk_insert_sql(conn.dialect.paramstyle), pk_rows)
        except sa.exc.IntegrityError:
            raise StateError(
                f"run {run_id}: API call sequence numbers must be unique within a run "
                f"(batch {calls[0].seq}…{calls[-1].seq} repeats one)"
            ) from None

    def api_calls(self, run_id: str, *, pk: str | None = None) -> list[ApiCallRecord]:
        """The run's API calls in sequence order; with ``pk``, only those that carried that row."""
        query = sa.select(api_calls).where(api_calls.c.run_id == run_id).order_by(api_calls.c.seq)
        if pk is not None:
            carried = sa.select(api_call_pks.c.seq).where(
                api_call_pks.c.run_id == run_id, api_call_pks.c.pk == pk
            )
            query = query.where(api_calls.c.seq.in_(carried))
        with read_transaction(self._engine) as conn:
            return [_api_call_record(row) for row in conn.execute(query)]

    def prune_api_calls(self, older_than: datetime) -> int:
        """Delete API calls that started before ``older_than``; returns how many went."""
        old = api_calls.c.started_at < older_than
        index_of_old = sa.exists().where(
            api_calls.c.run_id == api_call_pks.c.run_id,
            api_calls.c.seq == api_call_pks.c.seq,
            old,
        )
        with write_transaction(self._engine) as conn:
            conn.execute(api_call_pks.delete().where(index_of_old))
            return int(conn.execute(api_calls.delete().where(old)).rowcount)

    # -- alert states ----------------------------------------------------------------------------

    def get_alert_state(self, sync: str, trigger: str) -> AlertStateRecord | None:
        """The trigger's last state for this sync; None if it never fired or recovered."""
        query = sa.select(alert_states).where(
            alert_states.c.sync == sync, alert_states.c.trigger == trigger
        )
        with read_transaction(self._engine) as conn:
            row = conn.execute(query).first()
        return AlertStateRecord(**row._asdict()) if row is not None else None

    def set_alert_state(
        self,
        sync: str,
        trigger: str,
        state: str,
        *,
        dedup_key: str | None = None,
        run_id: str | None = None,
    ) -> AlertStateRecord:
        """Record the trigger's new state (ok | warning | critical) and return it."""
        if state not in ALERT_STATES:
            raise ValueError(f"alert state {state!r} is not one of {ALERT_STATES}")
        record = AlertStateRecord(sync, trigger, state, dedup_key, _now(), run_id)
        values = {
            "state": state,
            "dedup_key": dedup_key,
            "updated_at": record.updated_at,
            "last_run_id": run_id,
        }
        with write_transaction(self._engine) as conn:
            stmt = dialect_insert(conn, alert_states).values(sync=sync, trigger=trigger, **values)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["sync", "trigger"], set_=values)
            )
        return record

    # -- locks -----------------------------------------------------------------------------------

    def acquire_lock(self, sync: str, run_id: str, *, lease_seconds: float = 60) -> None:
        """Make ``run_id`` the one live run of ``sync``; see ``locks.py`` for the rules.

        Raises ``SyncLockedError`` naming the live run holding it. A lock left by a dead process
        (pid gone on this host, or lease expired) is taken over and its run marked
        ``interrupted``. Call ``heartbeat`` well within ``lease_seconds`` and ``release_lock``
        at the end, whatever the outcome. If this raises, the caller should finish ``run_id``
        (``skipped``, with the error's message, which names the holder's run) so it does not
        stay ``querying``.
        """
        locks.acquire(self._engine, sync, run_id, lease_seconds=lease_seconds)

    def heartbeat(self, sync: str, run_id: str) -> None:
        """Extend the run's lease; raises ``SyncLockedError`` if the lock was taken over."""
        locks.heartbeat(self._engine, sync, run_id)

    def release_lock(self, sync: str, run_id: str) -> None:
        locks.release(self._engine, sync, run_id)

    def get_lock(self, sync: str) -> SyncLockRecord | None:
        """Who holds the sync's lock now (maybe a dead process: see ``acquire_lock``)."""
        with read_transaction(self._engine) as conn:
            return locks.get_lock(conn, sync)
