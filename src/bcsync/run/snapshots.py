"""Where a project's snapshots are, and the changes a sync's model makes against one.

A snapshot is the local DuckDB file of a sync (``snapshot_path``); with a PostgreSQL run store it
is a local copy of the one kept there (``bcsync.state.shared_snapshot``). ``changes`` streams the
sync's model from the warehouse into the planner against it.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bcsync.config.database_url import parse_store_url
from bcsync.config.project import ProjectConfig, SyncConfig
from bcsync.errors import BcsyncError
from bcsync.run.planner import ChangeSet, plan
from bcsync.run.preflight import hashed_columns, mapping_text
from bcsync.run.snapshot import Snapshot, snapshot_path
from bcsync.state import RunStore
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.session import WarehouseSession, open_session

if TYPE_CHECKING:  # the warehouse planner loads only for a sync planned there (``planner``)
    from bcsync.run.planner.warehouse.planner import WarehousePlan

log = logging.getLogger(__name__)


class Snapshots:
    """The snapshots of one project's syncs."""

    def __init__(self, config: ProjectConfig) -> None:
        self.config = config

    def shared(self) -> bool:
        """Whether snapshots are kept in the run store (PostgreSQL), not only in local files."""
        return parse_store_url(self.config.state_url).get_backend_name() == "postgresql"

    def exists(self, sync: str) -> bool:
        """Whether ``sync`` may have a snapshot (always, when they are kept in the run store)."""
        return self.shared() or snapshot_path(self.config.project_dir, sync).exists()

    @contextlib.contextmanager
    def open(
        self,
        sync: str,
        store: RunStore | None = None,
        *,
        upload: bool = False,
        keeps_warehouse_token: bool = False,
    ) -> Iterator[Snapshot]:
        """The sync's snapshot. ``store`` None: the run store is opened here if one is needed.
        ``upload``: share a local snapshot the run store does not have yet (a run does).
        ``keeps_warehouse_token``: a warehouse-planned run's, whose writes the warehouse
        planner's table follows (any other write makes the next such run rebuild it)."""
        path = snapshot_path(self.config.project_dir, sync)
        with contextlib.ExitStack() as stack:
            if store is None and self.shared():
                store = stack.enter_context(self._store())
            shared = store.shared_snapshot(sync) if store is not None else None
            yield stack.enter_context(
                Snapshot(
                    path,
                    shared=shared,
                    upload=upload,
                    keeps_warehouse_token=keeps_warehouse_token,
                )
            )

    def reset(self, sync: str, *, lease_seconds: float) -> int:
        """Forget what ``sync`` synced (``Snapshot.reset``); returns how many entries there
        were. Holds the sync's lock meanwhile, so it is refused while a run is going: a reset
        must not drop what a live run writes, nor fail that run."""
        with self._store() as store:
            holder = f"reset-{uuid.uuid4().hex}"
            store.acquire_lock(sync, holder, lease_seconds=lease_seconds)
            try:
                with self.open(sync, store) as snapshot:
                    forgotten = snapshot.summary().total
                    snapshot.reset()
                if self.config.planner_for(sync) == "warehouse":
                    self.drop_planner_table(sync)
            finally:
                store.release_lock(sync, holder)
        return forgotten

    @contextlib.contextmanager
    def diff(
        self, sync: SyncConfig, store: RunStore | None = None, *, full_resync: bool = False
    ) -> Iterator[tuple[ChangeSet, Snapshot]]:
        """The sync's snapshot and its model's changes against it; a run (``store`` given)
        uploads a local snapshot the run store does not have yet."""
        run = store is not None
        in_warehouse = self.config.planner_for(sync.name) == "warehouse"
        with (
            self.open(
                sync.name, store, upload=run, keeps_warehouse_token=run and in_warehouse
            ) as snapshot,
            self.changes(sync, snapshot, full_resync=full_resync, run=run) as changes,
        ):
            yield changes, snapshot

    @contextlib.contextmanager
    def changes(
        self, sync: SyncConfig, snapshot: Snapshot, *, full_resync: bool, run: bool = False
    ) -> Iterator[ChangeSet]:
        """The sync's model diffed against ``snapshot``, where its ``planner`` says: locally
        (``bcsync.run.planner.plan``) or in the warehouse (``bcsync.run.planner.warehouse``;
        a full resync streams the whole model locally, and the next run rebuilds the
        warehouse's table). ``run``: the diff is a run's, which the warehouse's table follows
        (``bcsync plan`` changes nothing there)."""
        if self.config.planner_for(sync.name) == "warehouse":
            if not full_resync:
                with self._warehouse_changes(sync, snapshot, run=run) as changes:
                    yield changes
                return
            snapshot.set_warehouse_token(None)
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

    @contextlib.contextmanager
    def _warehouse_changes(
        self, sync: SyncConfig, snapshot: Snapshot, *, run: bool
    ) -> Iterator[ChangeSet]:
        """The warehouse planner's change set; a run's keys are written back when it ends,
        however it ends (a failed write-back then leaves them dirty, never wrong). The
        warehouse session is closed while rows are sent: a DuckDB warehouse file stays free
        for other readers meanwhile."""
        from bcsync.run.planner.warehouse.planner import plan_in_warehouse

        session = self._session()
        try:
            planned = plan_in_warehouse(
                session,
                snapshot,
                sync.name,
                sync.model,
                schema=self.config.planner_schema,
                columns=hashed_columns(sync),
                mapping=mapping_text(sync),
                run=run,
            )
        finally:
            session.close()
        try:
            yield planned.changes
        finally:
            try:
                if run:
                    self._write_back(planned)
            except BcsyncError as exc:
                # What was sent is recorded by now: a write-back the warehouse refuses leaves
                # the keys dirty (read out and found unchanged next run), never wrong, so it
                # is a warning; a failed run keeps its own error.
                log.warning(
                    "sync %s: the warehouse planner's write-back failed: %s", sync.name, exc
                )
            finally:
                planned.close()

    def _write_back(self, planned: WarehousePlan) -> None:
        session = self._session()
        try:
            planned.write_back(session)
        finally:
            session.close()

    def drop_planner_table(self, sync: str) -> None:
        """Drop the sync's table of hashes and its token from the warehouse."""
        from bcsync.run.planner.warehouse.tables import PlannerTables

        session = self._session()
        try:
            PlannerTables(session, self.config.planner_schema, sync).drop()
        finally:
            session.close()

    def _session(self) -> WarehouseSession:
        return open_session(
            self.config.resolve_url(self.config.warehouse.url), self.config.project_dir
        )

    def _store(self) -> RunStore:
        return RunStore.open(self.config.state_url)
