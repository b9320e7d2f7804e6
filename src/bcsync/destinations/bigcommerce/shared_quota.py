"""One store's request quota shared by every process that talks to it, through PostgreSQL.

BigCommerce counts one quota per store for every client. With the embedded default each process
paces itself (:class:`~bcsync.destinations.bigcommerce.ratelimit.LocalPacing`); with a PostgreSQL
run store, workers on many machines may send to the same store at once, so the pacer's state
lives in the run store's ``store_quotas`` table, one row per store, and every process runs the
same :class:`~bcsync.destinations.bigcommerce.ratelimit.QuotaPacer` logic on it in short
transactions (``SELECT … FOR UPDATE``, apply, write back). Together they stay under the quota
instead of each using all of it.

The row's key is the store (API URL and store hash), never the access token. Times in the shared
state are wall-clock seconds (``time.time``), the one clock the processes have in common; machines
sharing a store should keep their clocks in sync (NTP), as a skew shifts where each one thinks the
window ends.

The database work runs on one background thread per store and process, never on an event loop:
every round trip hands out a slot to every request waiting at that moment and writes back the
answers seen since the last one, so a busy process makes about one round trip per batch of
requests, not two per request. A 429 is written at once, so the pause reaches every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bcsync.destinations.bigcommerce.ratelimit import Governors, Pacing, QuotaPacer, store_id
from bcsync.errors import StateError
from bcsync.state.database import normalize_url
from bcsync.state.schema import store_quotas
from bcsync.warehouse.postgres_session import pin_session_settings

# How long answers may wait to be written back while no request asks for a slot.
FLUSH_AFTER_SECONDS = 0.05
# A background thread with nothing to do for this long ends (a new one starts when needed).
IDLE_SECONDS = 5.0
# PostgreSQL's SQLSTATE for a table that does not exist.
_UNDEFINED_TABLE = "42P01"


def store_key(api_url: str, store_hash: str) -> str:
    """The ``store_quotas`` key of a store: its API URL and hash (no secret in it)."""
    url, hash_ = store_id(api_url, store_hash)
    return f"{url} {hash_}"


class QuotaRow:
    """One store's row in ``store_quotas``: load the pacer, change it, write it back, in one
    transaction holding the row lock. Keeps one connection, opened at the first transaction and
    closed by :meth:`close` (the pacing's thread does when it goes idle)."""

    def __init__(
        self,
        engine: Callable[[], sa.Engine],
        key: str,
        migrate: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine  # called at the first transaction: nothing connects before
        self._migrate = migrate  # brings the run store's schema up to date
        self._conn: sa.Connection | None = None
        self.key = key

    def apply(self, pacer: QuotaPacer, change: Callable[[QuotaPacer], Any]) -> Any:
        """Run ``change`` on ``pacer`` loaded with the shared state; returns what it returned.

        A run store without ``store_quotas`` (never opened by a bcsync that has it) is migrated
        once, then the transaction is tried again. Checking the schema up front instead would
        cost every process an extra connection before its first request."""
        try:
            return self._transaction(pacer, change)
        except sa.exc.ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) != _UNDEFINED_TABLE:
                raise
        self._migrate()
        return self._transaction(pacer, change)

    def _transaction(self, pacer: QuotaPacer, change: Callable[[QuotaPacer], Any]) -> Any:
        if self._conn is None:
            self._conn = self._engine().connect()
        where = store_quotas.c.store_key == self.key
        select = sa.select(store_quotas.c.state).where(where).with_for_update()
        conn = self._conn
        try:
            with conn.begin():
                state = conn.execute(select).scalar()
                if state is None:
                    # Only ever on PostgreSQL, whose dialect is loaded by then: not imported
                    # at the top, where every SQLite run would pay for it.
                    from sqlalchemy.dialects import postgresql

                    conn.execute(
                        postgresql.insert(store_quotas)
                        .values(store_key=self.key, state={}, updated_at=datetime.now(UTC))
                        .on_conflict_do_nothing()
                    )
                    state = conn.execute(select).scalar()
                pacer.load_state(state or {})
                result = change(pacer)
                conn.execute(
                    sa.update(store_quotas)
                    .where(where)
                    .values(state=pacer.to_state(), updated_at=datetime.now(UTC))
                )
        except BaseException:
            self.close()  # a broken connection is not reused
            raise
        return result

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # it may be gone with its server already
                conn.close()


@dataclass(eq=False)
class _Ask:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[tuple[float, int | None]]


@dataclass
class _Note:
    ticket: int
    status: int | None
    headers: Mapping[str, str]
    at: float


@dataclass
class _Queue:
    asks: list[_Ask] = field(default_factory=list)
    notes: list[_Note] = field(default_factory=list)
    urgent: bool = False  # a 429 to write at once


class SharedPacing:
    """A :class:`~bcsync.destinations.bigcommerce.ratelimit.Pacing` whose pacer state is one
    row of ``store_quotas``, shared by every process using the same run store."""

    def __init__(
        self,
        row: QuotaRow,
        *,
        reserve: int = 0,
        burst: float = 1.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._row = row
        self._pacer = QuotaPacer(
            reserve=reserve, burst=burst, backoff_base=backoff_base, backoff_max=backoff_max
        )
        self._clock = clock
        self._cond = threading.Condition()
        self._queue = _Queue()
        self._thread: threading.Thread | None = None
        self._rate: float | None = None
        self._pause_until = 0.0
        self.round_trips = 0  # transactions made (for the benchmark)

    # -- Pacing --------------------------------------------------------------------------------

    def requests_per_second(self) -> float | None:
        return self._rate

    async def acquire(self) -> int:
        while True:
            loop = asyncio.get_running_loop()
            ask = _Ask(loop, loop.create_future())
            with self._cond:
                self._queue.asks.append(ask)
                self._wake_locked()
            when, ticket = await ask.future
            try:
                while (delay := max(when, self._pause_until) - self._clock()) > 0:
                    await asyncio.sleep(delay)
            except BaseException:
                if ticket is not None:
                    self.settle(ticket, None, {})
                raise
            if ticket is not None:
                return ticket

    def settle(self, ticket: int, status: int | None, headers: Mapping[str, str]) -> None:
        with self._cond:
            self._queue.notes.append(_Note(ticket, status, dict(headers), self._clock()))
            self._queue.urgent |= status == 429
            self._wake_locked()

    # -- the background thread -----------------------------------------------------------------

    def _wake_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._serve, name=f"quota {self._row.key}", daemon=True
            )
            self._thread.start()
        self._cond.notify()

    def _serve(self) -> None:
        while True:
            with self._cond:
                idle_since = time.monotonic()
                while not self._queue.asks and not self._queue.notes:
                    if time.monotonic() - idle_since > IDLE_SECONDS:
                        self._thread = None
                        self._row.close()
                        return
                    self._cond.wait(IDLE_SECONDS)
                if not self._queue.asks and not self._queue.urgent:
                    # Only answers to write: wait a moment for a request to carry them along.
                    self._cond.wait(FLUSH_AFTER_SECONDS)
                queue, self._queue = self._queue, _Queue()
            self._round_trip(queue.asks, queue.notes)

    def _round_trip(self, asks: list[_Ask], notes: list[_Note]) -> None:
        def change(pacer: QuotaPacer) -> list[tuple[float, int | None]]:
            for note in notes:
                if note.status == 429:
                    pacer.on_rate_limited(note.ticket, note.headers, note.at)
                elif note.status is not None:
                    pacer.observe(note.ticket, note.headers, note.at)
                else:
                    pacer.release(note.ticket)
            now = self._clock()
            return [pacer.reserve_slot(now) for _ in asks]

        try:
            slots = self._row.apply(self._pacer, change)
            self.round_trips += 1
        except Exception:
            # The run store cannot be reached: this process paces alone, from its own copy of
            # the state, until it can. Only what does not need the run store goes on meanwhile
            # (``bcsync check`` probing the store's API); a run fails on its run store anyway,
            # with the database's own reason.
            slots = change(self._pacer)
        quota, window = self._pacer.quota, self._pacer.window
        self._rate = quota / window if quota is not None and window > 0 else None
        self._pause_until = self._pacer.pause_until
        for ask, slot in zip(asks, slots, strict=True):
            if not _call(ask.loop, self._deliver, ask.future, slot) and slot[1] is not None:
                self.settle(slot[1], None, {})  # its event loop is gone

    def _deliver(
        self, future: asyncio.Future[tuple[float, int | None]], slot: tuple[float, int | None]
    ) -> None:
        if future.done():  # the waiter was cancelled: give the slot back
            if slot[1] is not None:
                self.settle(slot[1], None, {})
            return
        future.set_result(slot)


def _call(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> bool:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # the loop is closed
        return False
    return True


class SharedQuotas:
    """Makes the :class:`SharedPacing` of each store, all on one engine to the run store
    (created at the first request; the schema is brought up to date only if ``store_quotas``
    is missing)."""

    def __init__(self, state_url: str) -> None:
        self._url = state_url
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    def _engine_now(self) -> sa.Engine:
        with self._lock:
            if self._engine is None:
                # No pool: each store's pacing holds one connection while it is busy and closes
                # it when idle, so nothing is left open behind the run.
                self._engine = sa.create_engine(normalize_url(self._url), poolclass=NullPool)
                pin_session_settings(self._engine)
            return self._engine

    def _migrate(self) -> None:
        from bcsync.state.store import RunStore

        with self._lock:
            RunStore.open(self._url).close()

    def pacing(self, api_url: str, store_hash: str) -> Pacing:
        row = QuotaRow(self._engine_now, store_key(api_url, store_hash), self._migrate)
        return SharedPacing(row)


def uses_shared_quota(state_url: str) -> bool:
    """True when the run store is PostgreSQL: then every process shares each store's quota."""
    try:
        return normalize_url(state_url).get_backend_name() == "postgresql"
    except StateError:
        return False  # opening the run store reports the bad URL


def governors_for(state_url: str) -> Governors:
    """The governors of a project: with a PostgreSQL run store, each store's quota is shared
    through it (:class:`SharedPacing`); otherwise each process paces on its own."""
    if uses_shared_quota(state_url):
        return Governors(pacing=SharedQuotas(state_url).pacing)
    return Governors()
