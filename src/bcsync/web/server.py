"""Starting the UI: the address check (a token is required beyond loopback) and uvicorn."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bcsync.api import Project
from bcsync.errors import ConfigError
from bcsync.web.app import UiSettings, create_app
from bcsync.web.scheduler import ServedScheduler

TOKEN_ENV = "BCSYNC_UI_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ui_token(token_file: Path | None) -> str | None:
    """The UI token from ``--token-file`` or ``BCSYNC_UI_TOKEN`` (None when neither is given)."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--token-file {token_file}: {exc.strerror}") from None
        if not token:
            raise ConfigError(f"--token-file {token_file}: the file is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def settings_for(host: str, *, read_only: bool, token: str | None) -> UiSettings:
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"bcsync serve listens on {host}, beyond this machine: give it a token with "
            f"{TOKEN_ENV} or --token-file (the browser logs in with it once)"
        )
    return UiSettings(read_only=read_only, token=token)


def _announce_schedules() -> None:
    print(
        "the schedules of bcsync.yml run in this server now (the project is set up)",
        file=sys.stderr,
    )


def serve(
    project: Project,
    *,
    host: str,
    port: int,
    settings: UiSettings,
    scheduler: bool = True,
    setup_problems: Sequence[str] = (),
) -> None:
    """Serve the UI until uvicorn stops (Ctrl-C, SIGTERM); with ``scheduler``, the project's
    schedules run in a background thread meanwhile (``bcsync.scheduling.service``). A project
    being set up (``setup_problems``) runs none until it is set up in the browser: the first
    saved edit that leaves it ready, with a schedule, starts them (``web.scheduler``)."""
    import uvicorn

    schedules = ServedScheduler(enabled=scheduler)
    schedules.offer(project.config, setup_problems)
    schedules.on_start = _announce_schedules  # a start after an edit in the browser is told
    app = create_app(project, settings, setup_problems)
    app.state.scheduler = schedules
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        schedules.stop()
