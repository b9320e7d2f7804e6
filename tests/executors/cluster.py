"""A small bcsync cluster for the worker tests and ``bench/workers_bench.py``: emulated stores
with quotas, a DuckDB warehouse of customer tables, a PostgreSQL run store with ``executor:
queue``, and ``bcsync worker`` processes, each in a checkout of its own (as on other machines).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import sqlalchemy as sa

from bcsync.config.project import load_config
from bcsync.emulator.server import RunningEmulator, start_in_thread
from bcsync.emulator.settings import EmulatorSettings
from bcsync.executors.queue import QueueExecutor
from bcsync.state import RunStore

TOKEN_VARIABLE = "BCSYNC_CLUSTER_TOKEN"
TOKEN = "cluster-token-5d1e"


def start_store(store_hash: str, *, quota: int, window_ms: int) -> RunningEmulator:
    """An emulated store answering to ``store_hash`` with ``quota`` requests per window."""
    return start_in_thread(
        EmulatorSettings(store_hash=store_hash, token=TOKEN, quota=quota, window_ms=window_ms)
    )


def admin(store: RunningEmulator, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, f"{store.url}/_emulator/{path}", timeout=30, **kw)
    response.raise_for_status()
    return response.json()


def emails(sync: str, count: int) -> list[str]:
    return [f"{sync}.c{n}@example.com" for n in range(count)]


@dataclass
class RunSpan:
    run_id: str
    sync: str
    status: str
    pid: int | None
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    api_calls: int


@dataclass
class Cluster:
    """Syncs ``s0``…``sN`` of ``rows`` customers each, alternating between ``stores``."""

    root: Path
    state_url: str
    stores: Sequence[RunningEmulator]
    syncs: dict[str, int]  # sync name → index of its store
    workers: list[subprocess.Popen[str]] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        root: Path,
        state_url: str,
        stores: Sequence[RunningEmulator],
        *,
        syncs: int,
        rows: int | Sequence[int],
    ) -> Cluster:
        counts = [rows] * syncs if isinstance(rows, int) else list(rows)
        cluster = cls(root, state_url, stores, {f"s{i}": i % len(stores) for i in range(syncs)})
        warehouse = root / "warehouse.duckdb"
        with duckdb.connect(str(warehouse)) as conn:
            for name, count in zip(cluster.syncs, counts, strict=True):
                conn.execute(
                    f"CREATE TABLE {name} AS SELECT n AS id, '{name}.c' || n || '@example.com'"
                    " AS email, 'First' || n AS first_name, 'Last' || n AS last_name"
                    f" FROM range({count}) t(n)"
                )
        cluster.checkout("main")
        return cluster

    def project_yaml(self) -> str:
        lines = [
            "version: 1",
            "executor: queue",
            "warehouse:",
            f"  url: duckdb:///{self.root / 'warehouse.duckdb'}",
            "state:",
            f"  url: {self.state_url}",
            "destinations:",
        ]
        for index, store in enumerate(self.stores):
            lines += [
                f"  store{index}:",
                "    type: bigcommerce",
                f"    store_hash: {store.store_hash}",
                f"    access_token: ${{{TOKEN_VARIABLE}}}",
                f"    api_url: {store.api_url}",
            ]
        lines.append("syncs:")
        for name, index in self.syncs.items():
            lines += [
                f"  {name}:",
                f"    destination: store{index}",
                "    object: customers",
                "    mode: upsert",
                f"    model: {{table: {name}, primary_key: id}}",
                "    match: {column: email, field: email}",
                "    mappings:",
                "      - {column: email, field: email}",
                "      - {column: first_name, field: first_name}",
                "      - {column: last_name, field: last_name}",
            ]
        return "\n".join(lines) + "\n"

    def checkout(self, name: str) -> Path:
        """A directory of its own with the project file, as on another machine."""
        directory = self.root / name
        directory.mkdir(exist_ok=True)
        (directory / "bcsync.yml").write_text(self.project_yaml())
        (directory / ".env").write_text(f"{TOKEN_VARIABLE}={TOKEN}\n")
        return directory

    # -- workers --------------------------------------------------------------------------------

    def start_workers(self, count: int, *, concurrency: int = 2, heartbeat: float = 2.0) -> None:
        env = {k: v for k, v in os.environ.items() if k != TOKEN_VARIABLE}
        for _ in range(count):
            number = len(self.workers)
            directory = self.checkout(f"worker{number}")
            with open(directory / "worker.log", "w") as log:
                self.workers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "bcsync",
                            "--project",
                            str(directory),
                            "worker",
                            "--concurrency",
                            str(concurrency),
                            "--heartbeat",
                            str(heartbeat),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        text=True,
                        env=env,
                    )
                )

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until every worker says it runs (imports and connections take a few seconds)."""
        deadline = time.monotonic() + timeout
        for number in range(len(self.workers)):
            log = self.root / f"worker{number}" / "worker.log"
            while "bcsync worker running" not in log.read_text():
                if time.monotonic() > deadline or self.workers[number].poll() is not None:
                    raise AssertionError(f"worker{number} did not start\n{self.worker_logs()}")
                time.sleep(0.1)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def worker_logs(self) -> str:
        return "\n".join(
            f"--- worker{n} ---\n{(self.root / f'worker{n}' / 'worker.log').read_text()[-3000:]}"
            for n in range(len(self.workers))
        )

    # -- runs -----------------------------------------------------------------------------------

    def queue(self, syncs: Iterable[str], *, trigger: str = "api") -> list[str]:
        """Queue a run of each sync as the scheduler or the API would; the ids that were not
        skipped because one already waits."""
        config = load_config(self.root / "main")
        executor = QueueExecutor(config)
        queued = []
        try:
            with RunStore.open(self.state_url) as store:
                for sync in syncs:
                    run_id = store.queue_run(sync, trigger=trigger)
                    assert run_id is not None
                    executor.submit(sync, run_id, trigger=trigger)
                    if store.get_run(run_id).status == "queued":
                        queued.append(run_id)
        finally:
            executor.close()
        return queued

    def spans(self) -> list[RunSpan]:
        engine = sa.create_engine(self.state_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT run_id, sync, status, pid, started_at, finished_at, error,"
                        " api_calls FROM runs ORDER BY started_at"
                    )
                ).all()
        finally:
            engine.dispose()
        return [RunSpan(*row) for row in rows]

    def wait_idle(self, timeout: float) -> list[RunSpan]:
        """Wait until no run is queued or running; every run, oldest first."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            busy = [s for s in spans if s.finished_at is None]
            if spans and not busy:
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"still busy after {timeout} s: {busy}\n{self.worker_logs()}")
            time.sleep(0.3)

    def customers(self, store: RunningEmulator) -> list[str]:
        return [c["email"] for c in admin(store, "GET", "dump")["customers"]]


def overlaps(spans: Sequence[RunSpan]) -> list[tuple[str, str, str]]:
    """Pairs of runs of one sync that were in progress at the same time. Skipped runs never ran;
    an interrupted run's end is when a later run found its process dead, not when it died, so
    those are left to the test that killed it."""
    found = []
    ran = [s for s in spans if s.status not in ("skipped", "queued", "interrupted")]
    for index, one in enumerate(ran):
        for other in ran[index + 1 :]:
            if one.sync != other.sync or one.finished_at is None:
                continue
            if other.started_at < one.finished_at and one.started_at < (
                other.finished_at or other.started_at
            ):
                found.append((one.sync, one.run_id, other.run_id))
    return found
