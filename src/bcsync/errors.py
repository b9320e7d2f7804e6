"""The bcsync exception tree.

Every error is classified by a marker mixin so callers decide what to do by class, never by
string matching:

- ``Fatal``      stop the run (or the command) at once; the run is ``failed``.
- ``Retriable``  the same request may succeed later (rate limited, server error, timeout).
  :func:`is_retriable` is the one question a retry loop asks (see :mod:`bcsync.retry`): one error
  of a retriable kind may still refuse a retry (``retriable = False``), and may say how long to
  wait first (``retry_after``).

::

    BcsyncError
    ├── ConfigError (Fatal)                    bad bcsync.yml, missing ${VAR}, bad mapping
    ├── WarehouseError (Fatal)                 model SQL failed, warehouse unreachable
    ├── StateError (Fatal)                     run store or snapshot unusable
    │   └── SyncLockedError                    another live run holds the sync's lock
    ├── GuardError (Fatal)                     a delete/clear guard stopped the run before sending
    └── ApiError                               BigCommerce answered with an error status
        ├── AuthError (Fatal)                  401 / 403: bad token, missing scope, wrong store hash
        ├── RateLimitedError (Retriable)       429; the governor does the waiting
        ├── ServerError (Retriable)            5xx; not retried when the status says it never
        │                                      will work (501, 505, …)
        ├── RequestRejectedError               other 4xx: validation, not found, conflict;
        │                                      only the rows carried fail
        └── TransportError (Retriable)         timeout / connection failure before any answer
            └── AmbiguousWriteError            the request went out and the answer was lost:
                                               a write may or may not have happened; not
                                               retried unless re-sending it is safe (an update)

Secrets never appear in messages: errors carry the method and path, never headers.
"""

from __future__ import annotations

from typing import Any, TypeGuard


class Fatal:
    """Marker: the run cannot continue."""


class Retriable:
    """Marker: the same request may succeed if tried again later.

    ``retriable`` is False on an error of this kind that must not be tried again all the same;
    ``retry_after`` is how many seconds to wait before the next try, None to back off as the
    retry policy says."""

    retriable: bool = True
    retry_after: float | None = None


class BcsyncError(Exception):
    """Base of every error bcsync raises on purpose."""


class ConfigError(BcsyncError, Fatal):
    """The project file or its environment is wrong; the message names file, line and key."""


class WarehouseError(BcsyncError, Fatal):
    """The warehouse could not be reached or the model's query failed."""


class StateError(BcsyncError, Fatal):
    """The run store or a snapshot cannot be used."""


class SyncLockedError(StateError):
    """Another run of the same sync is alive and holds the lock."""


class NotQueuedError(StateError):
    """A queued run was to begin, but it is not queued any more (another worker began it, or it
    was closed); nothing was started."""


class GuardError(BcsyncError, Fatal):
    """A safety guard (empty model, too many deletes) stopped the run before anything was sent."""


class ApiError(BcsyncError):
    """BigCommerce answered a request with an error (or did not answer at all)."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.status = status
        self.body = body


class AuthError(ApiError, Fatal):
    """401 or 403: the token is wrong, lacks a scope, or the store hash is wrong."""


class RateLimitedError(ApiError, Retriable):
    """429 from BigCommerce; retried by the client after the advertised wait."""

    retry_after = 0.0  # the store's governor already holds every request for the advertised wait


class ServerError(ApiError, Retriable):
    """5xx from BigCommerce."""


class RequestRejectedError(ApiError):
    """A 4xx other than 401/403/429: the rows in the request are rejected with this message."""


class TransportError(ApiError, Retriable):
    """No answer: connection refused, reset or timed out."""


class AmbiguousWriteError(TransportError):
    """A write went out and its answer was lost; it must be settled by reading, not re-sent
    (the client marks the exceptions, an update or a delete, as ``retriable``)."""

    retriable = False


def is_retriable(exc: BaseException) -> TypeGuard[Retriable]:
    """True when the request that failed with ``exc`` may be sent again."""
    return isinstance(exc, Retriable) and exc.retriable
