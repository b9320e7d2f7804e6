"""Scheduler tests: a project whose syncs never run (a recording executor takes the runs), a real
run store (SQLite, and PostgreSQL where it matters) and a fake clock."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bcsync.config.project import ProjectConfig, load_config
from bcsync.scheduling import Fired, Scheduler
from bcsync.state import RunStore
from bcsync.vocabulary import RunStatus

HEAD = """\
version: 1
warehouse:
  url: duckdb:///warehouse.duckdb
state:
  url: {state_url}
destinations:
  store:
    type: bigcommerce
    store_hash: abc123
    access_token: tok
syncs:
"""


def sync_yaml(name: str, extra: str = "") -> str:
    body = f"""\
{name}:
  destination: store
  object: customers
  model: {{table: customers, primary_key: id}}
  mode: insert
  mappings: [{{column: email, field: email}}]
"""
    return body + textwrap.indent(textwrap.dedent(extra), "  ")


@dataclass
class Recorder:
    """An executor that only records what it was handed (the runs stay queued)."""

    submitted: list[tuple[str, str, str]] = field(default_factory=list)

    def submit(self, sync: str, run_id: str, *, trigger: str) -> None:
        self.submitted.append((sync, run_id, trigger))

    def close(self) -> None:
        pass


class Finisher(Recorder):
    """An executor whose runs end at once, as ``success``: every tick of a schedule runs."""

    def __init__(self, store: RunStore) -> None:
        super().__init__()
        self.store = store

    def submit(self, sync: str, run_id: str, *, trigger: str) -> None:
        super().submit(sync, run_id, trigger=trigger)
        if self.store.begin_queued_run(run_id):
            self.store.finish_run(run_id, "success", counts={}, api_calls=0)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def at(self, text: str) -> datetime:
        self.now = datetime.fromisoformat(text).astimezone(UTC)
        return self.now


class Harness:
    """A project, its run store, and schedulers over them on one fake clock."""

    def __init__(self, directory: Path, state_url: str) -> None:
        self.dir = directory
        self.state_url = state_url
        self.clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
        self.stores: list[RunStore] = []
        self.fired: list[Fired] = []

    def configure(self, *syncs: str) -> ProjectConfig:
        text = HEAD.format(state_url=self.state_url) + "".join(
            textwrap.indent(s, "  ") for s in syncs
        )
        (self.dir / "bcsync.yml").write_text(text, encoding="utf-8")
        self.config = load_config(self.dir / "bcsync.yml")
        return self.config

    @property
    def store(self) -> RunStore:
        if not self.stores:
            self.stores.append(RunStore.open(self.state_url))
        return self.stores[0]

    def scheduler(self, executor: Any = None, **options: Any) -> Scheduler:
        """A scheduler with a store of its own (as a separate process would have)."""
        store = RunStore.open(self.state_url)
        self.stores.append(store)
        return Scheduler(
            self.config,
            store,
            executor if executor is not None else Recorder(),
            clock=self.clock,
            on_fire=self.fired.append,
            **options,
        )

    def step(self, schedulers: list[Scheduler], until: str, every: timedelta) -> None:
        """Advance the clock in steps to ``until``, each scheduler taking a pass at each step."""
        end = datetime.fromisoformat(until).astimezone(UTC)
        while self.clock.now < end:
            self.clock.now = min(self.clock.now + every, end)
            for scheduler in schedulers:
                scheduler.tick_once()

    def ticks(self, sync: str) -> list[tuple[str, str, str | None]]:
        """(tick, run status, run error) of every recorded tick of ``sync``, in key order."""
        import sqlalchemy as sa

        from bcsync.state.schema import runs, schedule_ticks

        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(schedule_ticks.c.tick, runs.c.status, runs.c.error)
                .join(runs, runs.c.run_id == schedule_ticks.c.run_id)
                .where(schedule_ticks.c.sync == sync)
                .order_by(schedule_ticks.c.tick)
            ).all()
        return [(r.tick, r.status, r.error) for r in rows]

    def finish(self, sync: str, status: RunStatus = RunStatus.SUCCESS, **counts: int) -> str:
        """A run of ``sync`` that ran and ended with ``status`` (as an executor would leave it)."""
        run_id = self.store.queue_run(sync, trigger="cli")
        assert run_id is not None and self.store.begin_queued_run(run_id)
        self.store.finish_run(run_id, str(status), counts=counts, api_calls=0)
        return run_id

    def close(self) -> None:
        for store in self.stores:
            store.close()


@pytest.fixture(params=["sqlite"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    found = Harness(tmp_path, f"sqlite:///{tmp_path}/.bcsync/state.db")
    yield found
    found.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def both_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/.bcsync/state.db"
    else:
        url = request.getfixturevalue("postgres_url").replace(
            "postgresql+psycopg://", "postgresql://", 1
        )
    found = Harness(tmp_path, url)
    yield found
    found.close()


Configure = Callable[..., ProjectConfig]
