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
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from bcsync.alerts import notify_run
from bcsync.checkpoint import RunTally, checkpoint
from bcsync.debugger import CallRecorder, prune
from bcsync.destinations.base import (
    After,
    DestinationObject,
    Op,
    Problem,
    RowOp,
    RowOutcome,
    landed_of,
)
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.objects import object_for
from bcsync.errors import BcsyncError, ConfigError, GuardError, SyncLockedError
from bcsync.events import (
    Event,
    Observer,
    Planned,
    Progress,
    RunFinished,
    RunStarted,
    StatusChanged,
)
from bcsync.ownership import claim, split_removed
from bcsync.planner import ChangeSet, PlannedRow, plan
from bcsync.project import ProjectConfig, SyncConfig
from bcsync.results import COUNT_KEYS, CheckReport, PlanResult, RunResult
from bcsync.snapshot import Snapshot, SnapshotEntry
from bcsync.state import RunStore
from bcsync.state.check import store_problems
from bcsync.warehouse import open_warehouse

CHUNK_ROWS = 1000
LOCK_LEASE_SECONDS = 60.0  # a run that stops renewing its lock for this long counts as dead


def snapshot_path(project_dir: Path, sync: str) -> Path:
    """Where a sync's snapshot lives."""
    return project_dir / ".bcsync" / "snapshots" / f"{sync}.duckdb"


class LockKeeper:
    """Renews a run's lock in the background, so a run that waits on a slow quota for longer
    than the lease is never taken for dead. If the lock was lost anyway (this run stalled past
    its lease and another took over), ``check`` raises so the run stops sending."""

    def __init__(self, store: RunStore, sync: str, run_id: str, every: float) -> None:
        self.store, self.sync, self.run_id, self.every = store, sync, run_id, every
        self.lost: SyncLockedError | None = None

    async def keep(self) -> None:
        while self.lost is None:
            await asyncio.sleep(self.every)
            try:
                self.store.heartbeat(self.sync, self.run_id)
            except SyncLockedError as exc:
                self.lost = exc

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost


