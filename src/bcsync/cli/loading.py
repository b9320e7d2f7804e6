"""Loading the command line without the cyclic garbage collector.

Importing what ``bcsync.cli.commands`` needs (Typer, rich, SQLAlchemy, DuckDB, pydantic…) builds
a few hundred thousand objects that live as long as the process, so the collector runs hundreds
of times meanwhile, walking ever more of them, and frees next to nothing: 50-80 ms of every
command's start-up, which a run pays against the store's API quota.

Importing this module turns the collector off. ``done()``, at the end of ``commands``, moves what
exists by then out of the collector's reach for good (``gc.freeze()``, which ``main`` did anyway)
and turns it back on if it was on, so a program that imports the CLI (the demo, the tests) keeps
its collector: only re-enabling it would make its first pass walk everything the import made.
"""

from __future__ import annotations

import gc

_WAS_ENABLED = gc.isenabled()
gc.disable()


def done() -> None:
    """The CLI is loaded: freeze what the import made, and let the collector work again."""
    gc.freeze()
    if _WAS_ENABLED:
        gc.enable()
