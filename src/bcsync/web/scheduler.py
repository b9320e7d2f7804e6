"""The scheduler beside the UI (``bcsync serve``): started with the server, or once the project
is set up in the browser.

A server started on a project being set up (``web.setup_mode``), or on one with nothing
scheduled yet, runs no scheduler. After each saved edit the reloaded project is offered here,
and the scheduler starts the first time the project is ready and has a schedule: finishing the
setup in the browser is enough, no restart needed. It starts once and keeps the configuration
it started with, as under a plain ``bcsync serve``: a schedule changed afterwards takes effect
when ``bcsync serve`` starts again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from bcsync.config.project import ProjectConfig
from bcsync.scheduling import service


class ServedScheduler:
    """The server's scheduler, if any yet. ``enabled`` is false under ``--no-scheduler``."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.running: service.RunningScheduler | None = None
        # Told when ``offer`` starts the scheduler (serve: once the server is up).
        self.on_start: Callable[[], None] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def offer(self, config: ProjectConfig, problems: Sequence[str] = ()) -> bool:
        """Start the scheduler over ``config`` unless it runs already, is disabled or stopped,
        or the project is not set up (``problems``) or schedules nothing; whether it started."""
        with self._lock:
            if (
                not self.enabled
                or self._stopped
                or self.running is not None
                or problems
                or not service.has_schedules(config)
            ):
                return False
            self.running = service.start(config)
        if self.on_start is not None:
            self.on_start()
        return True

    def stop(self) -> None:
        """Stop the scheduler (runs in progress go on); none starts after this."""
        with self._lock:
            self._stopped = True
            running, self.running = self.running, None
        if running is not None:
            running.stop()