class Engine:
    """Runs, plans and checks the syncs of one project."""

    lock_lease_seconds = LOCK_LEASE_SECONDS

    def __init__(
        self,
        config: ProjectConfig,
        *,
        observers: Sequence[Observer] = (),
        transport: httpx.AsyncBaseTransport | None = None,
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

    def _client(self, sync: SyncConfig, on_call: Any = None) -> BigCommerceClient:
        destination = self.config.destinations[sync.destination]
        return BigCommerceClient(
            api_url=destination.api_url,
            store_hash=destination.store_hash,
            access_token=destination.access_token.get_secret_value(),
            on_call=on_call,
            transport=self.transport,
        )

    def _located(
        self, sync: SyncConfig, problems: Sequence[Problem], *, named: bool = True
    ) -> list[str]:
        """``bcsync.yml:14: sync 'vip': …`` per problem; ``named=False`` leaves out the sync's
        name, for a report already headed by it (``check``)."""
        lines = []
        for problem in problems:
            where = self.config.locate("syncs", sync.name, *problem.where)
            name = f"sync '{sync.name}': " if named else ""
            lines.append(f"{where}: {name}{problem.message}")
        return lines

    @staticmethod
    def _mapping(sync: SyncConfig) -> str:
        """Where the hashed columns go: part of every row's hash (DESIGN §3.8), so a mapping
        change re-sends the rows it affects."""
        pairs = sorted(f"{m.column}->{m.field}" for m in sync.mappings)
        if sync.match is not None and sync.mode != "insert":
            pairs.append(f"match:{sync.match.column}->{sync.match.field}")
        return ";".join(pairs)

    def _columns(self, sync: SyncConfig) -> list[str]:
        columns: list[str] = []
        if sync.match is not None and sync.mode != "insert":
            columns.append(sync.match.column)
        for mapping in sync.mappings:
            if mapping.column not in columns:
                columns.append(mapping.column)
        return columns

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
        async with self._client(sync) as client:
            obj = object_for(sync, client)
            problems = self._located(sync, obj.static_problems(), named=False)
            try:
                column_types = self._column_types(sync)
                missing = self._missing_columns(sync, column_types)
                problems += self._located(sync, missing, named=False)
                await client.request("GET", obj.probe_path, params={"limit": "1"})
                prepared = await obj.prepare(column_types, dry_run=True)
                problems += self._located(sync, prepared, named=False)
            except BcsyncError as exc:
                # Warehouse errors start with the sync's name, for messages outside a report.
                problems.append(str(exc).removeprefix(f"sync '{sync.name}': "))
        return CheckReport(sync.name, tuple(problems))

    def _missing_columns(self, sync: SyncConfig, column_types: dict[str, str]) -> list[Problem]:
        """The key, match and mapped columns the model does not have, located in the file."""
        available = ", ".join(column_types)
        problems = []
        if sync.model.primary_key not in column_types:
            problems.append(
                Problem(
                    f"primary key column '{sync.model.primary_key}' is not in the model "
                    f"(columns: {available})",
                    ("model", "primary_key"),
                )
            )
        if (
            sync.match is not None
            and sync.mode != "insert"
            and sync.match.column not in column_types
        ):
            problems.append(
                Problem(
                    f"match column '{sync.match.column}' is not in the model "
                    f"(columns: {available})",
                    ("match", "column"),
                )
            )
        for index, mapping in enumerate(sync.mappings):
            if mapping.column not in column_types:
                problems.append(
                    Problem(
                        f"column '{mapping.column}' is not in the model (columns: {available})",
                        ("mappings", index, "column"),
                    )
                )
        return problems

    def _column_types(self, sync: SyncConfig) -> dict[str, str]:
        warehouse = open_warehouse(
            self.config.resolve_url(self.config.warehouse.url), project_dir=self.config.project_dir
        )
        try:
            schema = warehouse.schema(sync.model, sync=sync.name)
        finally:
            warehouse.close()
        return {f.name: str(f.type) for f in schema}

    # -- plan --------------------------------------------------------------------------------

    def plan(self, name: str) -> PlanResult:
        """What the next run would do. Reads the warehouse and the store; writes nothing to
        BigCommerce or the run store, only the snapshot's cache of quick hashes."""
        return asyncio.run(self._plan(self._sync(name)))

    async def _plan(self, sync: SyncConfig) -> PlanResult:
        async with self._client(sync) as client:
            obj = object_for(sync, client)
            problems = obj.static_problems()
            column_types = self._column_types(sync)
            problems += self._missing_columns(sync, column_types)
            problems += await obj.prepare(column_types, dry_run=True)
            if problems:
                raise ConfigError("\n".join(self._located(sync, problems)))
            with self._changes(sync, full_resync=False) as (changes, _):
                counts = dict.fromkeys(COUNT_KEYS, 0)
                counts.update({k: v for k, v in changes.counts.to_json().items() if k in counts})
                operations = dict.fromkeys(("create", "update", "clear", "delete", "skip"), 0)
                invalid = [
                    {"pk": r.pk, "reason": r.reason}
                    for chunk in changes.invalid(chunk=CHUNK_ROWS)
                    for r in chunk
                ]
                lookups = 0
                for kind in ("added", "changed"):
                    for chunk in changes.rows(kind, chunk=CHUNK_ROWS):
                        for row in chunk:
                            op, lookup = obj.predict(kind, row.entry.holds if row.entry else None)
                            reason = obj.validate_row(row.values)
                            if reason is None and op == "create":
                                # What the run refuses to create, plan shows invalid: every
                                # row it predicts a create for (in upsert, one no customer
                                # matches; plan looks nothing up, so it assumes none does).
                                reason = obj.create_problem(row.values)
                            if reason:
                                invalid.append({"pk": row.pk, "reason": reason})
                                counts[kind] -= 1  # invalid rows are counted apart
                                continue
                            operations[op] += 1
                            lookups += lookup
                removed_op = {"nothing": "skip", "clear": "clear", "delete": "delete"}
                operations[removed_op[sync.on_delete]] += counts["removed"]
                counts["invalid"] = len(invalid)
                counts["planned"] = counts["added"] + counts["changed"] + counts["removed"]
                calls = obj.estimate_calls(operations, lookups)
        # Unknown quota: assume the smallest plan's (150 requests per 30 s) rather than none.
        per_second = client.governor.requests_per_second() or 5.0
        return PlanResult(
            sync.name,
            counts,
            operations,
            calls,
            calls / per_second,
            invalid,
        )

    @contextlib.contextmanager
    def _changes(
        self, sync: SyncConfig, *, full_resync: bool, store: RunStore | None = None
    ) -> Iterator[tuple[ChangeSet, Snapshot]]:
        with (
            self.open_snapshot(sync.name, store) as snapshot,
            self._planned(sync, snapshot, full_resync=full_resync) as changes,
        ):
            yield changes, snapshot

    @contextlib.contextmanager
    def open_snapshot(self, sync: str, store: RunStore | None = None) -> Iterator[Snapshot]:
        """The sync's snapshot; with a PostgreSQL run store, a local copy of the one kept there
        (``bcsync.state.shared_snapshot``). ``store`` None: opened here if one is needed."""
        path = snapshot_path(self.config.project_dir, sync)
        with contextlib.ExitStack() as stack:
            if store is None and self.shares_snapshots():
                store = stack.enter_context(self.open_store())
            shared = store.shared_snapshot(sync) if store is not None else None
            yield stack.enter_context(Snapshot(path, shared=shared))

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
                columns=self._columns(sync),
                full_resync=full_resync,
                mapping=self._mapping(sync),
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
        destination = self.config.destinations[sync.destination]
        recorder = CallRecorder(
            store,
            run_id,
            secret=destination.access_token.get_secret_value(),
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
                    sync, store, run_id, tally, full_resync, override_guards, keeper
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

        async with self._client(sync, tally.on_call) as client:
            obj = object_for(sync, client)
            problems = obj.static_problems()
            if problems:  # before anything touches the store (prepare may create attributes)
                raise ConfigError("\n".join(self._located(sync, problems)))
            self._set_status(store, sync, run_id, "querying")
            column_types = self._column_types(sync)
            problems = self._missing_columns(sync, column_types)
            problems += obj.column_problems(column_types)
            if problems:
                raise ConfigError("\n".join(self._located(sync, problems)))
            self._set_status(store, sync, run_id, "planning")
            with self._changes(sync, full_resync=full_resync, store=store) as (
                changes,
                snapshot,
            ):
                counts = changes.counts.to_json()
                for key in ("queried", "added", "changed", "removed"):
                    tally.counts[key] = int(counts.get(key, 0))
                self._guard(sync, changes, snapshot, override_guards)
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
                        raise ConfigError("\n".join(self._located(sync, problems)))
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
                for kind in ("added", "changed"):
                    for chunk in changes.rows(kind, chunk=CHUNK_ROWS):
                        outcomes = await self._send_chunk(
                            sync, obj, snapshot, changes, kind, chunk, prepare
                        )
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
                        outcomes = await self._remove_chunk(sync, obj, snapshot, entries)
                        save(outcomes)
                        done += len(entries)
                        self._emit(Progress(sync.name, run_id, done, total, tally.api_calls))
        if tally.counts["rejected"] or tally.counts["invalid"]:
            return "warning"
        return "success"

    def _set_status(self, store: RunStore, sync: SyncConfig, run_id: str, status: str) -> None:
        store.set_status(run_id, status)
        self._emit(StatusChanged(sync.name, run_id, status))

    def _guard(
        self, sync: SyncConfig, changes: ChangeSet, snapshot: Snapshot, override: bool
    ) -> None:
        owned = snapshot.count()
        if override or owned == 0:
            return
        if changes.counts.queried == 0:
            raise GuardError(
                f"the model of sync '{sync.name}' returned no rows while {owned} records are "
                "synced; refusing to continue (pass --override-guards if this is intended)"
            )
        removed = changes.counts.removed
        if sync.on_delete != "nothing" and removed > sync.max_delete_fraction * owned:
            verb = "delete" if sync.on_delete == "delete" else "clear"
            raise GuardError(
                f"sync '{sync.name}' would {verb} {removed} of {owned} records "
                f"({removed / owned:.0%}), more than max_delete_fraction "
                f"{sync.max_delete_fraction:.0%}; refusing to continue (pass --override-guards "
                "if this is intended)"
            )

    async def _send_chunk(
        self,
        sync: SyncConfig,
        obj: DestinationObject,
        snapshot: Snapshot,
        changes: ChangeSet,
        kind: str,
        chunk: Sequence[PlannedRow],
        prepare: Callable[[], Awaitable[bool]],
    ) -> list[RowOutcome]:
        outcomes: list[RowOutcome] = []
        candidates: list[RowOp] = []
        for row in chunk:
            candidate = _row_op(kind, row)
            if sync.mode == "insert" and candidate.dest_id is not None and not candidate.retry:
                # Insert mode never updates a record it holds (DESIGN §3.2): nothing to check
                # or send, and the row's hash advances.
                note = f"insert mode does not update existing {obj.name}"
                skipped = RowOutcome(row.pk, None, "skipped", candidate.dest_id, note, row.row_hash)
                outcomes.append(skipped)
                continue
            # Checks that need nothing from the store first: a chunk of rows that are invalid
            # anyway costs no call. The first valid row loads the store's attributes or
            # statuses, and is checked again against them (the rows after it once only).
            reason = obj.validate_row(row.values)
            if reason is None and await prepare():
                reason = obj.validate_row(row.values)
            if reason:
                outcomes.append(RowOutcome(row.pk, None, "invalid", error=reason))
                continue
            candidates.append(candidate)
        candidates = self._found_again(obj, snapshot, changes, candidates)
        decision = await obj.resolve(candidates)
        writes, uncreatable = _creatable(obj, decision.ops)
        outcomes.extend(decision.outcomes + uncreatable)
        holders = snapshot.holders([op.dest_id for op in writes if op.dest_id is not None])
        ops, refused, displaced = claim(writes, holders, changes.leaving, obj.name.rstrip("s"))
        outcomes.extend(refused)
        keys = {op.pk: obj.found_by(op) for op in ops}
        # A row holds a record it matched (not made) only once a write to it landed: a rejected
        # write must not keep another row from that record for good.
        matched = {c.pk for c in candidates if not c.in_doubt and c.dest_id is None}
        sent = []
        for o in await self._apply(obj, snapshot, ops, matched):
            if o.status != "rejected":
                o = replace(o, displaces=displaced.get(o.pk), found_key=keys.get(o.pk))
            elif o.op == "update" and o.pk in matched:
                o = replace(o, dest_id=None)
            sent.append(o)
        # A held record deleted outside bcsync (gone is gone): upsert makes it anew.
        gone = {o.pk for o in sent if o.after == "forget" and o.op == "update"}
        if gone and sync.mode == "upsert":
            again, uncreatable = _creatable(
                obj,
                [
                    replace(op, op="create", dest_id=None, landed={}, hint=None)
                    for op in ops
                    if op.pk in gone
                ],
            )
            remade = {o.pk: replace(o, after="forget") for o in uncreatable}  # its record is gone
            if again:
                remade.update((o.pk, o) for o in await self._apply(obj, snapshot, again))
            sent = [_remade(o, remade[o.pk]) if o.pk in remade else o for o in sent]
        return outcomes + sent

    @staticmethod
    def _found_again(
        obj: DestinationObject, snapshot: Snapshot, changes: ChangeSet, rows: Sequence[RowOp]
    ) -> list[RowOp]:
        """New rows whose key (an email, an external_order_id) is that of a record this sync
        made for a row that left (a tombstone, or a row leaving in this run) carry that record
        as their hint: the record moves to them instead of being made twice (DESIGN §3.8)."""
        new = {op.pk: obj.found_by(op) for op in rows if op.dest_id is None and op.hint is None}
        keys = [key for key in new.values() if key]
        if not keys:
            return list(rows)
        found = snapshot.tombstones_by_key(keys, changes.removed_keys())
        return [
            replace(op, hint=found[key])
            if (key := new.get(op.pk)) is not None and key in found
            else op
            for op in rows
        ]

    async def _apply(
        self,
        obj: DestinationObject,
        snapshot: Snapshot,
        ops: Sequence[RowOp],
        matched: Collection[str] = (),
    ) -> list[RowOutcome]:
        """Send ``ops``; creates are marked in flight first, with the key they are found by and
        the store's time, so that a lost one is settled by reading BigCommerce (DESIGN §3.8).
        So are first writes to a record the row has just matched (``matched``), with that
        record's id, so that a run killed after the write landed finds the same record again
        even if the row's email changes meanwhile."""
        first = [op for op in ops if op.op == "update" and op.pk in matched]
        if first:
            snapshot.mark_pending(
                [(op.pk, "update") for op in first], {op.pk: op.dest_id for op in first}
            )
        creates = [op for op in ops if op.op == "create"]
        if creates:
            at = await obj.clock()
            snapshot.mark_pending(
                [(op.pk, "create") for op in creates],
                {op.pk: obj.found_by(op) for op in creates},
                at,
            )
            ops = [replace(op, marked_at=at) if op.op == "create" else op for op in ops]
        return list(await obj.apply(ops))

    async def _remove_chunk(
        self,
        sync: SyncConfig,
        obj: DestinationObject,
        snapshot: Snapshot,
        entries: Sequence[SnapshotEntry],
    ) -> list[RowOutcome]:
        # A create in flight when a run died, whose row has left the model since: if it landed
        # (and was made by that create), its record is this sync's like any other.
        lost = [
            (e.pending_key, e.pending_at)
            for e in entries
            if e.dest_id is None and e.pending_key and e.pending_op == "create"
        ]
        found = await obj.find_created(lost) if lost else {}
        located = [e._replace(dest_id=e.dest_id or found.get(e.pending_key or "")) for e in entries]
        holders = snapshot.holders([e.dest_id for e in located if e.dest_id is not None])
        mine, outcomes = split_removed(located, holders)
        ops: list[RowOp] = []
        for e in mine:
            if e.dest_id is None:
                note = (
                    "its create never reached BigCommerce"
                    if e.pending_op != "update"
                    else "its first write to a matched record was never confirmed; left as it is"
                )
                outcomes.append(
                    RowOutcome(e.pk, None, "succeeded", None, note=note, after="forget")
                )
            elif sync.on_delete == "nothing":
                note = "left in BigCommerce"
                outcomes.append(
                    RowOutcome(e.pk, None, "succeeded", e.dest_id, note=note, after="release")
                )
            else:
                kind: Op = "delete" if sync.on_delete == "delete" else "clear"
                ops.append(RowOp(e.pk, kind, {}, None, e.dest_id))
        for outcome in await obj.apply(ops):
            if outcome.status == "succeeded" and outcome.after is None:
                after: After = "forget" if outcome.op == "delete" else "release"
                outcome = replace(outcome, after=after)
            outcomes.append(outcome)
        return outcomes


def _row_op(kind: str, row: PlannedRow) -> RowOp:
    """A planned row as a candidate write, with what its snapshot entry knows."""
    entry = row.entry
    if entry is None:
        return RowOp(row.pk, "create", row.values, row.row_hash)
    in_doubt = entry.pending_op == "create"
    # A first write to a record it had matched was in flight: that record, found again.
    was_writing = entry.pending_key if entry.pending_op == "update" else None
    return RowOp(
        pk=row.pk,
        op="create" if kind == "added" else "update",
        values=row.values,
        row_hash=row.row_hash,
        dest_id=entry.holds if not in_doubt else None,
        in_doubt=in_doubt,
        found_by=entry.pending_key if in_doubt else None,
        marked_at=entry.pending_at if in_doubt else None,
        landed=landed_of(entry.landed),
        retry=entry.status == "failed",
        hint=was_writing or (entry.dest_id if entry.status == "released" else None),
    )


def _creatable(
    obj: DestinationObject, ops: Sequence[RowOp]
) -> tuple[list[RowOp], list[RowOutcome]]:
    """``ops`` without the creates BigCommerce would refuse for a missing required value, and
    those as invalid rows: the check ``check`` and ``plan`` make (``create_problem``)."""
    kept: list[RowOp] = []
    refused: list[RowOutcome] = []
    for op in ops:
        reason = obj.create_problem(op.values) if op.op == "create" else None
        if reason:
            refused.append(RowOutcome(op.pk, "create", "invalid", None, reason))
        else:
            kept.append(op)
    return kept, refused


def _remade(gone: RowOutcome, remade: RowOutcome) -> RowOutcome:
    """The outcome of a row whose held record had vanished and that upsert made anew."""
    note = f"{gone.error or gone.note}; created anew"
    return replace(remade, note=note) if remade.status == "succeeded" else remade


class Project:
    """The Python API: ``bcsync.load_project(path).run("vip_customers")``."""

    def __init__(self, config: ProjectConfig, observers: Sequence[Observer] = ()) -> None:
        self.config = config
        self.engine = Engine(config, observers=observers)

    def check(self, names: Sequence[str] | None = None) -> list[CheckReport]:
        return self.engine.check(names)

    def plan(self, name: str) -> PlanResult:
        return self.engine.plan(name)

    def run(
        self, name: str, *, full_resync: bool = False, override_guards: bool = False
    ) -> RunResult:
        return self.engine.run(name, full_resync=full_resync, override_guards=override_guards)


def load_project(path: Path | str | None = None, observers: Sequence[Observer] = ()) -> Project:
    from bcsync.project import load_config

    return Project(load_config(path), observers)
