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
import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from bcsync.alerts import notify_run
from bcsync.checkpoint import RunTally, checkpoint
from bcsync.debugger import CallRecorder, prune
from bcsync.destinations.base import (
    RowOutcome,
)
from bcsync.destinations.bigcommerce.calls import ApiCall
from bcsync.destinations.bigcommerce.objects import object_for
from bcsync.destinations.bigcommerce.session import StoreSession, Transport
from bcsync.errors import BcsyncError, ConfigError, SyncLockedError
from bcsync.events import (
    Event,
    Observer,
    Planned,
    Progress,
    RunFinished,
    RunStarted,
    StatusChanged,
)
from bcsync.planner import ChangeSet, PlannedRow, plan
from bcsync.prediction import Prediction, predict
from bcsync.preflight import (
    guard,
    hashed_columns,
    located,
    mapping_text,
    missing_columns,
    model_types,
)
from bcsync.project import ProjectConfig, SyncConfig
from bcsync.results import COUNT_KEYS, CheckReport, PlanResult, RunResult
from bcsync.sending import ChunkSender
from bcsync.snapshot import Snapshot, snapshot_path
from bcsync.state import RunStore
from bcsync.state.check import store_problems
from bcsync.state.locks import LockKeeper
from bcsync.warehouse import open_warehouse

