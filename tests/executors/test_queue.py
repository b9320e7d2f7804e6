"""The queue executor on the tests' real PostgreSQL: config, connection, schema, submit, and the
UI/API's runs going through the queue. (Workers running the queue: ``test_workers.py``.)"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bcsync.api import Project
from bcsync.config.project import load_config
from bcsync.errors import ConfigError
from bcsync.executors import for_project
from bcsync.executors.queue import QueueExecutor, ensure_schema, queue_database, sync_lock
from bcsync.state import RunStore
from bcsync.web.runner import AlreadyRunning, Runner
from tests.fixtures.projects import SyncProject

SYNC = """\
customers:
  destination: store
  object: customers
  mode: upsert
  model: {table: customers, primary_key: id}
  match: {column: email, field: email}
  mappings:
    - {column: email, field: email}
"""


def _queue_project(project: SyncProject, state_url: str) -> Any:
    project.state_url = state_url
    project.configure(SYNC, extra="executor: queue\n")
    return load_config(project.dir)


def test_queue_needs_a_postgresql_run_store(sync_project: SyncProject) -> None:
    sync_project.configure(SYNC, extra="executor: queue\n")
    with pytest.raises(ConfigError) as caught:
        load_config(sync_project.dir)
    message = str(caught.value)
    assert message.startswith(f"{sync_project.dir / 'bcsync.yml'}:12: executor: 'queue' needs")
    assert "PostgreSQL run store" in message


def test_executor_defaults_to_local_and_refuses_other_words(sync_project: SyncProject) -> None:
    sync_project.configure(SYNC)
    assert load_config(sync_project.dir).executor == "local"
    sync_project.configure(SYNC, extra="executor: celery\n")
    with pytest.raises(ConfigError, match=r"executor: 'celery' is not valid"):
        load_config(sync_project.dir)


def test_the_conninfo_carries_no_password(sync_project: SyncProject) -> None:
    url = "postgresql+psycopg://bob:s3cr%40t-pw@db.example:5433/runs?sslmode=require"
    config = _queue_project(sync_project, url)
    database = queue_database(config)
    assert "s3cr" not in database.conninfo
    assert "host=db.example" in database.conninfo and "port=5433" in database.conninfo
    assert "dbname=runs" in database.conninfo and "sslmode=require" in database.conninfo
    assert database.connect_kwargs() == {"password": "s3cr@t-pw"}
    assert "s3cr" not in database.where and "s3cr" not in repr(database)
    assert database.scrub("failed for s3cr@t-pw") == "failed for ***"


def test_the_schema_is_created_once_by_processes_starting_together(
    sync_project: SyncProject, postgres_url: str
) -> None:
    database = queue_database(_queue_project(sync_project, postgres_url))
    created: list[bool] = []
    threads = [
        threading.Thread(target=lambda: created.append(ensure_schema(database))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False, False, False, True]
    assert ensure_schema(database) is False


def _jobs(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT lock, queueing_lock, status, args FROM procrastinate_jobs ORDER BY id")
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_a_second_waiting_run_of_a_sync_is_skipped(
    sync_project: SyncProject, postgres_url: str
) -> None:
    config = _queue_project(sync_project, postgres_url)
    executor = for_project(config)
    assert isinstance(executor, QueueExecutor)
    with RunStore.open(postgres_url) as store:
        first = store.queue_run("customers", trigger="schedule")
        second = store.queue_run("customers", trigger="api")
        assert first is not None and second is not None
        executor.submit("customers", first, trigger="schedule")
        executor.submit("customers", second, trigger="api")
        executor.close()
        assert store.get_run(first).status == "queued"
        skipped = store.get_run(second)
        assert skipped.status == "skipped"
        assert "already waiting in the queue" in (skipped.error or "")
    [(lock, queueing_lock, status, args)] = _jobs(postgres_url)
    assert lock == queueing_lock == sync_lock("customers")
    assert status == "todo"
    assert args == {
        "sync": "customers",
        "run_id": first,
        "trigger": "schedule",
        "override_guards": False,
    }


def test_the_ui_queues_a_run_and_answers_at_once(
    sync_project: SyncProject, postgres_url: str
) -> None:
    config = _queue_project(sync_project, postgres_url)
    runner = Runner()
    project = Project(config)
    try:
        run_id = runner.start(project, "customers", trigger="manual")
        with pytest.raises(AlreadyRunning) as refused:
            runner.start(project, "customers", trigger="api")
        assert refused.value.run_id == run_id
    finally:
        runner.close()
        project.close()
    with RunStore.open(postgres_url) as store:
        record = store.get_run(run_id)
        assert (record.status, record.trigger) == ("queued", "manual")
    assert [job[3]["run_id"] for job in _jobs(postgres_url)] == [run_id]


def test_worker_refuses_a_project_that_runs_syncs_in_process(
    sync_project: SyncProject, tmp_path: Path
) -> None:
    sync_project.configure(SYNC)
    done = sync_project.cli("worker")
    assert done.returncode == 2, done.stderr
    assert "executor: this project runs its syncs in-process" in done.stderr
    assert "bcsync.yml:" in done.stderr


def test_a_local_project_gets_the_in_process_executor(sync_project: SyncProject) -> None:
    from bcsync.executors.inprocess import InProcessExecutor

    sync_project.configure(SYNC)
    executor = for_project(load_config(sync_project.dir))
    try:
        assert isinstance(executor, InProcessExecutor)
    finally:
        executor.close()


def _stall(url: str, job_id: int) -> None:
    """Make job ``job_id`` look taken by a worker that stopped heartbeating an hour ago."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        worker = conn.scalar(
            sa.text(
                "INSERT INTO procrastinate_workers (last_heartbeat)"
                " VALUES (now() - interval '1 hour') RETURNING id"
            )
        )
        conn.execute(
            sa.text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id = :j"),
            {"w": worker, "j": job_id},
        )
    engine.dispose()


