"""The Python API: ``bcsync.load_project(path).run("vip_customers")``, the one the CLI uses.

``Project`` is the one door to a project: it plans and runs syncs, and reads back what runs left
behind (the run history, one run's result, its API calls as the debugger shows them or as a HAR
file, a sync's snapshot). The CLI, the demo and a web UI read through it and nothing else.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bcsync.config.project import ProjectConfig
from bcsync.errors import BcsyncError, ConfigError, StateError
from bcsync.run.debugger import har_json
from bcsync.run.engine import Engine
from bcsync.run.events import Observer
from bcsync.run.field_changes import RowFields, field_changes, row_write
from bcsync.run.results import MAX_LISTED_ROWS, CheckReport, PlanResult, RunResult
from bcsync.run.snapshot import SnapshotEntry, SnapshotSummary, snapshot_path
from bcsync.state import (
    AlertStateRecord,
    ApiCallRecord,
    RowOutcomeRecord,
    RunRecord,
    RunStore,
    call_log,
    locks,
    row_history,
    run_history,
)
from bcsync.state.database import read_transaction
from bcsync.state.row_history import ErrorGroup, OutcomeRow, RowRun
from bcsync.state.run_history import (
    CallPage,
    OutcomePage,
    RunCursor,
    RunFilter,
    RunPage,
    SyncActivity,
)
from bcsync.vocabulary import RunStatus


@dataclass(frozen=True)
class SyncState:
    """What a sync's snapshot holds: its summary (None: no snapshot yet) and unsettled rows."""

    sync: str
    path: Path
    summary: SnapshotSummary | None
    unsettled: Sequence[SnapshotEntry]

    def unsettled_json(self) -> list[dict[str, Any]]:
        return [
            {
                "pk": e.pk,
                "status": e.status,
                "attempts": e.attempts,
                "error": e.last_error,
                "in_flight": e.pending_op,
                "dest_id": e.dest_id,
                "updated_at": e.updated_at.isoformat(),
            }
            for e in self.unsettled
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "sync": self.sync,
            "path": str(self.path),
            "snapshot": self.summary.to_json() if self.summary is not None else None,
            "unsettled": self.unsettled_json(),
        }


@dataclass(frozen=True)
class RunCalls:
    """A run's API calls (all, or those that carried one row) and that row's last outcome."""

    run_id: str
    sync: str
    calls: Sequence[ApiCallRecord]
    pk: str | None = None
    outcome: RowOutcomeRecord | None = None  # the row's last outcome, when ``pk`` is given

    def row_json(self) -> dict[str, Any] | None:
        if self.outcome is None:
            return None
        return self.outcome.to_json() | {"outcome": self.outcome.outcome}


class HarTooLarge(BcsyncError):
    """A HAR of this many calls is refused (see ``Project.filtered_har``)."""


