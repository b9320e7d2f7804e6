"""One run of a sync at a time: the ``sync_locks`` row, its lease, and taking over from the dead.

A lock row names the run holding it, the process (pid, hostname, and on Linux a token of boot id
and process start time) and a lease that each heartbeat extends. A held lock blocks a new run
unless its holder is provably gone:

- the holder's run already finished (it crashed between finishing and releasing);
- the lease expired: no heartbeat for ``lease_seconds`` (the only test that works across hosts,
  so it assumes clocks agree to well within a lease);
- the holder ran on this host (same hostname, and on Linux the same boot and pid namespace) and
  its pid no longer exists, or now belongs to a process started at another time (pid reuse).

Taking over is a compare-and-swap on (run_id, heartbeat_at), so of two processes racing for a
stale lock exactly one wins; a fresh lock is an INSERT … ON CONFLICT DO NOTHING, which the
database serialises. The dead run is marked ``interrupted``.
"""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from bcsync.errors import SyncLockedError
from bcsync.state.database import dialect_insert, read_transaction, write_transaction
from bcsync.state.records import SyncLockRecord
from bcsync.state.schema import RUNNING_STATUSES, runs, sync_locks

if TYPE_CHECKING:
    from bcsync.state.store import RunStore

# Attempts at the insert / take-over cycle before declaring contention; each loses only to a
# process that changed the lock in between, so a few suffice.
_ATTEMPTS = 5


def hostname() -> str:
    return socket.gethostname()


@cache
def _pid_space() -> str | None:
    """Boot id and pid namespace of this process: where its pid numbers mean the same thing.

    Two processes can share a hostname yet not their pids (a container on host networking);
    only a holder recorded in our own pid space is checked by pid.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{namespace}"


def process_token(pid: int) -> str | None:
    """Pid space and start time of process ``pid`` (Linux only; None elsewhere or if it is gone).

    Same pid with a different token means the pid was reused by an unrelated process.
    """
    space = _pid_space()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the fields after the parenthesised command name start at field 3.
    fields = stat.rpartition(")")[2].split()
    if space is None or len(fields) < 20:
        return None
    return f"{space}@{fields[19]}"


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _in_our_pid_space(lock: SyncLockRecord) -> bool:
    if lock.hostname != hostname():
        return False
    if lock.process_token is None:  # no /proc where it ran: the hostname is all we have
        return True
    return lock.process_token.rpartition("@")[0] == _pid_space()


def stale_reason(lock: SyncLockRecord, holder_status: str | None, now: datetime) -> str | None:
    """Why ``lock``'s holder is gone (the error recorded on its run), or None if it may be alive."""
    if holder_status is not None and holder_status not in RUNNING_STATUSES:
        return f"run already {holder_status}"
    if _in_our_pid_space(lock):
        if not pid_exists(lock.pid):
            return f"process died (pid {lock.pid})"
        token = process_token(lock.pid)
        if lock.process_token and token and token != lock.process_token:
            return f"process died (pid {lock.pid}, now reused by another process)"
    if lock.lease_expires_at <= now:
        return (
            f"process stopped responding (pid {lock.pid} on {lock.hostname}; "
            f"no heartbeat since {lock.heartbeat_at.isoformat()})"
        )
    return None


def _record(row: sa.Row[tuple[object, ...]]) -> SyncLockRecord:
    return SyncLockRecord(**row._asdict())


def get_lock(conn: sa.Connection, sync: str) -> SyncLockRecord | None:
    row = conn.execute(sa.select(sync_locks).where(sync_locks.c.sync == sync)).first()
    return _record(row) if row is not None else None


def acquire(engine: sa.Engine, sync: str, run_id: str, *, lease_seconds: float) -> None:
    """Take the lock of ``sync`` for ``run_id``, taking over from a dead holder.

    Raises ``SyncLockedError`` naming the live run that holds it. Re-acquiring a lock the run
    already holds renews its lease.

    Long because the insert, the look at the holder and the take-over are one optimistic loop.
    """
    if lease_seconds <= 0:
        raise ValueError("lease_seconds must be positive")
    pid = os.getpid()
    for _ in range(_ATTEMPTS):
        now = datetime.now(UTC)
        mine = {
            "run_id": run_id,
            "pid": pid,
            "hostname": hostname(),
            "acquired_at": now,
            "heartbeat_at": now,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "lease_seconds": lease_seconds,
            "process_token": process_token(pid),
        }
        with write_transaction(engine) as conn:
            stmt = dialect_insert(conn, sync_locks).values(sync=sync, **mine)
            if conn.execute(stmt.on_conflict_do_nothing()).rowcount == 1:
                return
        with read_transaction(engine) as conn:
            held = get_lock(conn, sync)
            status = (
                conn.scalar(sa.select(runs.c.status).where(runs.c.run_id == held.run_id))
                if held is not None
                else None
            )
        if held is None:
            continue  # released in between: try the insert again
        if held.run_id == run_id:
            heartbeat(engine, sync, run_id)
            return
        reason = stale_reason(held, status, now)
        if reason is None:
            raise SyncLockedError(
                f"sync {sync!r} is already running: run {held.run_id} (pid {held.pid} on "
                f"{held.hostname}, since {held.acquired_at.isoformat()}) holds its lock"
            )
        with write_transaction(engine) as conn:
            swapped = conn.execute(
                sync_locks.update()
                .where(
                    sync_locks.c.sync == sync,
                    sync_locks.c.run_id == held.run_id,
                    sync_locks.c.heartbeat_at == held.heartbeat_at,
                )
                .values(**mine)
            )
            if swapped.rowcount != 1:
                continue  # someone else took it over or the holder heartbeat: look again
            conn.execute(
                runs.update()
                .where(runs.c.run_id == held.run_id, runs.c.status.in_(RUNNING_STATUSES))
                .values(status="interrupted", finished_at=now, error=reason)
            )
            return
    raise SyncLockedError(f"sync {sync!r}: could not take its lock, other runs keep changing it")


def heartbeat(engine: sa.Engine, sync: str, run_id: str) -> None:
    """Extend ``run_id``'s lease on ``sync`` by its lease length.

    Raises ``SyncLockedError`` if the run no longer holds the lock (another run took it over
    after the lease expired): the caller must stop sending.
    """
    with write_transaction(engine) as conn:
        held = get_lock(conn, sync)
        if held is None or held.run_id != run_id:
            taker = f"run {held.run_id}" if held is not None else "nobody"
            raise SyncLockedError(
                f"run {run_id} lost the lock of sync {sync!r} (now held by {taker}); it must stop"
            )
        now = datetime.now(UTC)
        conn.execute(
            sync_locks.update()
            .where(sync_locks.c.sync == sync, sync_locks.c.run_id == run_id)
            .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=held.lease_seconds))
        )


def release(engine: sa.Engine, sync: str, run_id: str) -> None:
    """Give up ``run_id``'s lock on ``sync``; a no-op if it does not hold it."""
    with write_transaction(engine) as conn:
        conn.execute(
            sync_locks.delete().where(sync_locks.c.sync == sync, sync_locks.c.run_id == run_id)
        )


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
