"""Running the emulator under uvicorn: in a background thread (tests, demo) or in the foreground."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from bcsync.emulator import persistence
from bcsync.emulator.app import create_app
from bcsync.emulator.core import Emulator
from bcsync.emulator.settings import EmulatorSettings

# drop_after_apply deliberately leaves a response unfinished; uvicorn reports that as an error.
_DELIBERATE_DROP = "ASGI callable returned without completing response."


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DELIBERATE_DROP


def _quiet_deliberate_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


class _NoDelayH11(H11Protocol):
    """uvicorn's h11 protocol with Nagle off: headers and body go out as separate writes, and
    Nagle plus the client's delayed ACK would otherwise add ~40 ms to every response."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(settings: EmulatorSettings) -> tuple[uvicorn.Server, Emulator]:
    _quiet_deliberate_drops()
    app, emulator = create_app(settings)
    persistence.load(emulator)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", http=_NoDelayH11, ws="none"
    )
    return uvicorn.Server(config), emulator


def _base_url(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@dataclass
class RunningEmulator:
    """An emulator serving in a background thread; ``stop()`` shuts it down."""

    url: str
    emulator: Emulator
    _server: uvicorn.Server
    _thread: threading.Thread
    _sock: socket.socket

    @property
    def api_url(self) -> str:
        """What bcsync takes as ``api_url`` (it appends ``/stores/{store_hash}/v3/…``)."""
        return self.url

    @property
    def store_hash(self) -> str:
        return self.emulator.settings.store_hash

    @property
    def token(self) -> str:
        return self.emulator.settings.token

    @property
    def store_url(self) -> str:
        return f"{self.url}/stores/{self.store_hash}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
        persistence.save(self.emulator)


def start_in_thread(
    settings: EmulatorSettings | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator:
    """Start serving on ``host:port`` (0 = any free port) and return once it accepts requests."""
    server, emulator = _server(settings or EmulatorSettings())
    sock = _bind(host, port)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])),
        name="bc-emulator",
        daemon=True,
    )
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError("the emulator failed to start")
        threading.Event().wait(0.01)
    return RunningEmulator(_base_url(sock, host), emulator, server, thread, sock)


def serve(
    settings: EmulatorSettings,
    host: str = "127.0.0.1",
    port: int = 8787,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM; ``on_ready(base_url)`` once listening."""
    server, emulator = _server(settings)
    sock = _bind(host, port)
    url = _base_url(sock, host)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        task = asyncio.create_task(server._serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started and on_ready is not None:
            on_ready(url)
        await task

    try:
        asyncio.run(main())
    finally:
        sock.close()
        persistence.save(emulator)