class Project:
    """The Python API: ``bcsync.load_project(path).run("vip_customers")``."""

    def __init__(self, config: ProjectConfig, observers: Sequence[Observer] = ()) -> None:
        self.config = config
        self.engine = Engine(config, observers=observers)
        self._store: RunStore | None = None
        self._opening = threading.Lock()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[RunStore]:
        """The run store, opened once and kept for this Project's reads: opening costs 2-40 ms
        (an engine, a connection, the schema version), and one web page reads it many times.
        Its connection pool serves any thread; each read is its own transaction."""
        with self._opening:
            if self._store is None:
                self._store = self.engine.open_store()
        yield self._store

    def close(self) -> None:
        """Let the kept run store go (a Project stays usable: it opens again when read)."""
        with self._opening:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- syncs -------------------------------------------------------------------------------

    def check(self, names: Sequence[str] | None = None) -> list[CheckReport]:
        return self.engine.check(names)

    def plan(self, name: str) -> PlanResult:
        return self.engine.plan(name)

    def run(
        self,
        name: str,
        *,
        full_resync: bool = False,
        override_guards: bool = False,
        trigger: str = "api",
        queued_run: str | None = None,
    ) -> RunResult:
        """Run ``name`` to the end. ``queued_run`` names a run a scheduler or the API queued
        for it (``RunStore.queue_run``): this run is that one."""
        return self.engine.run(
            name,
            full_resync=full_resync,
            override_guards=override_guards,
            trigger=trigger,
            queued_run=queued_run,
        )

    # -- runs --------------------------------------------------------------------------------

    def runs(self, sync: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        """The latest runs (of one sync, or of all), newest first."""
        with self._reading() as store:
            return store.list_runs(sync, limit=limit)

    def result(self, run_id: str, *, limit: int | None = MAX_LISTED_ROWS) -> RunResult:
        """A recorded run (``run_id`` or a unique prefix) as a RunResult, with its first
        ``limit`` rejected and invalid rows (None: all). Raises ConfigError when no run or
        several match."""
        with self._reading() as store:
            record = _find_run(store, run_id)
            rejected = store.outcomes(record.run_id, kinds=["rejected"], limit=limit)
            invalid = store.outcomes(record.run_id, kinds=["invalid"], limit=limit)
        document = record.to_json()
        return RunResult(
            run_id=record.run_id,
            sync=record.sync,
            status=record.status,
            started_at=document["started_at"],
            finished_at=document["finished_at"],
            error=record.error,
            counts=document["counts"],
            api_calls=record.api_calls,
            rejected_rows=[outcome.to_json() for outcome in rejected],
            invalid_rows=[outcome.to_json() for outcome in invalid],
        )

    def calls(self, run_id: str, *, pk: str | None = None) -> RunCalls:
        """A recorded run's API calls in order; with ``pk``, those that carried that row."""
        with self._reading() as store:
            record = _find_run(store, run_id)
            calls = store.api_calls(record.run_id, pk=pk)
            outcomes = store.outcomes(record.run_id, pk=pk) if pk is not None else []
        return RunCalls(record.run_id, record.sync, calls, pk, outcomes[-1] if outcomes else None)

    def har(self, run_id: str, *, pk: str | None = None) -> str:
        """``calls(run_id, pk=pk)`` as a HAR 1.2 document, their URLs on the sync's store."""
        found = self.calls(run_id, pk=pk)
        sync = self.config.syncs.get(found.sync)
        if sync is None:
            raise ConfigError(
                f"run {found.run_id} is of sync {found.sync!r}, which bcsync.yml no longer"
                " defines: the store its calls went to is unknown"
            )
        destination = self.config.destinations[sync.destination]
        base = f"{destination.api_url.rstrip('/')}/stores/{destination.store_hash}"
        return har_json(found.calls, base_url=base)

    # -- snapshots ---------------------------------------------------------------------------

    def has_snapshot(self, sync: str) -> bool:
        """Whether ``sync`` (which must be defined) may have a snapshot."""
        self.config.sync(sync)  # raises a ConfigError naming the syncs that exist
        return self.engine.snapshots.exists(sync)

    def state(self, sync: str, *, limit: int | None = MAX_LISTED_ROWS) -> SyncState:
        """What ``sync``'s snapshot holds, with its first ``limit`` unsettled rows (None: all)."""
        path = snapshot_path(self.config.project_dir, sync)
        if not self.has_snapshot(sync):
            return SyncState(sync, path, None, [])
        with self.engine.snapshots.open(sync) as snapshot:
            return SyncState(sync, path, snapshot.summary(), snapshot.unsettled(limit))

    def reset(self, sync: str) -> int:
        """Forget ``sync``'s snapshot (its next run treats every row as added); returns how many
        rows were forgotten. Refused while a run of the sync is going."""
        self.config.sync(sync)
        return self.engine.snapshots.reset(sync, lease_seconds=self.engine.lock_lease_seconds)

    # -- the web UI's Run and Row pages ------------------------------------------------------

    def run_record(self, run_id: str) -> RunRecord:
        """A recorded run (an id or a unique prefix) as stored, counts so far included while it
        is going. A run the store says is going whose process is provably gone (it still holds
        its sync's lock, a stale one: ``state/locks.py``) reads as ``interrupted`` with the
        reason, as the sync's next run will record it: a page or a client polling it must not
        wait for it forever. Raises ConfigError when no run or several match."""
        with self._reading() as store:
            record = _find_run(store, run_id)
            return _unless_gone(store, record) if record.running else record

    def error_groups(
        self, run_id: str, *, pk: str | None = None, limit: int | None = None
    ) -> list[ErrorGroup]:
        """The run's rejected and invalid rows grouped by message, most rows first (the first
        ``limit`` groups, when given)."""
        with self._reading() as store:
            return row_history.error_groups(store, run_id, pk=pk, limit=limit)

    def error_group_rows(
        self,
        run_id: str,
        outcome: str,
        error: str | None,
        *,
        after: int = 0,
        limit: int = 50,
        pk: str | None = None,
    ) -> list[OutcomeRow]:
        """One group's rows after the row ``after`` (keyset paging), in recorded order."""
        with self._reading() as store:
            return row_history.group_rows(
                store, run_id, outcome, error, after=after, limit=limit, pk=pk
            )

    def problem_rows(self, run_id: str) -> Iterator[RowOutcomeRecord]:
        """Every rejected and invalid row of the run, for an export (read a page at a time)."""
        with self._reading() as store:
            yield from row_history.problem_rows(store, run_id)

    def row_history(self, sync: str, pk: str, *, limit: int = 50) -> list[RowRun]:
        """``pk``'s outcome in each run of ``sync``, newest first."""
        self.config.sync(sync)
        with self._reading() as store:
            return row_history.row_runs(store, sync, pk, limit=limit)

    def held_record(self, sync: str, pk: str) -> str | None:
        """The id of the BigCommerce record ``pk`` holds, from the sync's snapshot (in a
        PostgreSQL run store, its entries there). A local snapshot file is not opened while a
        run of the sync has it: then the row's latest outcome says what it held."""
        self.config.sync(sync)
        with self._reading() as store:
            if store.shared_snapshot(sync) is not None:
                return row_history.shared_holding(store, sync, pk)
        going = any(run.running for run in self.runs(sync, limit=1))
        if not going and self.has_snapshot(sync):
            try:
                with self.engine.snapshots.open(sync) as snapshot:
                    entry = snapshot.get([pk]).get(pk)
                return entry.holds if entry is not None else None
            except StateError:
                pass  # taken by a run that just started: the run store says what it knows
        for found in self.row_history(sync, pk, limit=5):
            if found.record.dest_id is not None:
                return found.record.dest_id
        return None

    def row_fields(self, sync: str, pk: str, run_id: str | None = None) -> RowFields | None:
        """``pk``'s field-level before/after in run ``run_id`` (default: the latest run whose
        calls carried it): last synced, sent, answered. None when no recorded call carried it."""
        config = self.config.sync(sync)
        with self._reading() as store:
            if run_id is None:
                latest = row_history.carrying_runs(store, sync, pk, limit=1)
                if not latest:
                    return None
                run_id = latest[0]
            record = _find_run(store, run_id)
            if record.sync != sync:  # another sync's row of the same key is another row
                raise ConfigError(f"run {record.run_id} is a run of {record.sync}, not of {sync}")
            outcomes = store.outcomes(record.run_id, pk=pk)
            dest_id = outcomes[-1].dest_id if outcomes else None
            now = row_write(store.api_calls(record.run_id, pk=pk), pk, dest_id)
            previous = row_history.previous_carrying_run(store, sync, pk, record.run_id)
            before = None
            if previous is not None:
                earlier = store.outcomes(previous, pk=pk)
                held = earlier[-1].dest_id if earlier else dest_id
                before = row_write(store.api_calls(previous, pk=pk), pk, held)
        return RowFields(record.run_id, previous, field_changes(config, before, now), now.call)

    def control_panel_url(self, sync: str, dest_id: str) -> str:
        """Where the record ``dest_id`` of ``sync``'s object opens in the store's control panel."""
        config = self.config.sync(sync)
        store_hash = self.config.destinations[config.destination].store_hash
        base = f"https://store-{store_hash}.mybigcommerce.com/manage"
        if config.object == "orders":
            return f"{base}/orders/{int(dest_id)}"
        return f"{base}/customers/{int(dest_id)}/edit"

    # -- the web UI's Syncs and Sync pages, and its JSON API -----------------------------------

    def sync_activity(self) -> list[SyncActivity]:
        """Every sync of ``bcsync.yml`` with its last run, its run in progress and its open
        alerts, in the order of the file."""
        with self._reading() as store:
            found = run_history.activity(store.engine, list(self.config.syncs))
            # A last run whose process is gone reads as interrupted here too (see run_record).
            return [
                replace(a, last=_unless_gone(store, a.last))
                if a.last is not None and a.last.running
                else a
                for a in found
            ]

    def live_run(self, sync: str) -> RunRecord | None:
        """``sync``'s run in progress (the live holder of its lock), or None."""
        self.config.sync(sync)
        with self._reading() as store:
            return run_history.live_run(store.engine, sync)

    def sync_history(
        self,
        sync: str,
        *,
        where: RunFilter | None = None,
        before: RunCursor | None = None,
        limit: int = 25,
    ) -> RunPage:
        """``sync``'s runs matching ``where``, newest first, a page at a time (by key)."""
        self.config.sync(sync)
        with self._reading() as store:
            return run_history.history(
                store.engine, sync, where=where or RunFilter(), before=before, limit=limit
            )

    def outcomes_page(
        self, run_id: str, *, outcome: str | None = None, after: int | None = None, limit: int = 100
    ) -> OutcomePage:
        """A page of the run's row outcomes (optionally of one kind), in recorded order."""
        with self._reading() as store:
            record = _find_run(store, run_id)
            return run_history.outcomes_page(
                store.engine, record.run_id, outcome=outcome, after=after, limit=limit
            )

    def calls_page(self, run_id: str, *, after: int | None = None, limit: int = 100) -> CallPage:
        """A page of the run's recorded API calls (redacted), in sequence order."""
        with self._reading() as store:
            record = _find_run(store, run_id)
            return run_history.calls_page(store.engine, record.run_id, after=after, limit=limit)

    # -- the web UI's live debugger and Alerts page ------------------------------------------

    def debugger_calls(
        self,
        run_id: str,
        where: call_log.CallFilter | None = None,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> call_log.FilteredCalls:
        """A page of the run's recorded calls that match ``where``, keyset-paged by ``seq``."""
        with self._reading() as store:
            record = _find_run(store, run_id)
            return call_log.filtered_calls(
                store,
                record.run_id,
                where or call_log.CallFilter(),
                after=after,
                before=before,
                limit=limit,
            )

    def call_facets(self, run_id: str) -> call_log.CallFacets:
        """The methods and endpoints the run's calls used (what its calls filter by)."""
        with self._reading() as store:
            return call_log.call_facets(store, _find_run(store, run_id).run_id)

    def call(self, run_id: str, seq: int) -> ApiCallRecord | None:
        """The run's call number ``seq`` (None: no such call); ConfigError for an unknown run."""
        with self._reading() as store:
            return call_log.get_call(store, _find_run(store, run_id).run_id, seq)

    def filtered_har(
        self, run_id: str, where: call_log.CallFilter, *, max_calls: int | None = None
    ) -> str:
        """The run's calls that match ``where`` as a HAR 1.2 document (redacted like ``har``).
        Raises ``HarTooLarge`` for more than ``max_calls`` calls: the document is built in
        memory, and a run of 180,000 calls would take gigabytes."""
        with self._reading() as store:
            record = _find_run(store, run_id)
            limit = max_calls + 1 if max_calls is not None else None
            calls = call_log.matching_calls(store, record.run_id, where, limit=limit)
        if max_calls is not None and len(calls) > max_calls:
            raise HarTooLarge(
                f"more than {max_calls:,} calls match: too many for one HAR file; narrow it with"
                " the filters (status, endpoint, method, primary key)"
            )
        sync = self.config.syncs.get(record.sync)
        if sync is None:
            raise ConfigError(
                f"run {record.run_id} is of sync {record.sync!r}, which bcsync.yml no longer"
                " defines: the store its calls went to is unknown"
            )
        destination = self.config.destinations[sync.destination]
        base = f"{destination.api_url.rstrip('/')}/stores/{destination.store_hash}"
        return har_json(calls, base_url=base)

    def alert_states(self) -> list[AlertStateRecord]:
        """Every alert trigger state the run store holds (a trigger never fired has none)."""
        with self._reading() as store:
            return call_log.all_alert_states(store)

    def notifications(
        self, *, before: int | None = None, limit: int = 20
    ) -> call_log.NotificationPage:
        """The alert notifications sent, newest first, keyset-paged by id."""
        with self._reading() as store:
            return call_log.notifications(store, before=before, limit=limit)

    def notification(self, notification_id: int) -> call_log.NotificationRecord | None:
        with self._reading() as store:
            return call_log.get_notification(store, notification_id)

    def send_test_alert(self, channel: str) -> call_log.NotificationRecord:
        """Send a test message through ``channel`` with the real delivery code and record it in
        the history; returns that record (delivered or not, its error redacted). Raises
        ConfigError for a channel bcsync.yml does not define."""
        from bcsync.alerts.dispatch import send_test

        channels = self.config.alerts.channels if self.config.alerts is not None else {}
        if channel not in channels:
            known = ", ".join(sorted(channels)) or "none defined"
            raise ConfigError(f"unknown alert channel {channel!r} (defined: {known})")
        with self._reading() as store:
            _, recorded = send_test(self.config, channel, store=store)
            found = call_log.get_notification(store, recorded) if recorded is not None else None
        if found is None:
            raise StateError(f"the test message to {channel!r} could not be recorded")
        return found


def _unless_gone(store: RunStore, record: RunRecord) -> RunRecord:
    """``record`` of a run in progress, or, when the process running it is gone, the record the
    next run of its sync will write (``interrupted``, and why)."""
    with read_transaction(store.engine) as conn:
        held = locks.get_lock(conn, record.sync)
    if held is None or held.run_id != record.run_id:
        return record  # not locked yet (the run is starting), or already taken over and closed
    reason = locks.stale_reason(held, str(record.status), datetime.now(UTC))
    if reason is None:
        return record
    return replace(record, status=RunStatus.INTERRUPTED, error=reason)


def _find_run(store: RunStore, run_id: str) -> RunRecord:
    """The run ``run_id`` names (an id or a unique prefix); a ConfigError when none or several."""
    try:
        record = store.get_run(run_id)
    except StateError as exc:  # an ambiguous prefix: the user's to fix
        raise ConfigError(str(exc)) from None
    if record is None:
        raise ConfigError(f"no run {run_id!r} in the run store (see `bcsync runs`)")
    return record


def load_project(path: Path | str | None = None, observers: Sequence[Observer] = ()) -> Project:
    from bcsync.config.project import load_config

    return Project(load_config(path), observers)
