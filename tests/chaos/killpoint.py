"""Run the bcsync CLI and SIGKILL it at a named step of the warehouse planner.

The driver's other kills land between API calls, seen from the emulator; the warehouse planner's
own steps happen before the first call (marking the run's keys dirty) and after the last one
(writing the clean hashes back), where no request marks the time. So the run process kills
itself there, exactly as ``kill -9`` would: no ``finally``, no ``atexit``, open transactions
rolled back by the server.

``python tests/chaos/killpoint.py STEP --project DIR run SYNC`` wraps the step's function before
the CLI runs (every module that bound it by name gets the wrapper), then runs ``bcsync``'s
``main``. Steps (:data:`STEPS`):

- ``bootstrapped``: right after the warehouse table was rebuilt from the ledger under a new
  token, before the snapshot holds that token;
- ``dirty``: right after the run's candidate and gone keys were marked dirty in the warehouse,
  before anything is sent;
- ``writeback``: right after the last write to the store, before the write-back of clean hashes;
- ``written``: right after the write-back, before the run is recorded as finished.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

# step → (module, function (or Class.method), "before" | "after" the call)
_WAREHOUSE = "bcsync.run.planner.warehouse"
POINTS: dict[str, tuple[str, str, str]] = {
    "bootstrapped": (f"{_WAREHOUSE}.tables", "PlannerTables.bootstrap", "after"),
    "dirty": (f"{_WAREHOUSE}.writeback", "mark_dirty", "after"),
    "writeback": (f"{_WAREHOUSE}.writeback", "write_back", "before"),
    "written": (f"{_WAREHOUSE}.writeback", "write_back", "after"),
}
STEPS = tuple(POINTS)


def entry(step: str) -> list[str]:
    """What Python runs (``SyncProject.popen(entry=…)``) for a CLI killed at ``step``."""
    if step not in POINTS:
        raise ValueError(f"unknown kill step {step!r}; known: {STEPS}")
    return [__file__, step]


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def target(step: str) -> tuple[Any, str]:
    """The object holding the function of ``step``, and the function's name in it."""
    module_name, name, _ = POINTS[step]
    owner: Any = importlib.import_module(module_name)
    *path, attribute = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attribute


def _arm(step: str) -> None:
    when = POINTS[step][2]
    owner, attribute = target(step)
    original: Callable[..., Any] = getattr(owner, attribute)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when == "before":
            _die()
        result = original(*args, **kwargs)
        _die()
        return result

    setattr(owner, attribute, wrapper)
    if "." not in POINTS[step][1]:  # modules that imported the function by name hold it too
        for other in list(sys.modules.values()):
            for key, value in list(vars(other).items()) if other is not None else ():
                if value is original:
                    setattr(other, key, wrapper)


if __name__ == "__main__":
    sys.path.pop(0)  # this folder: its modules must not shadow anything bcsync imports
    _arm(sys.argv[1])
    del sys.argv[1]
    from bcsync.cli.commands import main

    main()
