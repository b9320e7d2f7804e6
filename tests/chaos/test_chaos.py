"""Model-based chaos test: random model edits, faults, kills and outside writes, then invariants.

``make test`` runs a few rounds per scenario with fixed seeds; ``make chaos`` runs many rounds
with random seeds (printed). Environment:

- ``BCSYNC_CHAOS_ROUNDS``: rounds per scenario (default 2);
- ``BCSYNC_CHAOS_SEED``: an integer (replay), or ``random`` (default: a fixed seed);
- ``BCSYNC_CHAOS_APPLY_FAULTS``: ``1``/``0`` to force "5xx after the write" faults on or off
  (default: on when the emulator accepts ``"apply": true``);
- ``BCSYNC_CHAOS_REPORT``: where the figures go as JSON (default: ``chaos-report.json`` in the
  pytest temporary directory);
- ``BCSYNC_CHAOS_VERBOSE``: set to print every round's history, failed or not (with ``-s``).

See :mod:`tests.chaos.driver` for the model, the invariants and how to replay a failure. Besides
the game of each scenario: the same against a shared (PostgreSQL) run store, and with ``planner:
warehouse`` (issue 14), the model in PostgreSQL (or DuckDB), planners switched between runs, kills
at the warehouse planner's own steps and rows with null or duplicated keys.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos import killpoint
from tests.chaos.driver import ChaosDriver, PlannerGame
from tests.chaos.kinds import SCENARIOS, Scenario

DEFAULT_SEED = 20_240_601
DEFAULT_ROUNDS = 2


def _seed() -> int:
    raw = os.environ.get("BCSYNC_CHAOS_SEED", "").strip().lower()
    if raw == "random":
        return random.SystemRandom().randrange(1, 1_000_000)
    return int(raw) if raw else DEFAULT_SEED


def _apply_faults() -> bool | None:
    raw = os.environ.get("BCSYNC_CHAOS_APPLY_FAULTS", "").strip()
    return None if raw == "" else raw not in ("0", "false", "no")


@pytest.fixture(scope="session")
def chaos_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Figures of every chaos test of the session, written as JSON at the end."""
    report: dict[str, Any] = {"scenarios": {}}
    yield report
    path = Path(
        os.environ.get("BCSYNC_CHAOS_REPORT")
        or tmp_path_factory.getbasetemp() / "chaos-report.json"
    )
    report["totals"] = _totals(list(report["scenarios"].values()))
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nchaos report: {path}")


def _totals(scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {
        key: sum(s[key] for s in scenarios)
        for key in ("rounds", "kills", "foreign_records", "records_checked", "violations")
    }
    totals["scenarios_failed"] = sum(1 for s in scenarios if s["violations"])
    for key in ("runs", "faults_injected", "faults_fired"):
        counter: Counter[str] = Counter()
        for s in scenarios:
            counter.update(s[key])
        totals[key] = dict(counter)
    return totals


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_chaos(
    scenario: Scenario, sync_project: Any, emulator: Any, chaos_report: dict[str, Any]
) -> None:
    _play(_driver(scenario, sync_project, emulator), sync_project, chaos_report, scenario.name)


# With a PostgreSQL run store the snapshot is shared (bcsync.state.shared_snapshot): the local file
# is only a copy. These scenarios cover both objects and the ownership cases a lost copy matters to
# most (insert mode never matches; delete behaviour reaches records only through the snapshot).
SHARED = ("customers_upsert_email", "customers_insert_delete", "orders_insert_delete")
# How often a run starts from a checkout without a local copy (a teammate, a CI job).
FRESH_CHECKOUT = 0.4


@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s.name in SHARED], ids=lambda s: f"{s.name}-shared"
)
def test_chaos_with_a_shared_run_store(
    scenario: Scenario,
    sync_project: Any,
    emulator: Any,
    postgres_url: str,
    chaos_report: dict[str, Any],
) -> None:
    """The same game against a PostgreSQL run store, where before some runs (killed ones too)
    the local copy of the snapshot is deleted, as if another checkout ran next."""
    sync_project.state_url = postgres_url
    driver = _driver(scenario, sync_project, emulator)
    _from_some_checkout(driver, sync_project)
    driver.test_id = f"test_chaos_with_a_shared_run_store[{scenario.name}-shared]"
    _play(driver, sync_project, chaos_report, f"{scenario.name}-shared")


@pytest.mark.parametrize("step", killpoint.STEPS)
def test_every_kill_step_names_a_function_of_the_warehouse_planner(step: str) -> None:
    """A renamed planner function would turn those kills into failed runs: say so plainly."""
    owner, name = killpoint.target(step)
    assert callable(getattr(owner, name, None)), f"kill step {step}: {killpoint.POINTS[step]}"


def _from_some_checkout(driver: ChaosDriver, sync_project: Any) -> None:
    """Before some runs, delete the local copies of the snapshots (``FRESH_CHECKOUT``)."""
    rng = random.Random(f"shared:{driver.scenario.name}:{driver.seed}")
    run = driver.runner.run
    copies = sync_project.dir / ".bcsync" / "snapshots"

    def from_some_checkout(*args: Any, **kwargs: Any) -> Any:
        if rng.random() < FRESH_CHECKOUT:
            shutil.rmtree(copies, ignore_errors=True)
        return run(*args, **kwargs)

    driver.runner.run = from_some_checkout  # type: ignore[method-assign]


