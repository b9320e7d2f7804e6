"""bcsync: keep BigCommerce customers and orders in step with a SQL model in your warehouse.

The Python API (for Airflow, Dagster, Prefect…)::

    import bcsync

    project = bcsync.load_project("path/to/project")
    result = project.run("vip_customers")      # also .plan(name), .check()
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine's imports (DuckDB, SQLAlchemy…) load only when a project does
    from bcsync.api import Project
    from bcsync.run.events import Observer

__version__ = "0.1.0"

__all__ = ["__version__", "load_project"]


def load_project(path: Path | str | None = None, observers: Sequence[Observer] = ()) -> Project:
    """Load ``bcsync.yml`` (a file, or the directory holding it; default: current directory)."""
    from bcsync.api import load_project as load

    return load(path, observers)