CHUNK_ROWS = 1000
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
        return RunStore.open(self.config.resolve_url(self.config.state.url))

    def _session(self, sync: SyncConfig, on_call: Any = None) -> StoreSession:
        destination = self.config.destinations[sync.destination]
        return StoreSession(destination, transport=self.transport, on_call=on_call)

    # -- check -------------------------------------------------------------------------------

    def check(self, names: Sequence[str] | None = None) -> list[CheckReport]:
        """Validate the run store (first, as ``sync`` None), then config, warehouse, credentials
        and mappings of the given syncs (all if None)."""
        selected = list(names) if names else sorted(self.config.syncs)
        found = store_problems(self.config.state_url)
        store = [str(self.config.error(("state", "url"), problem)) for problem in found]
        syncs = [asyncio.run(self._check_one(self._sync(name))) for name in selected]
        return [CheckReport(None, tuple(store)), *syncs]

    async def _check_one(self, sync: SyncConfig) -> CheckReport:
        # The report is headed by the sync's name: its lines do not repeat it.
        async with self._session(sync) as session:
            obj = object_for(sync, session.client)
            problems = located(self.config, sync, obj.static_problems(), named=False)
            try:
                column_types = model_types(self.config, sync)
                missing = missing_columns(sync, column_types)
                problems += located(self.config, sync, missing, named=False)
                await session.probe(obj.probe_path)
                prepared = await obj.prepare(column_types, dry_run=True)
                problems += located(self.config, sync, prepared, named=False)
            except BcsyncError as exc:
                # Warehouse errors start with the sync's name, for messages outside a report.
                problems.append(str(exc).removeprefix(f"sync '{sync.name}': "))
        return CheckReport(sync.name, tuple(problems))

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
            if problems:
                raise ConfigError("\n".join(located(self.config, sync, problems)))
            with self._changes(sync, full_resync=False) as (changes, _):
                counts = dict.fromkeys(COUNT_KEYS, 0)
                counts.update({k: v for k, v in changes.counts.to_json().items() if k in counts})
                prediction = Prediction()
                prediction.invalid.extend(
                    {"pk": r.pk, "reason": r.reason}
                    for chunk in changes.invalid(chunk=CHUNK_ROWS)
                    for r in chunk
                )
                for kind in ("added", "changed"):
                    for chunk in changes.rows(kind, chunk=CHUNK_ROWS):
                        # invalid rows are counted apart
                        counts[kind] -= await predict(obj, sync, kind, chunk, prediction)
                operations = dict.fromkeys(("create", "update", "clear", "delete", "skip"), 0)
                operations.update(prediction.operations)
                invalid = prediction.invalid
                lookups = prediction.lookups
                removed_op = {"nothing": "skip", "clear": "clear", "delete": "delete"}
                operations[removed_op[sync.on_delete]] += counts["removed"]
                counts["invalid"] = len(invalid)
                counts["planned"] = counts["added"] + counts["changed"] + counts["removed"]
                calls = obj.estimate_calls(operations, lookups)
        return PlanResult(
            sync.name,
            counts,
            operations,
            calls,
            session.seconds_for(calls),
            invalid,
        )

    @contextlib.contextmanager
    def _changes(
        self, sync: SyncConfig, *, full_resync: bool, store: RunStore | None = None
    ) -> Iterator[tuple[ChangeSet, Snapshot]]:
        with (
            self.open_snapshot(sync.name, store, upload=store is not None) as snapshot,
            self._planned(sync, snapshot, full_resync=full_resync) as changes,
        ):
            yield changes, snapshot

    @contextlib.contextmanager
    def open_snapshot(
        self, sync: str, store: RunStore | None = None, *, upload: bool = False
    ) -> Iterator[Snapshot]:
        """The sync's snapshot; with a PostgreSQL run store, a local copy of the one kept there
        (``bcsync.state.shared_snapshot``). ``store`` None: opened here if one is needed.
        ``upload``: share a local snapshot the run store does not have yet (a run does)."""
        path = snapshot_path(self.config.project_dir, sync)
        with contextlib.ExitStack() as stack:
            if store is None and self.shares_snapshots():
                store = stack.enter_context(self.open_store())
            shared = store.shared_snapshot(sync) if store is not None else None
            yield stack.enter_context(Snapshot(path, shared=shared, upload=upload))

    def reset_snapshot(self, sync: str) -> int:
        """Forget what ``sync`` synced (``Snapshot.reset``); returns how many entries there
        were. Holds the sync's lock meanwhile, so it is refused while a run is going: a reset
        must not drop what a live run writes, nor fail that run."""
        with self.open_store() as store:
            holder = f"reset-{uuid.uuid4().hex}"
            store.acquire_lock(sync, holder, lease_seconds=self.lock_lease_seconds)
            try:
                with self.open_snapshot(sync, store) as snapshot:
                    forgotten = snapshot.summary().total
                    snapshot.reset()
            finally:
                store.release_lock(sync, holder)
        return forgotten

    def shares_snapshots(self) -> bool:
        """Whether snapshots are kept in the run store (PostgreSQL), not only in local files."""
        url = self.config.resolve_url(self.config.state.url)
        return url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")

    @contextlib.contextmanager
    def _planned(
        self, sync: SyncConfig, snapshot: Snapshot, *, full_resync: bool
    ) -> Iterator[ChangeSet]:
        warehouse = open_warehouse(
            self.config.resolve_url(self.config.warehouse.url), project_dir=self.config.project_dir
        )
        try:
            # A DuckDB model is run by the snapshot's own DuckDB; others stream in as Arrow.
            model = warehouse.local_query(sync.model, sync=sync.name) or warehouse.stream(
                sync.model, sync=sync.name
            )
            changes = plan(
                model,
                snapshot,
                primary_key=sync.model.primary_key,
                columns=hashed_columns(sync),
                full_resync=full_resync,
                mapping=mapping_text(sync),
            )
            with changes:
                yield changes
        finally:
            warehouse.close()

    # -- run ---------------------------------------------------------------------------------

    def run(
        self, name: str, *, full_resync: bool = False, override_guards: bool = False
    ) -> RunResult:
        """Run one sync to the end; never raises for a failed run (the result says failed)."""
        sync = self._sync(name)
        store = self.open_store()
        try:
            result = asyncio.run(self._run(sync, store, full_resync, override_guards))
            # Alerts go out after the run is recorded; a channel that fails never fails the run.
            notify_run(self.config, store, result)
            return result
        finally:
            store.close()

    async def _run(
        self, sync: SyncConfig, store: RunStore, full_resync: bool, override_guards: bool
    ) -> RunResult:
        run_id = store.start_run(sync.name, full_resync=full_resync)
        # Every call the session makes is counted (and recorded for the debugger) by the tally.
        tally: RunTally

        def on_call(call: ApiCall) -> None:
            tally.on_call(call)

        session = self._session(sync, on_call=on_call)
        recorder = CallRecorder(
            store,
            run_id,
            secret=session.secret,
            max_body_bytes=self.config.debugger.max_body_bytes,
        )
        tally = RunTally(recorder=recorder if self.config.debugger.enabled else None)
        prune(store, self.config.debugger.retention_days)
        store.prune_row_outcomes(
            dt.datetime.now(dt.UTC) - dt.timedelta(days=self.config.state.retention_days)
        )
        self._emit(RunStarted(sync.name, run_id))
        status, error = "failed", None
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
            status = "failed" if locked else "skipped"
            error = str(exc)
        except BcsyncError as exc:
            error = str(exc)
        except Exception as exc:  # an unexpected failure still ends the run as failed
            error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            recorder.close()
            store.finish_run(
                run_id, status, counts=tally.counts, api_calls=tally.api_calls, error=error
            )
            if locked:
                store.release_lock(sync.name, run_id)
        record = store.get_run(run_id)
        result = RunResult(
            run_id=run_id,
            sync=sync.name,
            status=status,
            started_at=record.started_at.isoformat() if record else "",
            finished_at=record.finished_at.isoformat() if record and record.finished_at else None,
            error=error,
            counts=dict(tally.counts),
            api_calls=tally.api_calls,
            rejected_rows=tally.rejected,
            invalid_rows=tally.invalid,
        )
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
    ) -> str:
        def save(outcomes: Sequence[RowOutcome], planned: Sequence[PlannedRow] = ()) -> None:
            checkpoint(store, snapshot, run_id, tally, outcomes, planned)
            keeper.check()  # a run that lost its lock must not send another chunk

        async with session:
            obj = object_for(sync, session.client)
            problems = obj.static_problems()
            if problems:  # before anything touches the store (prepare may create attributes)
                raise ConfigError("\n".join(located(self.config, sync, problems)))
            self._set_status(store, sync, run_id, "querying")
            column_types = model_types(self.config, sync)
            problems = missing_columns(sync, column_types)
            problems += obj.column_problems(column_types)
            if problems:
                raise ConfigError("\n".join(located(self.config, sync, problems)))
            self._set_status(store, sync, run_id, "planning")
            with self._changes(sync, full_resync=full_resync, store=store) as (
                changes,
                snapshot,
            ):
                counts = changes.counts.to_json()
                for key in ("queried", "added", "changed", "removed"):
                    tally.counts[key] = int(counts.get(key, 0))
                guard(sync, changes, snapshot, override_guards)
                removed = 0 if full_resync else tally.counts["removed"]
                total = tally.counts["added"] + tally.counts["changed"] + removed
                tally.counts["planned"] = total
                prepared = False

                async def prepare() -> bool:
                    """Load what the store defines, the first time only (then True): only when
                    something goes to the store, so an unchanged model, or rows that are
                    invalid anyway, cost no API call at all."""
                    nonlocal prepared
                    if prepared:
                        return False
                    problems = await obj.prepare(column_types, dry_run=False)
                    if problems:
                        raise ConfigError("\n".join(located(self.config, sync, problems)))
                    prepared = True
                    return True

                self._emit(Planned(sync.name, run_id, dict(tally.counts), total))
                self._set_status(store, sync, run_id, "syncing")
                for invalid_rows in changes.invalid(chunk=CHUNK_ROWS):
                    invalid = [
                        RowOutcome(r.pk or "", None, "invalid", error=r.reason)
                        for r in invalid_rows
                    ]
                    save(invalid)
                done = 0
                sender = ChunkSender(sync, obj, snapshot, changes, prepare)
                for kind in ("added", "changed"):
                    for chunk in changes.rows(kind, chunk=CHUNK_ROWS):
                        outcomes = await sender.send(kind, chunk)
                        save(outcomes, chunk)
                        # A row found invalid before sending is counted apart, not as planned.
                        invalid_here = sum(1 for o in outcomes if o.status == "invalid")
                        tally.counts[kind] -= invalid_here
                        tally.counts["planned"] -= invalid_here
                        done += len(chunk)
                        self._emit(Progress(sync.name, run_id, done, total, tally.api_calls))
                for entries in changes.obsolete(chunk=CHUNK_ROWS):
                    snapshot.forget([e.pk for e in entries])  # never reached BigCommerce
                if not full_resync:
                    for entries in changes.removed(chunk=CHUNK_ROWS):
                        if sync.on_delete == "clear":
                            await prepare()
                        outcomes = await sender.remove(entries)
                        save(outcomes)
                        done += len(entries)
                        self._emit(Progress(sync.name, run_id, done, total, tally.api_calls))
        if tally.counts["rejected"] or tally.counts["invalid"]:
            return "warning"
        return "success"

    def _set_status(self, store: RunStore, sync: SyncConfig, run_id: str, status: str) -> None:
        store.set_status(run_id, status)
        self._emit(StatusChanged(sync.name, run_id, status))
