"""Starting the UI: the address check (a token is required beyond loopback) and uvicorn."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from bcsync.api import Project
from bcsync.errors import ConfigError
from bcsync.web.app import UiSettings, create_app

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
    being set up (``setup_problems``) runs no schedules: restart the server once it is set up."""
    import uvicorn

    from bcsync.scheduling import service

    running = (
        service.start(project.config)
        if scheduler and not setup_problems and service.has_schedules(project.config)
        else None
    )
    try:
        uvicorn.run(
            create_app(project, settings, setup_problems), host=host, port=port, log_level="warning"
        )
    finally:
        if running is not None:
            running.stop()
