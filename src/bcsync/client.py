"""A client of a running ``bcsync serve``'s JSON API: start a run, follow it to its end.

``bcsync trigger`` and the orchestrator recipes (``examples/``, ``docs/orchestrators.md``) share
it, so a run started from Airflow, Dagster or a shell ends the same way::

    from bcsync.client import BcsyncClient

    with BcsyncClient("http://127.0.0.1:8600", token) as client:
        run = client.run_and_wait("vip_customers", fail_on_warning=True)

A run is *final* once its status is one of ``vocabulary.FINISHED`` (``success``, ``warning``,
``failed``, ``skipped``, ``cancelled``, ``interrupted``); ``queued`` (waiting for a worker) and
the running statuses are not. The token (``BCSYNC_TOKEN``, else ``BCSYNC_UI_TOKEN``: the one
``bcsync serve`` was given) goes only into the ``Authorization`` header, never into a message.

::

    ClientError (BcsyncError)
    ├── BadOptions             a server URL that is not http(s), an unreadable or empty token file
    ├── ServerUnreachable      no answer from the server (not started, wrong URL, network)
    ├── Unauthorized           401: no token, or not the server's token
    ├── UnknownSync            404: the server's bcsync.yml has no such sync
    ├── AlreadyRunning         409: a run of the sync is in progress (``run_id`` names it)
    ├── WaitTimedOut           the run was not final within the timeout (``run`` is its last state)
    └── RunFailed              run_and_wait: the run failed (or ended ``warning`` when told to fail)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from bcsync.errors import BcsyncError
from bcsync.vocabulary import FINISHED, RunStatus

__all__ = [
    "DEFAULT_SERVER",
    "TOKEN_ENVS",
    "AlreadyRunning",
    "BadOptions",
    "BcsyncClient",
    "ClientError",
    "RunFailed",
    "ServerUnreachable",
    "Unauthorized",
    "UnknownSync",
    "WaitTimedOut",
    "exit_code",
    "is_final",
    "read_token",
    "run_and_wait",
    "summary",
]

DEFAULT_SERVER = "http://127.0.0.1:8600"
TOKEN_ENVS = ("BCSYNC_TOKEN", "BCSYNC_UI_TOKEN")
POLL_SECONDS = 2.0
# How long polling rides out a server that does not answer (a restart, a proxy's hiccup) before
# giving up: the run goes on without us, so a short outage must not fail the orchestrator's task.
OUTAGE_SECONDS = 60.0
_FINAL = frozenset(str(status) for status in FINISHED)

Run = dict[str, Any]  # the JSON of ``GET /api/v1/runs/{id}``: ``bcsync run --json`` plus more


class ClientError(BcsyncError):
    """The server could not be asked, or refused what was asked."""


class BadOptions(ClientError):
    """The server's URL or the token file is not usable."""


class ServerUnreachable(ClientError):
    """No answer from the server."""


class Unauthorized(ClientError):
    """401: the server wants a token, or not this one."""


class UnknownSync(ClientError):
    """404: no sync of that name in the served project."""


class AlreadyRunning(ClientError):
    """409: the sync has a run in progress."""

    def __init__(self, message: str, run_id: str | None) -> None:
        super().__init__(message)
        self.run_id = run_id


class WaitTimedOut(ClientError):
    """The run did not end within the timeout; it goes on on the server."""

    def __init__(self, message: str, run: Run) -> None:
        super().__init__(message)
        self.run = run


class RunFailed(ClientError):
    """The run ended ``failed``, ``cancelled`` or ``interrupted`` (or ``warning``, if asked)."""

    def __init__(self, message: str, run: Run) -> None:
        super().__init__(message)
        self.run = run


def is_final(run: Run) -> bool:
    return str(run.get("status")) in _FINAL


def exit_code(run: Run) -> int:
    """The exit code ``bcsync run`` gives for the run's status: 1 when it stopped short, else 0
    (``warning`` and ``skipped`` included); 1 for a status this bcsync does not know."""
    try:
        return 1 if RunStatus(str(run.get("status"))).stopped_short else 0
    except ValueError:
        return 1


def read_token(token_file: Path | None = None) -> str | None:
    """The token from ``token_file``, else from ``BCSYNC_TOKEN`` or ``BCSYNC_UI_TOKEN``."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise BadOptions(f"--token-file {token_file}: {exc.strerror}") from None
        if not token:
            raise BadOptions(f"--token-file {token_file}: the file is empty")
        return token
    for name in TOKEN_ENVS:
        if value := os.environ.get(name, "").strip():
            return value
    return None


def _shown(server: str) -> str:
    """The server's address for messages: scheme, host and port only (no user or password)."""
    url = httpx.URL(server)
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


