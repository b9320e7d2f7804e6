"""Loading the CLI without the cyclic garbage collector, which is on again once it is loaded."""

from __future__ import annotations

import subprocess
import sys


def test_the_collector_is_on_after_loading_and_the_load_is_frozen() -> None:
    code = (
        "import gc, bcsync.cli.commands; "
        "print(gc.isenabled(), gc.get_freeze_count() > 50_000, gc.get_count()[0] < 1_000)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "True"]


def test_a_collector_turned_off_stays_off() -> None:
    code = "import gc; gc.disable(); import bcsync.cli.commands; print(gc.isenabled())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]
