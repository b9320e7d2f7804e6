"""One sync run from start to end: query, plan, send, checkpoint. Reports through observers only.

A run (DESIGN §3.5):

1. takes the sync's lock in the run store (a lock left by a dead process is taken over; one
   a live run holds ends this run as ``skipped``, naming that run);
2. checks the mappings against the store (attributes, statuses) and the model's columns;
3. streams the model from the warehouse into the planner, which diffs it against the snapshot;
4. stops before sending anything if a guard trips (empty model, too many deletes);
5. sends the added and changed rows in chunks: validate → resolve (match) → mark creates pending
   in the snapshot → apply → confirm or fail each row in the snapshot and the run store (a
   create that lacks a value BigCommerce requires is an invalid row, never sent). A crash
   loses at most the chunk in flight, whose creates the next run settles by reading BigCommerce;
6. applies the delete behaviour to removed rows, and finishes the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from bcsync.alerts import notify_run
from bcsync.config.project import ProjectConfig, SyncConfig
from bcsync.destinations.bigcommerce.calls import ApiCall
from bcsync.destinations.bigcommerce.objects import object_for
from bcsync.destinations.bigcommerce.session import StoreSession, Transport
from bcsync.destinations.bigcommerce.shared_quota import governors_for
from bcsync.errors import BcsyncError, ConfigError, SyncLockedError
from bcsync.run.checking import check_store, check_sync
from bcsync.run.checkpoint import Checkpoints, RunTally, record_progress
from bcsync.run.events import (
    Event,
    Observer,
    Planned,
    Progress,
    RunFinished,
    RunStarted,
    StatusChanged,
)
from bcsync.run.prediction import predict_plan
from bcsync.run.preflight import fail_on, guard, missing_columns, model_types
from bcsync.run.results import CheckReport, PlanResult, RunResult
from bcsync.run.run_book import RunBook
from bcsync.run.sending import ChunkSender, Preparation
from bcsync.run.snapshots import Snapshots
from bcsync.state import RunStore
from bcsync.state.locks import LockKeeper
from bcsync.vocabulary import RunStatus
from bcsync.warehouse_logs import log_after_run

LOCK_LEASE_SECONDS = 60.0  # a run that stops renewing its lock for this long counts as dead


class Engine:
    """Runs, plans and checks the syncs of one project."""

    lock_lease_seconds = LOCK_LEASE_SECONDS

    def __init__(
        self,
        config: ProjectConfig,
        *,
        observers: Sequence[Observer] = (),
        transport: Transport | None = None,
    ) -> None:
        self.config = config
        self.observers = list(observers)
        self.transport = transport  # the HTTP seam: tests pass one that checks the contract
        self.snapshots = Snapshots(config)
        # One per store, shared by every command of this engine; with a PostgreSQL run store each
        # store's quota is also shared with every other process using it.
        self.governors = governors_for(config.state_url)

    # -- plumbing ----------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        for observer in self.observers:
            observer(event)

    def _sync(self, name: str) -> SyncConfig:
        try:
            return self.config.syncs[name]
        except KeyError:
            known = ", ".join(sorted(self.config.syncs)) or "none"
            raise ConfigError(f"no sync named '{name}' (defined: {known})") from None

    def open_store(self) -> RunStore:
        return RunStore.open(self.config.state_url)

    def _session(self, sync: SyncConfig, on_call: Any = None) -> StoreSession:
        destination = self.config.destinations[sync.destination]
        governor = self.governors.for_store(destination.api_url, destination.store_hash)
        return StoreSession(
            destination, transport=self.transport, on_call=on_call, governor=governor
        )

    # -- check -------------------------------------------------------------------------------

    def check(self, names: Sequence[str] | None = None) -> list[CheckReport]:
        """Validate the run store (first, as ``sync`` None), then config, warehouse, credentials
        and mappings of the given syncs (all if None)."""
        selected = [self._sync(name) for name in (names or sorted(self.config.syncs))]
        reports = [asyncio.run(check_sync(self.config, s, self._session(s))) for s in selected]
        return [check_store(self.config), *reports]

    # -- plan --------------------------------------------------------------------------------

    def plan(self, name: str) -> PlanResult:
        """What the next run would do. Reads the warehouse and the store; writes nothing to
        BigCommerce or the run store, only the snapshot's cache of quick hashes."""
        return asyncio.run(self._plan(self._sync(name)))

    async def _plan(self, sync: SyncConfig) -> PlanResult:
        async with self._session(sync) as session:
            obj = object_for(sync, session.client)
            problems = obj.static_problems()
            column_types = model_types(self.config, sync)
            problems += missing_columns(sync, column_types)
            problems += await obj.prepare(column_types, dry_run=True)
            fail_on(self.config, sync, problems)
            with self.snapshots.diff(sync) as (changes, _):
                result = await predict_plan(obj, sync, changes, session.seconds_for)
                return dataclasses.replace(result, planner=changes.report)

    # -- run ---------------------------------------------------------------------------------

    def run(
        self,
        name: str,
        *,
        full_resync: bool = False,
        override_guards: bool = False,
        trigger: str = "api",
        queued_run: str | None = None,
    ) -> RunResult:
        """Run one sync to the end; never raises for a failed run (the result says failed).
        ``trigger`` records what started it (cli, api, manual, schedule, after:<sync>);
        ``queued_run`` is the id of a queued run to begin as this one."""
        sync = self._sync(name)
        store = self.open_store()
        try:
            result = asyncio.run(
                self._run(sync, store, full_resync, override_guards, trigger, queued_run)
            )
            # Alerts go out after the run is recorded; a channel that fails never fails the run.
            notify_run(self.config, store, result)
            # Likewise the warehouse logs: a failed write is a warning, caught up by a later run.
            log_after_run(self.config, store, result)
            return result
        finally:
            store.close()

    async def _run(
        self,
        sync: SyncConfig,
        store: RunStore,
        full_resync: bool,
        override_guards: bool,
        trigger: str,
        queued_run: str | None,
    ) -> RunResult:
        book: RunBook

        def on_call(call: ApiCall) -> None:  # every call is counted, and kept for the debugger
            book.tally.on_call(call)

        session = self._session(sync, on_call=on_call)
        book = RunBook(
            self.config,
            store,
            sync.name,
            full_resync=full_resync,
            trigger=trigger,
            secret=session.secret,
            queued_run=queued_run,
        )
        run_id, tally = book.run_id, book.tally
        self._emit(RunStarted(sync.name, run_id))
        status, error = RunStatus.FAILED, None
        locked = False
        try:
            store.acquire_lock(sync.name, run_id, lease_seconds=self.lock_lease_seconds)
            locked = True
            keeper = LockKeeper(store, sync.name, run_id, self.lock_lease_seconds / 4)
            renewing = asyncio.create_task(keeper.keep())
            try:
                status = await self._sync_rows(
                    sync, session, store, run_id, tally, full_resync, override_guards, keeper
                )
            finally:
                renewing.cancel()
        except SyncLockedError as exc:
            # Refused at the start because a live run holds the lock (the message names it):
            # an overlapping trigger, not a failure, so no failure alert. A run that loses its
            # lock midway did stop before its end: that one failed.
            status = RunStatus.FAILED if locked else RunStatus.SKIPPED
            error = str(exc)
        except BcsyncError as exc:
            error = str(exc)
        except Exception as exc:  # an unexpected failure still ends the run as failed
            error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            book.close(status, error)
            if locked:
                store.release_lock(sync.name, run_id)
        result = book.result(status, error)
        self._emit(RunFinished(result))
        return result

    async def _sync_rows(
        self,
        sync: SyncConfig,
        session: StoreSession,
        store: RunStore,
        run_id: str,
        tally: RunTally,
        full_resync: bool,
        override_guards: bool,
        keeper: LockKeeper,
    ) -> RunStatus:
        """Long because it is a run's phases in order (checks, plan, guard, send), each of which is
        a call."""

        async with session:
            obj = object_for(sync, session.client)
            # Before anything touches the store (preparing may create attributes).
            fail_on(self.config, sync, obj.static_problems())
            self._set_status(store, sync, run_id, RunStatus.QUERYING)
            column_types = model_types(self.config, sync)
            problems = missing_columns(sync, column_types) + obj.column_problems(column_types)
            fail_on(self.config, sync, problems)
            self._set_status(store, sync, run_id, RunStatus.PLANNING)
            with self.snapshots.diff(sync, store, full_resync=full_resync) as (changes, snapshot):
                total = tally.planned(changes.counts, full_resync=full_resync)
                record_progress(store, run_id, tally)  # watched live from here on
                guard(sync, changes, snapshot, override_guards)
                self._emit(Planned(sync.name, run_id, tally.counts, total))
                self._set_status(store, sync, run_id, RunStatus.SYNCING)
                prepare = Preparation(obj, column_types, lambda p: fail_on(self.config, sync, p))
                sender = ChunkSender(sync, obj, snapshot, changes, prepare)
                save = Checkpoints(store, snapshot, run_id, tally, after=keeper.check)

                def progress(done: int) -> None:
                    self._emit(Progress(sync.name, run_id, done, total, tally.api_calls))

                await sender.send_all(save, tally.uncount, progress, full_resync=full_resync)
        if tally.counts.rejected or tally.counts.invalid:
            return RunStatus.WARNING
        return RunStatus.SUCCESS

    def _set_status(
        self, store: RunStore, sync: SyncConfig, run_id: str, status: RunStatus
    ) -> None:
        store.set_status(run_id, status)
        self._emit(StatusChanged(sync.name, run_id, status))