def _job_ids(url: str) -> list[tuple[int, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, status FROM procrastinate_jobs ORDER BY id")).all()
    engine.dispose()
    return [(row.id, str(row.status)) for row in rows]


async def _recover(config: Any) -> int:
    from bcsync.executors.queue import build_app
    from bcsync.executors.worker import recover_stalled

    app = build_app(queue_database(config))
    async with app.open_async():
        return await recover_stalled(app, config, stalled_after=30)


def test_a_dead_worker_s_job_goes_back_to_the_queue(
    sync_project: SyncProject, postgres_url: str
) -> None:
    import asyncio

    config = _queue_project(sync_project, postgres_url)
    executor = QueueExecutor(config)
    with RunStore.open(postgres_url) as store:
        first = store.queue_run("customers", trigger="schedule")
        assert first is not None
        executor.submit("customers", first, trigger="schedule")
        [(job, _)] = _job_ids(postgres_url)
        _stall(postgres_url, job)
        assert asyncio.run(_recover(config)) == 1
        assert _job_ids(postgres_url) == [(job, "todo")]
        assert asyncio.run(_recover(config)) == 0  # nothing stalled any more

        # Stalled again, and meanwhile another run of the sync was queued: the stalled job cannot
        # go back (one waits at most); it fails, and its run, never begun, is closed.
        _stall(postgres_url, job)
        second = store.queue_run("customers", trigger="api")
        assert second is not None
        executor.submit("customers", second, trigger="api")
        executor.close()
        assert asyncio.run(_recover(config)) == 0
        assert [status for _, status in _job_ids(postgres_url)] == ["failed", "todo"]
        closed = store.get_run(first)
        assert closed.status == "interrupted"
        assert "another run of the sync is queued" in (closed.error or "")
        assert store.get_run(second).status == "queued"


def test_a_queued_run_waits_for_a_live_holder_s_lease(
    sync_project: SyncProject, postgres_url: str
) -> None:
    import time

    from bcsync.executors.queue import WorkerStopping
    from bcsync.executors.queued_run import wait_for_lock

    _queue_project(sync_project, postgres_url)
    with RunStore.open(postgres_url) as store:
        holder = store.start_run("customers", trigger="cli")
        store.acquire_lock("customers", holder, lease_seconds=1.5)
        # As if held by a process on another machine: only its lease can tell it is gone.
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE sync_locks SET hostname = 'elsewhere'"))
        stopping = threading.Event()
        started = time.monotonic()
        wait_for_lock(store, "customers", stopping)
        assert 1.0 < time.monotonic() - started < 5

        store.acquire_lock("customers", store.start_run("customers", trigger="cli"))
        stopping.set()
        with pytest.raises(WorkerStopping):
            wait_for_lock(store, "customers", stopping)


def test_no_message_shows_the_run_store_password(sync_project: SyncProject) -> None:
    sync_project.state_url = "postgresql://bob:pw-s3cret-9@127.0.0.1:1/runs"
    sync_project.configure(SYNC, extra="executor: queue\n")
    done = sync_project.cli("worker")
    assert done.returncode == 1, done.stderr
    assert "cannot set up the run queue in postgresql+psycopg://bob:***@127.0.0.1:1/runs" in (
        done.stderr.replace("\n", "")
    )
    assert "pw-s3cret-9" not in done.stdout + done.stderr


FULL_SYNC = """\
customers:
  destination: store
  object: customers
  mode: upsert
  model: {table: customers, primary_key: id}
  match: {column: email, field: email}
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""


def test_a_run_begun_by_a_worker_that_died_at_once_is_closed_and_run_again(
    sync_project: SyncProject, postgres_url: str
) -> None:
    from bcsync.executors.queued_run import run_queued

    sync_project.state_url = postgres_url
    sync_project.configure(FULL_SYNC, extra="executor: queue\n")
    sync_project.load(
        "customers",
        [
            {"id": n, "email": f"c{n}@example.com", "first_name": "F", "last_name": "L"}
            for n in (1, 2)
        ],
    )
    config = load_config(sync_project.dir)
    with RunStore.open(postgres_url) as store:
        dead = store.queue_run("customers", trigger="schedule")
        assert dead is not None and store.begin_queued_run(dead)  # then its worker died
        outcome = run_queued(config, "customers", dead, "schedule")
        assert outcome.endswith(f"(again after {dead}): success"), outcome
        closed = store.get_run(dead)
        assert closed.status == "interrupted"
        assert "its worker stopped" in (closed.error or "")
        assert run_queued(config, "customers", dead, "schedule").endswith("nothing to do")
    assert len(sync_project.emulator.dump()["customers"]) == 2


def test_the_ui_refuses_while_a_live_run_holds_the_sync_but_not_after_it_died(
    sync_project: SyncProject, postgres_url: str
) -> None:
    config = _queue_project(sync_project, postgres_url)
    runner, project = Runner(), Project(config)
    try:
        with RunStore.open(postgres_url) as store:
            holder = store.start_run("customers", trigger="cli")
            store.acquire_lock("customers", holder)
            with pytest.raises(AlreadyRunning) as refused:
                runner.start(project, "customers")
            assert refused.value.run_id == holder
            with store.engine.begin() as conn:  # its process died: a pid nobody has
                conn.execute(sa.text("UPDATE sync_locks SET pid = 4194304, process_token = NULL"))
            queued = runner.start(project, "customers")
            assert store.get_run(queued).status == "queued"
    finally:
        runner.close()
        project.close()


def _age(store: RunStore, run_id: str) -> None:
    """Make run ``run_id`` look queued an hour ago."""
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE runs SET queued_at = queued_at - interval '1 hour' WHERE run_id = :r"),
            {"r": run_id},
        )


def test_a_queued_run_left_without_a_job_is_queued_again_by_the_workers(
    sync_project: SyncProject, postgres_url: str
) -> None:
    """A scheduler killed between claiming a tick (its run recorded ``queued``) and deferring the
    run's job leaves a run no worker will ever take: it used to stay ``queued`` forever, and as
    the sync's waiting run it made every later tick ``skipped`` and the UI refuse "Run now".
    The workers' recovery queues such a run again once it is old enough."""
    import asyncio

    config = _queue_project(sync_project, postgres_url)
    ensure_schema(queue_database(config))
    with RunStore.open(postgres_url) as store:
        orphan = store.queue_run("customers", trigger="schedule", tick="2026-01-01T00:00:00Z")
        fresh = store.queue_run("other", trigger="api")  # just created: its job is on its way
        assert orphan is not None and fresh is not None
        _age(store, orphan)
        asyncio.run(_recover(config))
        assert [job[3]["run_id"] for job in _jobs(postgres_url)] == [orphan]
        [(lock, _, status, args)] = _jobs(postgres_url)
        assert (lock, status, args["sync"], args["trigger"]) == (
            sync_lock("customers"),
            "todo",
            "customers",
            "schedule",
        )
        asyncio.run(_recover(config))  # its job exists now: not queued twice
        assert len(_jobs(postgres_url)) == 1
        assert store.get_run(orphan).status == "queued"

        # A leftover whose sync already has a job waiting is closed: that job runs the sync.
        second = store.queue_run("customers", trigger="schedule", tick="2026-01-01T00:01:00Z")
        assert second is not None
        _age(store, second)
        asyncio.run(_recover(config))
        assert len(_jobs(postgres_url)) == 1
        closed = store.get_run(second)
        assert closed.status == "skipped"
        assert "already waiting in the queue" in (closed.error or "")


def test_a_stalled_job_s_run_begun_without_the_lock_is_closed_when_another_waits(
    sync_project: SyncProject, postgres_url: str
) -> None:
    """A worker killed between beginning its run and taking the sync's lock, while another run
    of the sync waits in the queue: the stalled job cannot go back, and nothing would ever close
    its run, which stayed ``querying`` forever (and, seen from another host, live: every later
    tick of the sync was skipped)."""
    import asyncio

    config = _queue_project(sync_project, postgres_url)
    executor = QueueExecutor(config)
    with RunStore.open(postgres_url) as store:
        first = store.queue_run("customers", trigger="schedule")
        assert first is not None
        executor.submit("customers", first, trigger="schedule")
        [(job, _)] = _job_ids(postgres_url)
        assert store.begin_queued_run(first)  # then its worker died, before taking the lock
        _stall(postgres_url, job)
        second = store.queue_run("customers", trigger="api")
        assert second is not None
        executor.submit("customers", second, trigger="api")
        executor.close()
        assert asyncio.run(_recover(config)) == 0
        closed = store.get_run(first)
        assert closed is not None and closed.status == "interrupted", closed
        assert "its worker stopped" in (closed.error or "")
        assert store.get_run(second).status == "queued"
