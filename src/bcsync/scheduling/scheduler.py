"""The scheduler: claims each due tick of every sync in the run store and hands runs to an
executor.

One pass (``tick_once``) does three things, each in as few transactions as the store allows:

1. clock ticks: for every sync with ``every``/``cron`` whose next tick is due, the ticks due
   since the last one handled (``ticks.due_ticks``), each claimed under its key with the run it
   creates — ``queued``, or ``skipped`` when the sync is busy (``overlap``) or the tick is too
   late (one skipped run for a missed series). All of a pass's claims go in one transaction
   (``RunStore.claim_ticks``); a key another scheduler holds creates nothing.
2. ``after:`` chains: a sync whose upstream syncs have all finished a run since its last firing
   fires (``chains.chain_decision``), claimed the same way under ``after:<run id>``.
3. dispatch: queued runs go to the executor. With ``hold_until_free`` (the in-process
   executor), a queued run waits until its sync has no live run, and queued runs another
   scheduler left behind are adopted after ``adopt_after``: the executor's begin is a
   compare-and-swap, so two schedulers adopting the same run start it once.

Where it starts: a sync that has a recorded clock tick continues after it (missed ticks are
recorded as such); a sync never seen before starts now and does not backfill. ``run`` repeats
passes until stopped, sleeping until the next due tick but never longer than ``max_sleep``
(``after:`` chains and waiting runs are looked at that often).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bcsync.config.project import ProjectConfig, SyncConfig
from bcsync.executors.base import Executor
from bcsync.scheduling import overlap
from bcsync.scheduling.chains import ChainFiring, chain_decision
from bcsync.scheduling.ticks import DueTicks, due_ticks, next_tick, parse_tick, tick_key
from bcsync.state import RunStore
from bcsync.state.run_queue import TickClaim
from bcsync.vocabulary import RunStatus

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Fired:
    """A tick this scheduler recorded: the run it created, queued or skipped (and why)."""

    sync: str
    tick: str
    trigger: str
    run_id: str
    skipped_because: str | None
    at: datetime

    def line(self) -> str:
        what = (
            f"queued run {self.run_id}"
            if self.skipped_because is None
            else f"skipped (run {self.run_id}): {self.skipped_because}"
        )
        return f"{self.sync} {self.tick} [{self.trigger}] {what}"


class Scheduler:
    """Fires the schedules of one project's syncs (see the module docstring)."""

    def __init__(
        self,
        config: ProjectConfig,
        store: RunStore,
        executor: Executor,
        *,
        clock: Clock = utc_now,
        on_fire: Callable[[Fired], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        hold_until_free: bool = True,
        adopt_after: timedelta = timedelta(seconds=2),
        max_sleep: float = 1.0,
    ) -> None:
        self.config, self.store, self.executor = config, store, executor
        self.clock = clock
        self.on_fire = on_fire
        self.on_error = on_error
        self.hold_until_free = hold_until_free
        self.adopt_after = adopt_after
        self.max_sleep = max_sleep
        self._plans = {n: s.schedule for n, s in config.syncs.items() if s.schedule is not None}
        self._clocked = {n: config.syncs[n] for n, p in self._plans.items() if p.kind != "after"}
        self._chained = {n: config.syncs[n] for n, p in self._plans.items() if p.kind == "after"}
        self._since: dict[str, datetime] = {}  # last clock tick handled, per sync
        self._next: dict[str, datetime | None] = {}  # next clock tick (None: schedule ended)
        self._chain_since: dict[str, datetime | None] = {}
        self._created: set[str] = set()  # queued runs this scheduler created, not yet submitted
        self._submitted: set[str] = set()  # queued runs handed to the executor
        self._foreign_seen: dict[str, datetime] = {}  # others' queued runs: first seen at

    # -- one pass ---------------------------------------------------------------------------

    def tick_once(self, now: datetime | None = None) -> list[Fired]:
        """Claim what is due at ``now`` (default: the clock), then dispatch queued runs."""
        now = self.clock() if now is None else now
        self._start(now)
        due = {
            name: due_ticks(self._plans[name], self._since[name], now, sync.misfire_grace)
            for name, sync in self._clocked.items()
            if (when := self._next.get(name)) is not None and when <= now
        }
        firings = self._chain_firings()
        busy = self._busy([*due, *firings])
        claims: list[TickClaim] = []
        for name, ticks in due.items():
            claims.extend(_clock_claims(self._clocked[name], ticks, busy.get(name, [])))
        for name, firing in firings.items():
            reason = firing.skipped_because or overlap.skip_reason(
                self._chained[name].on_overlap, busy.get(name, [])
            )
            claims.append(TickClaim(name, firing.key, firing.trigger, reason))
        won = self.store.claim_ticks(claims) if claims else {}
        fired = self._advance(claims, won, due, firings, now)
        for event in fired:
            if self.on_fire is not None:
                self.on_fire(event)
        self.dispatch(now)
        return fired

    def _start(self, now: datetime) -> None:
        """Where each sync's clock starts: after its last recorded tick, or now if it has none."""
        new = [name for name in self._clocked if name not in self._since]
        if not new:
            return
        recorded = self.store.last_clock_ticks(new)
        for name in new:
            last = parse_tick(recorded[name]) if name in recorded else None
            self._since[name] = last if last is not None else now
            self._next[name] = next_tick(self._plans[name], self._since[name])

    def _busy(self, names: list[str]) -> dict[str, list[tuple[str, RunStatus]]]:
        busy: dict[str, list[tuple[str, RunStatus]]] = {}
        if names:
            for run in self.store.waiting_runs(names):
                if overlap.is_live(run):
                    busy.setdefault(run.sync, []).append((run.run_id, run.status))
        return busy

    def _advance(
        self,
        claims: list[TickClaim],
        won: Mapping[tuple[str, str], str],
        due: Mapping[str, DueTicks],
        firings: Mapping[str, ChainFiring],
        now: datetime,
    ) -> list[Fired]:
        """Move each sync past what this pass handled (claimed here or elsewhere)."""
        for name, ticks in due.items():
            handled = ticks.handled
            if handled is not None:
                self._since[name] = max(self._since[name], handled)
            else:  # nothing was due after all (a gap in the schedule): look again from now
                self._since[name] = max(self._since[name], now)
            self._next[name] = next_tick(self._plans[name], self._since[name])
        for name, firing in firings.items():
            self._chain_since[name] = firing.set_off_by.finished_at
        fired = []
        for claim in claims:
            run_id = won.get((claim.sync, claim.tick))
            if run_id is None:
                continue
            if claim.skipped_because is None:
                self._created.add(run_id)
            fired.append(
                Fired(claim.sync, claim.tick, claim.trigger, run_id, claim.skipped_because, now)
            )
        return fired

    # -- after: chains ----------------------------------------------------------------------

    def _chain_firings(self) -> dict[str, ChainFiring]:
        firings = {}
        for name in self._chained:
            since = self._chain_start(name)
            latest = {
                upstream: self.store.latest_finished_run(upstream, after=since)
                for upstream in self._plans[name].after or []
            }
            firing = chain_decision(self._plans[name], latest)
            if firing is not None:
                firings[name] = firing
        return firings

    def _chain_start(self, name: str) -> datetime | None:
        """Upstream runs that finished after this time count toward the next firing: the end of
        the run that set off the last firing (recorded by any scheduler), or for a sync never
        fired, the end of the latest upstream run when this scheduler first looked."""
        recorded: datetime | None = None
        set_off = self.store.last_after_firing(name)
        if set_off is not None:
            run = self.store.get_run(set_off)
            recorded = run.finished_at if run is not None else None
        if name not in self._chain_since:
            if recorded is None:
                ends = [
                    run.finished_at
                    for upstream in self._plans[name].after or []
                    if (run := self.store.latest_finished_run(upstream, after=None)) is not None
                    and run.finished_at is not None
                ]
                recorded = max(ends) if ends else None
            self._chain_since[name] = recorded
        mine = self._chain_since[name]
        if mine is None or recorded is None:
            return mine or recorded
        return max(mine, recorded)

    # -- dispatch ---------------------------------------------------------------------------

    def dispatch(self, now: datetime) -> list[str]:
        """Hand queued runs to the executor; returns the run ids submitted."""
        waiting = self.store.waiting_runs()
        queued = {run.run_id for run in waiting if run.status == RunStatus.QUEUED}
        self._submitted &= queued
        holds = getattr(self.executor, "holds", None)
        if holds is not None:  # a run the executor let go of unstarted goes to it again
            self._submitted = {run_id for run_id in self._submitted if holds(run_id)}
        self._created &= queued
        self._foreign_seen = {k: v for k, v in self._foreign_seen.items() if k in queued}
        running = {
            run.sync for run in waiting if run.status != RunStatus.QUEUED and overlap.is_live(run)
        }
        submitted = []
        for run in waiting:
            if run.status != RunStatus.QUEUED or run.run_id in self._submitted:
                continue
            if run.sync not in self.config.syncs:
                continue  # a sync no longer in bcsync.yml: left for whoever still has it
            if not self.hold_until_free:
                if run.run_id not in self._created:
                    continue  # the queue's workers take the rest
            else:
                if run.run_id not in self._created:
                    first = self._foreign_seen.setdefault(run.run_id, now)
                    if now - first < self.adopt_after:
                        continue  # its creator is probably about to start it
                if run.sync in running:
                    continue  # waits until the sync's live run ends
                running.add(run.sync)  # one run of a sync per pass
            self.executor.submit(run.sync, run.run_id, trigger=run.trigger or "schedule")
            self._submitted.add(run.run_id)
            self._created.discard(run.run_id)
            submitted.append(run.run_id)
        return submitted

    # -- the loop ---------------------------------------------------------------------------

    def seconds_to_next(self, now: datetime) -> float:
        """How long to sleep: until the next clock tick, at most ``max_sleep``."""
        upcoming = [when for when in self._next.values() if when is not None]
        if not upcoming:
            return self.max_sleep
        return min(max((min(upcoming) - now).total_seconds(), 0.0), self.max_sleep)

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set. A pass that fails (the run store is locked
        or unreachable) is reported to ``on_error`` and tried again after ``max_sleep``; a tick
        whose claim did not commit is not taken as handled."""
        while not stop.is_set():
            try:
                self.tick_once()
                wait = self.seconds_to_next(self.clock())
            except Exception as exc:  # a scheduler outlives one bad pass; the next one retries
                if self.on_error is not None:
                    self.on_error(exc)
                wait = self.max_sleep
            stop.wait(wait)


def _clock_claims(
    sync: SyncConfig, ticks: DueTicks, busy: list[tuple[str, RunStatus]]
) -> list[TickClaim]:
    """The claims of one sync's due ticks: the missed series, then each tick to fire, the
    overlap rule applied as if the earlier ticks of this pass were queued already."""
    claims = []
    if ticks.missed is not None:
        claims.append(
            TickClaim(sync.name, tick_key(ticks.missed.last), "schedule", ticks.missed.reason())
        )
    state = list(busy)
    for tick in ticks.fire:
        key = tick_key(tick)
        reason = overlap.skip_reason(sync.on_overlap, state)
        claims.append(TickClaim(sync.name, key, "schedule", reason))
        if reason is None:
            state.append((f"of tick {key}", RunStatus.QUEUED))
    return claims
