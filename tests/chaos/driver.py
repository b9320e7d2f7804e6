"""A seeded, model-based chaos driver for bcsync: real runs, real emulator, real DuckDB.

The model
    The driver keeps the warehouse table as :class:`~tests.chaos.model.Model` (lineages: logical
    rows with their history) and writes it to DuckDB before each run. Each round, from the seed:
    1-3 random edits (insert, delete, update, e-mail change — with and without ``email`` mapped —,
    primary-key change keeping the values, a removed row coming back, a row whose e-mail equals
    another's in another case, a second row for the same order, an invalid value, a record
    deleted outside bcsync); records created outside bcsync ("foreign") before and during the
    run; 0-3 fault rules (429 with and without headers, 500/502/503/504 before or after the
    write, dropped connection after the write, latency) on the endpoints bcsync uses; then one
    run: in-process, through the CLI, or through the CLI SIGKILLed at a random point. Now and
    then a round runs with an empty model (the guard must stop it before any write) or resets
    the sync's state. After the rounds: faults cleared, two clean runs, then a verification run.

    With a :class:`PlannerGame` the sync's ``planner:`` is set in bcsync.yml, may switch between
    ``local`` and ``warehouse`` between rounds, and some kills of warehouse-planned runs land at
    the planner's own steps in the warehouse (:mod:`tests.chaos.killpoint`): after its table was
    rebuilt from the ledger, after the keys were marked dirty and before the first write, after
    the last write and before the write-back, or after the write-back.
    With ``bad_keys`` some rounds' tables also hold rows with a null or a duplicated primary key
    for that run only (:mod:`tests.chaos.badkeys`).

The invariants
    On the store: see :mod:`tests.chaos.oracle` (after each round, and in full at the end). On
    the runs (here): a run of an empty model writes nothing; a run without injected faults never
    fails (a killed run's lock never blocks the next one); a finished run's counts add up
    (succeeded + rejected + skipped = planned); the clean runs succeed; the verification run
    changes nothing in the store, its ``api_calls`` equal the requests the emulator saw, and with
    nothing added, changed or removed it makes no call at all. When planners switch, one more
    verification run with the other planner plans what the first one did: switching re-sends
    nothing.

Replaying a seed
    Every failure message names the seed, the round count and the test, e.g.
    ``BCSYNC_CHAOS_SEED=1234 BCSYNC_CHAOS_ROUNDS=25 pytest 'tests/chaos/test_chaos.py::
    test_chaos[customers_upsert_email]'``. The seed fixes every decision; a decision that reads
    the store (which records a killed run left) follows the same path as long as the kills land
    at the same point, which they usually but not always do.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tests.chaos import faults as fault_menu
from tests.chaos import killpoint
from tests.chaos.badkeys import BadKeys
from tests.chaos.edits import Editor
from tests.chaos.kinds import KINDS, Scenario, Store
from tests.chaos.model import Model
from tests.chaos.oracle import Oracle
from tests.chaos.runner import Admin, Kill, Runner, RunOutcome
from tests.chaos.world import World

RESETTABLE = {"orders", "order_updates"}
CLOCK_GRAIN = 2.1  # seconds between a customer made outside and a run that may create one


@dataclass
class PlannerGame:
    """Which planner a sync's runs use, and how it moves during the game."""

    start: str = "warehouse"  # planner: of the first run
    switch: float = 0.0  # chance per round to switch local ↔ warehouse before the run
    step_kills: float = 0.0  # chance a kill of a warehouse-planned run lands at a planner step
    forced_step: str | None = None  # where the game's one certain kill lands (if warehouse)


@dataclass
class RoundLog:
    label: str
    edits: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    run: str = ""
    outcome: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        parts = [f"{self.label}:"]
        for name, items in (("edits", self.edits), ("outside", self.foreign)):
            if items:
                parts.append(f"{name}[{'; '.join(items)}]")
        if self.faults:
            parts.append(f"faults[{'; '.join(self.faults)}]")
        if self.run:
            parts.append(f"run={self.run} → {self.outcome}")
        if self.seconds:
            parts.append(f"({self.seconds:.1f}s)")
        return " ".join(parts)


