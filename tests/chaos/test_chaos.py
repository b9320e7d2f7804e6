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

See :mod:`tests.chaos.driver` for the model, the invariants and how to replay a failure.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.driver import ChaosDriver
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
    rng = random.Random(f"shared:{scenario.name}:{driver.seed}")
    run = driver.runner.run
    copies = sync_project.dir / ".bcsync" / "snapshots"

    def from_some_checkout(*args: Any, **kwargs: Any) -> Any:
        if rng.random() < FRESH_CHECKOUT:
            shutil.rmtree(copies, ignore_errors=True)
        return run(*args, **kwargs)

    driver.runner.run = from_some_checkout  # type: ignore[method-assign]
    driver.test_id = f"test_chaos_with_a_shared_run_store[{scenario.name}-shared]"
    _play(driver, sync_project, chaos_report, f"{scenario.name}-shared")


def _driver(scenario: Scenario, sync_project: Any, emulator: Any) -> ChaosDriver:
    return ChaosDriver(
        scenario,
        sync_project,
        emulator,
        seed=_seed(),
        rounds=int(os.environ.get("BCSYNC_CHAOS_ROUNDS", DEFAULT_ROUNDS)),
        apply_faults=_apply_faults(),
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