def _detail(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else None


class BcsyncClient:
    """The JSON API of one ``bcsync serve`` (``server``: its base URL), with its token if any.

    ``transport``, ``sleep`` and ``clock`` are seams for tests; the defaults talk HTTP and wait
    in real time."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        server = server.rstrip("/")
        if not server.startswith(("http://", "https://")):
            raise BadOptions(f"the server must be an http:// or https:// URL, not {server!r}")
        self.server = _shown(server)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._has_token = bool(token)
        self._http = httpx.Client(
            base_url=server, headers=headers, timeout=timeout, transport=transport
        )
        self._sleep = sleep
        self._clock = clock

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def trigger(self, sync: str, *, full_resync: bool = False) -> str:
        """Start a run of ``sync``; its id. The run may still be ``queued`` (workers)."""
        response = self._request(
            "POST", f"/api/v1/syncs/{_segment(sync)}/runs", json={"full_resync": full_resync}
        )
        if response.status_code == 404:
            raise UnknownSync(
                f"{self.server} has no sync named {sync!r}"
                if _detail(response)
                else f"{self.server} does not answer as bcsync serve (404 on its API)"
            )
        if response.status_code == 409:
            body = response.json() if _detail(response) else {}
            run_id = body.get("run_id")
            raise AlreadyRunning(
                f"sync {sync!r} is already running"
                + (f" (run {run_id})" if run_id else "")
                + ": wait for that run to end, or follow it with its run id",
                run_id,
            )
        run_id = self._json(response, 202).get("run_id")
        if not isinstance(run_id, str):
            raise ClientError(f"{self.server} accepted the run but named no run_id")
        return run_id

    def run(self, run_id: str) -> Run:
        """The run as ``GET /api/v1/runs/{id}`` answers it."""
        response = self._request("GET", f"/api/v1/runs/{_segment(run_id)}")
        if response.status_code == 404:
            raise ClientError(f"{self.server} has no run {run_id!r}")
        return self._json(response, 200)

    def wait(self, run_id: str, *, timeout: float | None = None, poll: float = POLL_SECONDS) -> Run:
        """Poll the run every ``poll`` seconds until it is final, and return it. Raises
        ``WaitTimedOut`` after ``timeout`` seconds (None: no limit); rides out a server that
        stops answering for up to a minute."""
        start = self._clock()
        unanswered_since: float | None = None
        last: Run = {"run_id": run_id, "status": "unknown"}
        while True:
            try:
                last = self.run(run_id)
                unanswered_since = None
            except ServerUnreachable:
                unanswered_since = unanswered_since or self._clock()
                if self._clock() - unanswered_since > OUTAGE_SECONDS:
                    raise
            if is_final(last):
                return last
            waited = self._clock() - start
            if timeout is not None and waited >= timeout:
                raise WaitTimedOut(
                    f"run {run_id} is still {last.get('status')} after {waited:.0f} s "
                    "(it goes on on the server)",
                    last,
                )
            pause = poll if timeout is None else min(poll, max(timeout - waited, 0.0))
            self._sleep(pause)

    def run_and_wait(
        self,
        sync: str,
        *,
        full_resync: bool = False,
        timeout: float | None = None,
        poll: float = POLL_SECONDS,
        fail_on_warning: bool = False,
    ) -> Run:
        """Start a run of ``sync``, wait for its end and return it; ``RunFailed`` when it
        stopped short (``failed``, ``cancelled``, ``interrupted``), and with
        ``fail_on_warning`` also when rows were rejected or invalid (``warning``)."""
        run = self.wait(self.trigger(sync, full_resync=full_resync), timeout=timeout, poll=poll)
        status = str(run.get("status"))
        if exit_code(run) != 0 or (fail_on_warning and status == RunStatus.WARNING):
            raise RunFailed(f"run {run.get('run_id')} of {sync!r}: {summary(run)}", run)
        return run

    def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **options)
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot reach bcsync serve at {self.server} ({type(exc).__name__}"
                + (f": {exc}" if str(exc) else "")
                + "): is it running, and is --server right?"
            ) from None
        if response.status_code == 401:
            raise Unauthorized(
                f"{self.server} refused the token (it is not the server's UI token)"
                if self._has_token
                else f"{self.server} wants a token: set BCSYNC_TOKEN or pass --token-file"
            )
        return response

    def _json(self, response: httpx.Response, expected: int) -> dict[str, Any]:
        if response.status_code != expected:
            detail = _detail(response) or response.reason_phrase
            raise ClientError(f"{self.server} answered {response.status_code}: {detail}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ClientError(f"{self.server} did not answer with the JSON of bcsync serve")
        return body


def _segment(value: str) -> str:
    """A sync name or run id as one path segment (``/`` and ``?`` escaped)."""
    from urllib.parse import quote

    return quote(value, safe="")


def summary(run: Run) -> str:
    """One line: ``success in 3.2 s: 3 succeeded, 0 rejected, 0 invalid, 4 API calls``."""
    from datetime import datetime

    status = str(run.get("status"))
    took = ""
    started, finished = run.get("started_at"), run.get("finished_at")
    if isinstance(started, str) and isinstance(finished, str):
        seconds = (
            datetime.fromisoformat(finished) - datetime.fromisoformat(started)
        ).total_seconds()
        took = f" in {seconds:.1f} s"
    counts = run.get("counts") or {}
    text = (
        f"{status}{took}: {counts.get('succeeded', 0)} succeeded, "
        f"{counts.get('rejected', 0)} rejected, {counts.get('invalid', 0)} invalid, "
        f"{run.get('api_calls', 0)} API calls"
    )
    if run.get("error"):
        text += f" ({run['error']})"
    return text


def run_and_wait(
    sync: str,
    *,
    server: str = DEFAULT_SERVER,
    token: str | None = None,
    full_resync: bool = False,
    timeout: float | None = None,
    poll: float = POLL_SECONDS,
    fail_on_warning: bool = False,
) -> Run:
    """``BcsyncClient(server, token).run_and_wait(sync, …)`` in one call, the token defaulting
    to ``BCSYNC_TOKEN`` (or ``BCSYNC_UI_TOKEN``): what the orchestrator recipes call."""
    with BcsyncClient(server, token if token is not None else read_token()) as client:
        return client.run_and_wait(
            sync,
            full_resync=full_resync,
            timeout=timeout,
            poll=poll,
            fail_on_warning=fail_on_warning,
        )
