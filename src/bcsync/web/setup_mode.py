"""The served project while it is being set up: its problems, runs refused, reload after edits.

``bcsync serve`` starts on a project the setup forms can fix (``config.editing.setup_mode``);
its problems live in ``app.state.setup_problems`` (empty for a project that is ready). Pages
show them with a link to /setup; runs and plans are refused with them. After every saved edit
``reload`` loads ``bcsync.yml`` again and replaces ``app.state.project``: a request or a run
already going keeps the Project it had (a run gets a Project of its own anyway). A server that
runs no scheduler yet starts it once the reloaded project is ready (``web.scheduler``).
"""

from __future__ import annotations

import threading

from fastapi import FastAPI, Request

from bcsync.api import Project
from bcsync.config.editing.setup_mode import SetupLoad, load_for_setup
from bcsync.errors import ConfigError
from bcsync.web.scheduler import ServedScheduler

_RELOADING = threading.Lock()


def setup_problems(request: Request) -> tuple[str, ...]:
    problems: tuple[str, ...] = getattr(request.app.state, "setup_problems", ())
    return problems


def run_refusal(request: Request) -> str | None:
    """Why no run may start now (the project is not set up), or None."""
    problems = setup_problems(request)
    if not problems:
        return None
    return "this project is not set up yet (see /setup): " + "; ".join(problems)


def reload(app: FastAPI) -> SetupLoad:
    """Load the project's ``bcsync.yml`` again and serve it; raises ConfigError (and keeps the
    project served) when it no longer loads even leniently."""
    with _RELOADING:
        old: Project = app.state.project
        loaded = load_for_setup(old.config.config_path)
        app.state.project = Project(loaded.config)
        app.state.setup_problems = loaded.problems
    old.close()
    scheduler: ServedScheduler | None = getattr(app.state, "scheduler", None)
    if scheduler is not None:  # a server set up in the browser starts its schedules now
        scheduler.offer(loaded.config, loaded.problems)
    return loaded


__all__ = ["ConfigError", "reload", "run_refusal", "setup_problems"]