@dataclasses.dataclass(frozen=True)
class WarehouseGame:
    scenario: str
    forced_step: str  # where the game's certain kill lands (tests.chaos.killpoint)
    shared: bool  # the run store in PostgreSQL too (the warehouse's database), fresh checkouts

    @property
    def id(self) -> str:
        return f"{self.scenario}-warehouse" + ("-shared" if self.shared else "")


# planner: warehouse (issue 14) on the kinds of sync whose ledger matters most: adoption by
# e-mail, insert with deletes (customers and orders), update by order id; each game's certain
# kill at another step after the plan; two of them with a shared run store, whose reloaded copy
# must not be trusted to match the warehouse's table.
WAREHOUSE_GAMES = (
    WarehouseGame("customers_upsert_email", "dirty", shared=False),
    WarehouseGame("customers_insert_delete", "writeback", shared=True),
    WarehouseGame("orders_insert_delete", "written", shared=False),
    WarehouseGame("orders_update_clear", "dirty", shared=True),
)
# Switch planners now and then between runs; half the kills of warehouse-planned runs land at the
# planner's own steps in the warehouse (tests.chaos.killpoint).
PLANNER_GAME = PlannerGame(start="warehouse", switch=0.2, step_kills=0.5)
# The warehouse diff finds duplicated keys its own way (DESIGN §3.1: null and duplicated keys
# are invalid): some rounds put such rows in the table (tests.chaos.badkeys).
BAD_KEYS = 0.3


@pytest.mark.parametrize("game", WAREHOUSE_GAMES, ids=lambda g: g.id)
def test_chaos_with_the_warehouse_planner(
    game: WarehouseGame,
    sync_project: Any,
    emulator: Any,
    postgres_url: str,
    chaos_report: dict[str, Any],
) -> None:
    """The same game with the model in PostgreSQL and the diff planned there (``planner:
    warehouse``), switching to the local planner and back now and then."""
    scenario = next(s for s in SCENARIOS if s.name == game.scenario)
    sync_project.use_postgres_warehouse(postgres_url)
    planners = dataclasses.replace(PLANNER_GAME, forced_step=game.forced_step)
    driver = _driver(scenario, sync_project, emulator, planners=planners, bad_keys=BAD_KEYS)
    if game.shared:
        sync_project.state_url = postgres_url
        _from_some_checkout(driver, sync_project)
    driver.test_id = f"test_chaos_with_the_warehouse_planner[{game.id}]"
    _play(driver, sync_project, chaos_report, game.id)


@pytest.mark.parametrize(
    "scenario",
    [s for s in SCENARIOS if s.name == "customers_upsert_email"],
    ids=lambda s: f"{s.name}-warehouse-duckdb",
)
def test_chaos_with_the_warehouse_planner_on_duckdb(
    scenario: Scenario, sync_project: Any, emulator: Any, chaos_report: dict[str, Any]
) -> None:
    """The warehouse planner with its tables in the DuckDB warehouse file (a kill after the
    keys were marked dirty leaves that file to DuckDB's recovery)."""
    game = dataclasses.replace(PLANNER_GAME, forced_step="dirty")
    driver = _driver(scenario, sync_project, emulator, planners=game, bad_keys=BAD_KEYS)
    driver.test_id = (
        f"test_chaos_with_the_warehouse_planner_on_duckdb[{scenario.name}-warehouse-duckdb]"
    )
    _play(driver, sync_project, chaos_report, f"{scenario.name}-warehouse-duckdb")


def _driver(
    scenario: Scenario,
    sync_project: Any,
    emulator: Any,
    planners: PlannerGame | None = None,
    bad_keys: float = 0.0,
) -> ChaosDriver:
    return ChaosDriver(
        scenario,
        sync_project,
        emulator,
        seed=_seed(),
        rounds=int(os.environ.get("BCSYNC_CHAOS_ROUNDS", DEFAULT_ROUNDS)),
        apply_faults=_apply_faults(),
        planners=planners,
        bad_keys=bad_keys,
    )


def _play(driver: ChaosDriver, sync_project: Any, chaos_report: dict[str, Any], name: str) -> None:
    try:
        driver.play()
    except Exception as exc:  # a crash of the driver itself: still say how to replay it
        exc.add_note(driver.failure_report())
        raise
    finally:
        figures = driver.figures.as_dict()
        figures.update(seed=driver.seed, apply_faults=driver.apply_faults)
        figures["failures"] = [str(v) for v in driver.oracle.violations[:20]]
        chaos_report["scenarios"][name] = figures
        print("\n" + driver.summary())
        if os.environ.get("BCSYNC_CHAOS_VERBOSE"):
            print("\n".join(f"  {log.line()}" for log in driver.history))
    # bcsync's own requests (engine runs) went through the strict contract checker.
    contract = [str(v) for v in sync_project.checker.violations[:5]]
    assert not contract, f"{driver.replay()}\nOpenAPI contract violations: {contract}"
    assert not driver.oracle.violations, driver.failure_report()
