from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import bcsync
from bcsync.errors import SyncLockedError
from bcsync.state import RunStore, SyncLockRecord
from bcsync.state.locks import hostname, process_token, stale_reason

# A run that takes the lock and dies without releasing it (os._exit skips every cleanup).
_DYING_RUN = """
import os, sys
from bcsync.state import RunStore
store = RunStore.open(sys.argv[1])
run_id = store.start_run("vip")
store.set_status(run_id, "syncing")
store.acquire_lock("vip", run_id)
print(run_id, os.getpid(), flush=True)
os._exit(0)
"""


def _src_path() -> str:
    return str(Path(bcsync.__file__).resolve().parents[1])


def test_one_run_at_a_time(store: RunStore) -> None:
    first = store.start_run("vip")
    store.acquire_lock("vip", first)
    second = store.start_run("vip")
    with pytest.raises(SyncLockedError, match=f"'vip' is already running: run {first}"):
        store.acquire_lock("vip", second)
    store.acquire_lock("orders", second)  # other syncs are independent
    store.acquire_lock("vip", first)  # re-acquiring renews, no error

    holder = store.get_lock("vip")
    assert holder is not None and (holder.run_id, holder.pid) == (first, os.getpid())
    store.release_lock("vip", second)  # not the holder: no effect
    assert store.get_lock("vip").run_id == first  # type: ignore[union-attr]
    store.release_lock("vip", first)
    assert store.get_lock("vip") is None
    store.acquire_lock("vip", second)
    assert store.get_run(first).status == "querying"  # type: ignore[union-attr]


def test_heartbeat_extends_the_lease(store: RunStore) -> None:
    run_id = store.start_run("vip")
    store.acquire_lock("vip", run_id, lease_seconds=30)
    before = store.get_lock("vip")
    time.sleep(0.01)
    store.heartbeat("vip", run_id)
    after = store.get_lock("vip")
    assert after.heartbeat_at > before.heartbeat_at  # type: ignore[union-attr]
    assert after.lease_expires_at > before.lease_expires_at  # type: ignore[union-attr]
    assert after.acquired_at == before.acquired_at  # type: ignore[union-attr]


def test_dead_process_lock_is_taken_over(store: RunStore, store_url: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _DYING_RUN, store_url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": _src_path()},
        timeout=60,
    ).stdout.split()
    dead_run, dead_pid = out[0], int(out[1])
    held = store.get_lock("vip")
    assert held is not None and (held.run_id, held.pid) == (dead_run, dead_pid)

    run_id = store.start_run("vip")
    store.acquire_lock("vip", run_id)  # the lease (60 s) has not expired: the pid check frees it

    assert store.get_lock("vip").run_id == run_id  # type: ignore[union-attr]
    dead = store.get_run(dead_run)
    assert dead is not None
    assert (dead.status, dead.error) == ("interrupted", f"process died (pid {dead_pid})")
    assert dead.finished_at is not None and dead.finished_at >= dead.started_at


def test_expired_lease_is_taken_over_even_if_the_process_lives(store: RunStore) -> None:
    hung = store.start_run("vip")
    store.acquire_lock("vip", hung, lease_seconds=0.05)
    time.sleep(0.1)
    run_id = store.start_run("vip")
    store.acquire_lock("vip", run_id)
    run = store.get_run(hung)
    assert run.status == "interrupted"  # type: ignore[union-attr]
    assert "no heartbeat since" in run.error  # type: ignore[union-attr,operator]
    # The hung run finds out at its next heartbeat that it must stop.
    with pytest.raises(SyncLockedError, match=f"lost the lock.*held by run {run_id}"):
        store.heartbeat("vip", hung)


def test_lock_of_a_finished_run_does_not_block(store: RunStore) -> None:
    done = store.start_run("vip")
    store.acquire_lock("vip", done)
    store.finish_run(done, "success", counts={}, api_calls=0, error=None)  # crashed before release
    run_id = store.start_run("vip")
    store.acquire_lock("vip", run_id)
    assert store.get_run(done).status == "success"  # type: ignore[union-attr]


def _race(store_url: str, runners: int, sync: str) -> tuple[list[str], list[BaseException]]:
    stores = [RunStore.open(store_url) for _ in range(runners)]
    run_ids = [s.start_run(sync) for s in stores]
    barrier = threading.Barrier(runners)
    won: list[str] = []
    lost: list[BaseException] = []

    def contend(store: RunStore, run_id: str) -> None:
        barrier.wait()
        try:
            store.acquire_lock(sync, run_id)
            won.append(run_id)
        except BaseException as exc:
            lost.append(exc)

    threads = [
        threading.Thread(target=contend, args=pair) for pair in zip(stores, run_ids, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    return won, lost


def test_racing_acquirers_exactly_one_wins(store: RunStore, store_url: str) -> None:
    won, lost = _race(store_url, 4, "vip")
    assert len(won) == 1 and len(lost) == 3
    assert all(isinstance(e, SyncLockedError) and won[0] in str(e) for e in lost)
    assert store.get_lock("vip").run_id == won[0]  # type: ignore[union-attr]


def test_racing_takeovers_of_a_stale_lock_exactly_one_wins(store: RunStore, store_url: str) -> None:
    stale = store.start_run("vip")
    store.acquire_lock("vip", stale, lease_seconds=0.01)
    time.sleep(0.05)
    won, lost = _race(store_url, 4, "vip")
    assert len(won) == 1 and len(lost) == 3, lost
    assert all(isinstance(e, SyncLockedError) and won[0] in str(e) for e in lost)
    assert store.get_run(stale).status == "interrupted"  # type: ignore[union-attr]


def test_process_token_tells_processes_apart() -> None:
    mine = process_token(os.getpid())
    if mine is None:
        pytest.skip("no /proc on this platform")
    assert process_token(os.getpid()) == mine
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert process_token(child.pid) not in (None, mine)
    finally:
        child.kill()
        child.wait()
    assert process_token(child.pid) is None


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _lock(pid: int, token: str | None, *, host: str | None = None, lease: float = 60):
    now = datetime.now(UTC)
    return SyncLockRecord(
        sync="vip",
        run_id="r",
        pid=pid,
        hostname=host or hostname(),
        acquired_at=now,
        heartbeat_at=now,
        lease_expires_at=now + timedelta(seconds=lease),
        lease_seconds=lease,
        process_token=token,
    )


def test_stale_reason_judges_holders() -> None:
    now = datetime.now(UTC)
    me = os.getpid()
    my_token = process_token(me)
    dead = _exited_pid()
    assert stale_reason(_lock(me, my_token), "syncing", now) is None
    assert stale_reason(_lock(dead, None), "syncing", now) == f"process died (pid {dead})"
    assert stale_reason(_lock(me, None), "success", now) == "run already success"
    # Another host (or a pid space that is not ours): its pids mean nothing here, only the lease.
    assert stale_reason(_lock(dead, None, host="elsewhere"), "syncing", now) is None
    if my_token is not None:
        other_space = "other-boot/pid:[1]@" + my_token.rpartition("@")[2]
        assert stale_reason(_lock(dead, other_space), "syncing", now) is None
        # Our pid, but recorded for a process that started at another time: pid reuse.
        reused = my_token.rpartition("@")[0] + "@1"
        assert "reused" in (stale_reason(_lock(me, reused), "syncing", now) or "")
    expired = _lock(me, my_token, host="elsewhere", lease=-1)
    assert "no heartbeat since" in (stale_reason(expired, "syncing", now) or "")