@dataclass
class Figures:
    rounds: int = 0
    runs: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    faults_fired: Counter[str] = field(default_factory=Counter)
    foreign_records: int = 0
    records_checked: int = 0
    violations: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "runs": dict(self.runs),
            "kills": self.kills,
            "faults_injected": dict(self.faults_injected),
            "faults_fired": dict(self.faults_fired),
            "foreign_records": self.foreign_records,
            "records_checked": self.records_checked,
            "violations": self.violations,
            "seconds": round(self.seconds, 1),
        }


class ChaosDriver:
    def __init__(
        self,
        scenario: Scenario,
        project: Any,
        emulator: Any,
        *,
        seed: int,
        rounds: int,
        apply_faults: bool | None = None,
        planners: PlannerGame | None = None,
        bad_keys: float = 0.0,
    ) -> None:
        self.scenario = scenario
        self.project = project
        self.seed = seed
        self.rounds = rounds
        self.rng = random.Random(f"{scenario.name}:{seed}")
        self.kind = KINDS[scenario.kind]
        self.model = Model(self.kind)
        self.world = World(scenario, self.kind, emulator)
        self.editor = Editor(scenario, self.kind, self.model, self.world, self.rng)
        self.oracle = Oracle(scenario, self.kind, self.model, self.world)
        self.admin = Admin(emulator.url)
        self.runner = Runner(project, self.kind.sync, self.admin)
        self.apply_faults = self.admin.supports_apply() if apply_faults is None else apply_faults
        self.history: list[RoundLog] = []
        self.figures = Figures()
        self._late_foreign = False  # the last round made a record outside while it ran
        self.planners = planners
        self.planner = planners.start if planners else None  # None: bcsync.yml does not say
        self.bad_keys = bad_keys  # chance per round of rows with null/duplicated keys
        self.badkeys = BadKeys(self.kind, self.model, self.rng)
        self.test_id = f"test_chaos[{scenario.name}]"  # the pytest id that replays this game

    # == the whole game ===========================================================================
    def play(self) -> None:
        began = time.monotonic()
        try:
            self.setup()
            kill_round = self.rng.randint(1, self.rounds) if self.rounds >= 2 else 0
            for number in range(1, self.rounds + 1):
                self.round(number, must_kill=number == kill_round)
            self.finish()
        finally:
            self.world.close()
            self.figures.seconds = time.monotonic() - began
            self.figures.violations = len(self.oracle.violations)
            self.figures.records_checked = self.oracle.checked
            self.figures.foreign_records = len(self.world.foreign)

    def setup(self) -> None:
        self._configure()
        self.world.emulator.config(quota=0, window_ms=1000)  # a 429 then waits 1 s, not 30
        log = RoundLog("setup")
        for _ in range(self._initial_foreign()):
            log.foreign.append(self.world.make(self.editor.plan_foreign(True)))
        self.world.refresh()
        for _ in range(self.rng.randint(6, 10)):
            log.edits.append(self.editor.insert(0) or "no-op")
        self.history.append(log)
        self.oracle.after_round("setup", 0, self.world.refresh())

    def _initial_foreign(self) -> int:
        if self.scenario.kind == "order_updates":
            return 8
        if self.scenario.kind == "customers" and self.scenario.adopts:
            return 8 if self.scenario.match == "id" else 5
        return 3

    # == one round ================================================================================
    def round(self, number: int, *, must_kill: bool) -> None:
        began = time.monotonic()
        self.world.round = number
        self.figures.rounds += 1
        log = RoundLog(f"r{number}")
        self.history.append(log)
        self.editor.begin_round()
        empty = number > 1 and not must_kill and self.rng.random() < 0.06
        if empty:
            log.edits.append("EMPTY MODEL for this run")
        else:
            for _ in range(self.rng.choices([1, 2, 3], [45, 35, 20])[0]):
                log.edits.append(self.editor.edit(number))
        if self.scenario.kind in RESETTABLE and not empty and self.rng.random() < 0.08:
            log.edits.append(self._reset_state())
        if any(lin.forgotten for lin in self.model.lineages.values()):
            self._keep_unknown(self.world.store, only_forgotten=True)
        if self.planners and self.planners.switch and self.rng.random() < self.planners.switch:
            log.edits.append(self._switch_planner())
        before = [self.editor.plan_foreign(True) for _ in range(int(self.rng.random() < 0.3))]
        during = None
        if not empty and self.rng.random() < 0.3:
            plan = self.editor.plan_foreign(False)
            during = (self.rng.randint(1, 8), partial(self.world.make, plan))
        style = self._style(empty, must_kill)
        chosen = [] if empty else fault_menu.choose(self.rng, self.scenario.kind, self.apply_faults)
        kill = self._kill(must_kill) if style == "kill" else None
        for plan in before:
            log.foreign.append(self.world.make(plan))
        late = self._late_foreign
        self._late_foreign = during is not None
        if (before or late or number == 1) and self.scenario.kind == "customers":
            # date_created and the store's Date header have whole seconds: a customer made
            # outside within ~2 s of bcsync's create cannot be told from bcsync's own after a
            # lost answer (README, "Known limits"). Outside writes during the run still race.
            time.sleep(CLOCK_GRAIN)
        extras: list[dict[str, Any]] = []
        self.badkeys.expected_invalid = 0
        if self.bad_keys and not empty and self.rng.random() < self.bad_keys:
            extras, said = self.badkeys.rows(number)
            log.edits += said
        rows = [] if empty else self.model.rows() + extras
        self.project.load(self.kind.table, rows, self.kind.schema)
        log.faults = [f.describe() for f in chosen]
        log.run = kill.describe() if kill else style
        outcome = self.runner.run(style, chosen, kill, during, log.foreign)
        log.outcome = _describe(outcome)
        self._tally(style, chosen, outcome)
        self._check_run(number, style, chosen, outcome, empty)
        store = self.world.refresh()
        self.oracle.after_round(log.label, number, store)
        self.badkeys.check(self.oracle, store)
        log.seconds = time.monotonic() - began

    def _style(self, empty: bool, must_kill: bool) -> str:
        if empty:
            return "engine"
        if must_kill or self.rng.random() < 0.25:
            return "kill"
        return "cli" if self.rng.random() < 0.1 else "engine"

    def _kill(self, forced: bool) -> Kill:
        game = self.planners if self.planner == "warehouse" else None
        if game and forced and game.forced_step:
            return Kill(None, None, self.rng.randint(20, 80), game.forced_step)
        if game and game.step_kills and self.rng.random() < game.step_kills:
            return Kill(None, None, self.rng.randint(20, 80), self.rng.choice(killpoint.STEPS))
        if self.rng.random() < 0.65:
            return Kill(self.rng.randint(1, 12), None, self.rng.randint(20, 80))
        return Kill(None, round(self.rng.uniform(0.3, 2.5), 2), self.rng.randint(20, 80))

    def _configure(self) -> None:
        planner = f"planner: {self.planner}\n" if self.planner else ""
        self.project.configure(self.scenario.yaml(), extra=planner)

    def _switch_planner(self) -> str:
        before = self.planner
        self.planner = "local" if before == "warehouse" else "warehouse"
        self._configure()
        return f"PLANNER {before}→{self.planner}"

    def _reset_state(self) -> str:
        # A reset clears or deletes nothing for rows absent from the model (README): records
        # of rows that had left, and whose removal a killed run never got to, may stay.
        self._keep_unknown(self.world.refresh(), only_forgotten=False)
        completed = self.project.cli("state", "reset", self.kind.sync, "--yes")
        self.model.forget_all()
        return f"STATE RESET (exit {completed.returncode})"

    def _keep_unknown(self, store: Store, *, only_forgotten: bool) -> None:
        """Records keyed by a row no longer in the model stay for good when the sync's state
        does not know them: at a reset, and, until a finished run has found a forgotten row's
        record again, when that row leaves (it is then absent from every run that could)."""
        present = {self.model.pk(lin) for lin in self.model.valid() if lin.present}
        prefix = getattr(self.kind, "prefix", None)
        for record_id, record in store.live.items():
            external = str(record.get("external_order_id") or "")
            if not (prefix and external.startswith(prefix)) or external[len(prefix) :] in present:
                continue
            owner = self.model.lineages.get(self.kind.owner(record) or 0)
            if not only_forgotten or owner is None or owner.forgotten:
                self.oracle.kept_by_reset.add(record_id)

    def _tally(self, style: str, chosen: list[Any], outcome: RunOutcome) -> None:
        self.figures.runs[style] += 1
        self.figures.kills += outcome.status == "killed"
        self.figures.faults_injected.update(f.kind for f in chosen)
        self.figures.faults_fired.update(outcome.hits)

    def _check_run(
        self, number: int, style: str, chosen: list[Any], outcome: RunOutcome, empty: bool
    ) -> None:
        self.oracle.at(f"r{number}")
        writes = {k: n for k, n in outcome.calls.items() if not k.startswith("GET ")}
        if empty and writes:
            self.oracle.flag(f"a run of an EMPTY model wrote to the store: {writes}")
        error = outcome.error or ""
        if "lock" in error.lower() or "already running" in error.lower():
            self.oracle.flag(f"a run after a killed run was blocked by a stale lock: {error}")
        self._counts_agree(outcome)
        self._found_again(outcome)
        if outcome.result is not None and outcome.result.status in ("success", "warning"):
            self.badkeys.check_counts(self.oracle, outcome.result.counts)
        clean = not empty and all(f.kind == "latency" for f in chosen)
        failed = outcome.status == "failed" or outcome.status.startswith("finished (exit 1")
        if outcome.status in ("error", "hung") or (failed and clean):
            self.oracle.flag(f"{style} run ended {outcome.status} without a cause: {error}")

    # == the end: clean runs, then the checks =====================================================
    def finish(self) -> None:
        self.admin.clear_faults()
        self.project.load(self.kind.table, self.model.rows(), self.kind.schema)
        base = self.rounds + 1
        for offset in (0, 1):
            label = f"final-{offset + 1}"
            self.history.append(log := RoundLog(label, run="engine"))
            outcome = self.runner.run("engine", [])
            log.outcome = _describe(outcome)
            self._final_status(label, outcome)
            self.oracle.after_round(label, base + offset, self.world.refresh())
        first = self.verify(base + 2)
        if self.planners and self.planners.switch:
            self.history.append(RoundLog("switch", edits=[self._switch_planner()]))
            self._same_plan(first, self.verify(base + 3))

    def _same_plan(self, before: RunOutcome, after: RunOutcome) -> None:
        """Switching planners on a converged sync re-sends nothing: the run after the switch
        plans what the run before it did (rows that fail every run are retried by both)."""
        keys = ("invalid", "added", "changed", "removed", "planned")
        if before.result is None or after.result is None:
            return
        planned = [{k: r.result.counts.get(k, 0) for k in keys} for r in (before, after)]
        if planned[0] != planned[1] or before.calls != after.calls:
            self.oracle.flag(
                f"switching to the {self.planner} planner changed the plan: {planned[0]} "
                f"{before.calls} → {planned[1]} {after.calls}"
            )

    def _final_status(self, label: str, outcome: RunOutcome) -> None:
        self.oracle.at(label)
        if outcome.status not in ("success", "warning"):
            self.oracle.flag(f"clean run ended {outcome.status}: {outcome.error}")
        self._counts_agree(outcome)
        self._found_again(outcome)

    def _found_again(self, outcome: RunOutcome) -> None:
        """After ``state reset``: a finished run found the records of its rows again."""
        result = outcome.result
        if result is not None and result.status in ("success", "warning"):
            self.model.found_again({str(r["pk"]) for r in result.rejected_rows})

    def _counts_agree(self, outcome: RunOutcome) -> None:
        """A finished run's counts add up: every planned row has one outcome."""
        result = outcome.result
        if result is None or result.status not in ("success", "warning"):
            return
        counts = result.counts
        settled = counts["succeeded"] + counts["rejected"] + counts["skipped"]
        if settled != counts["planned"] or len(result.rejected_rows) != min(
            counts["rejected"], 100
        ):
            self.oracle.flag(
                f"run counts do not add up: {dict(counts)}, "
                f"{len(result.rejected_rows)} rejected rows listed"
            )

    def verify(self, number: int) -> RunOutcome:
        """A third clean run after convergence: it must change nothing, and its counts must agree
        with what the emulator saw."""
        before = self.world.refresh()
        self.history.append(log := RoundLog("verify", run="engine"))
        outcome = self.runner.run("engine", [])
        log.outcome = _describe(outcome)
        self._final_status("verify", outcome)
        after = self.world.refresh()
        self.oracle.at("verify")
        result = outcome.result
        if result is not None:
            if result.api_calls != outcome.requests:
                self.oracle.flag(
                    f"the run reports {result.api_calls} API calls, the emulator saw "
                    f"{outcome.requests}"
                )
            moved = sum(result.counts.get(k, 0) for k in ("added", "changed", "removed"))
            # Checking a row against the store's own lists (order statuses, attribute types)
            # needs one read of them, even when the row then turns out invalid.
            reads = {"GET /v2/order_statuses", "GET /v3/customers/attributes"}
            definitions = result.counts.get("invalid", 0) and set(outcome.calls) <= reads
            if moved == 0 and outcome.requests and not definitions:
                self.oracle.flag(f"an unchanged run made API calls: {outcome.calls}")
        changed = _changed_records(before, after)
        if changed:
            self.oracle.flag(f"the verification run still changed records {changed}")
        self.oracle.after_round("verify", number, after)
        self.oracle.final(after, self._outcomes(result))
        return outcome

    def _outcomes(self, result: Any) -> dict[str, str]:
        from bcsync.state import RunStore

        if result is None:
            return {}
        out: dict[str, str] = {}
        with RunStore.open(self.project.state_url) as store:
            for row in store.outcomes(result.run_id):
                if row.pk is not None and (row.outcome != "succeeded" or row.pk not in out):
                    out[str(row.pk)] = row.outcome
        return out

    # == reporting ================================================================================
    def replay(self) -> str:
        return (
            f"BCSYNC_CHAOS_SEED={self.seed} BCSYNC_CHAOS_ROUNDS={self.rounds} .venv/bin/python "
            f"-m pytest -q 'tests/chaos/test_chaos.py::{self.test_id}'"
        )

    def failure_report(self, limit: int = 30) -> str:
        violations = self.oracle.violations
        lines = [
            f"chaos {self.scenario.name}: seed {self.seed}, {self.rounds} rounds, "
            f"{len(violations)} invariant violation(s)",
            f"replay: {self.replay()}",
            "violations:",
            *(f"  {v}" for v in violations[:limit]),
        ]
        if len(violations) > limit:
            lines.append(f"  … and {len(violations) - limit} more")
        lines.append("history:")
        lines += [f"  {log.line()}" for log in self.history]
        return "\n".join(lines)

    def summary(self) -> str:
        f = self.figures
        fired = sum(f.faults_fired.values())
        return (
            f"chaos {self.scenario.name}: seed={self.seed} rounds={f.rounds} "
            f"runs={dict(f.runs)} kills={f.kills} faults={sum(f.faults_injected.values())} "
            f"(fired {fired}) foreign={f.foreign_records} checked={f.records_checked} "
            f"violations={f.violations} in {f.seconds:.1f}s"
        )


def _describe(outcome: RunOutcome) -> str:
    text = outcome.status
    result = outcome.result
    if result is not None:
        counts = {k: v for k, v in result.counts.items() if v and k != "queried"}
        text += f" {counts}"
        rejected = [f"{r['pk']}: {str(r.get('error'))[:70]}" for r in result.rejected_rows[:4]]
        if rejected:
            text += f" rejected={rejected}"
    if outcome.error and outcome.status not in ("success", "warning"):
        text += f" ({outcome.error[:160]})"
    return f"{text} [{outcome.requests} req]"


def _changed_records(before: Store, after: Store) -> list[int]:
    ids = set(before.all) | set(after.all)
    return sorted(i for i in ids if _plain(before.all.get(i)) != _plain(after.all.get(i)))


def _plain(value: Any) -> Any:
    """A record without its modification times (an update to the same values is not a change
    a user would see; a write to a record is judged by the API-call checks)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "date_modified"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
