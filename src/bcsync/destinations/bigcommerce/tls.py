"""The TLS context of the clients to BigCommerce: one per process, built ahead of its first use.

httpx builds an ``ssl.SSLContext`` for each client it makes, loading certifi's CA bundle: ~25 ms
that a run spent just before its first API call, which counts against the store's quota.
``prepare()`` starts building that same context (``httpx.create_ssl_context()``: certifi's
bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set) on a thread as soon as an engine exists,
so it loads (outside the GIL) while the run store opens; ``context()`` returns it, waiting for it
if need be. An ``SSLContext`` is safe to share between clients, threads and event loops.
"""

from __future__ import annotations

import ssl
import threading
from concurrent.futures import Future

import httpx

_lock = threading.Lock()
_context: Future[ssl.SSLContext] | None = None


def prepare() -> Future[ssl.SSLContext]:
    """Start building the context (once per process); the future of it."""
    global _context
    with _lock:
        if _context is not None:
            return _context
        future: Future[ssl.SSLContext] = Future()
        _context = future
    threading.Thread(target=_build, args=(future,), name="bcsync-tls", daemon=True).start()
    return future


def _build(future: Future[ssl.SSLContext]) -> None:
    try:
        future.set_result(httpx.create_ssl_context())
    except BaseException as exc:  # handed to whoever asks for the context
        future.set_exception(exc)


def context() -> ssl.SSLContext:
    """The clients' TLS context (built now, or waited for, if ``prepare`` has not finished)."""
    return prepare().result()
