"""Where a project's snapshots are, and the changes a sync's model makes against one.

A snapshot is the local DuckDB file of a sync (``snapshot_path``); with a PostgreSQL run store it
is a local copy of the one kept there (``bcsync.state.shared_snapshot``). ``changes`` streams the
sync's model from the warehouse into the planner against it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from bcsync.config.database_url import parse_store_url
from bcsync.config.project import ProjectConfig, SyncConfig
from bcsync.run.planner import ChangeSet, plan
from bcsync.run.preflight import hashed_columns, mapping_text
from bcsync.run.snapshot import Snapshot, snapshot_path
from bcsync.state import RunStore
from bcsync.warehouse import open_warehouse


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
        self, sync: str, store: RunStore | None = None, *, upload: bool = False
    ) -> Iterator[Snapshot]:
        """The sync's snapshot. ``store`` None: the run store is opened here if one is needed.
        ``upload``: share a local snapshot the run store does not have yet (a run does)."""
        path = snapshot_path(self.config.project_dir, sync)
        with contextlib.ExitStack() as stack:
            if store is None and self.shared():
                store = stack.enter_context(self._store())
            shared = store.shared_snapshot(sync) if store is not None else None
            yield stack.enter_context(Snapshot(path, shared=shared, upload=upload))

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
            finally:
                store.release_lock(sync, holder)
        return forgotten

    @contextlib.contextmanager
    def diff(
        self, sync: SyncConfig, store: RunStore | None = None, *, full_resync: bool = False
    ) -> Iterator[tuple[ChangeSet, Snapshot]]:
        """The sync's snapshot and its model's changes against it; a run (``store`` given)
        uploads a local snapshot the run store does not have yet."""
        with (
            self.open(sync.name, store, upload=store is not None) as snapshot,
            self.changes(sync, snapshot, full_resync=full_resync) as changes,
        ):
            yield changes, snapshot

    @contextlib.contextmanager
    def changes(
        self, sync: SyncConfig, snapshot: Snapshot, *, full_resync: bool
    ) -> Iterator[ChangeSet]:
        """The sync's model diffed against ``snapshot`` (``bcsync.run.planner.plan``)."""
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

    def _store(self) -> RunStore:
        return RunStore.open(self.config.state_url)
