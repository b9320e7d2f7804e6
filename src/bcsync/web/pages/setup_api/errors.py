"""The setup API's own errors: ``{"error": "...", "problems": [{"path", "message"}]}``.

Every route answers a refusal in this one shape (never FastAPI's default 422, which quotes the
request back, token included), with every project secret masked. Routes raise ``Failure``
inside a ``guarded`` piece of work; a stale version, a refused configuration and any bcsync
error become the same JSON.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from bcsync.config.editing.loading import ConfigRefused, EditProblem
from bcsync.config.editing.writing import StaleVersion
from bcsync.errors import BcsyncError
from bcsync.web.app import UiSettings, project_of
from bcsync.web.masking import project_secrets, scrub

READ_ONLY = "this server is read-only (--read-only): it changes no configuration"


class Failure(Exception):
    """An answer other than 200: ``{"error": message, "problems": [...]}`` with ``status``."""

    def __init__(self, status: int, message: str, problems: list[EditProblem] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []


def _answer(failure: Failure, secrets: list[str]) -> JSONResponse:
    body: dict[str, Any] = {"error": scrub(failure.message, secrets)}
    if failure.problems or failure.status == 422:
        body["problems"] = [
            {"path": p.path, "message": scrub(p.message, secrets)} for p in failure.problems
        ]
    return JSONResponse(body, status_code=failure.status)


def require_writable(request: Request) -> None:
    """Failure 403 under ``--read-only``: every POST, PUT and DELETE of this API asks first."""
    settings: UiSettings = request.app.state.settings
    if settings.read_only:
        raise Failure(403, READ_ONLY)


def secrets_of(request: Request, extra: list[str] | None = None) -> list[str]:
    """What no answer may show: the project's secrets, the UI token, and ``extra`` (a token the
    request itself carries, not saved yet)."""
    settings: UiSettings = request.app.state.settings
    ui_token = [settings.token] if settings.token else []
    return [*project_secrets(project_of(request).config), *ui_token, *(extra or [])]


def scrubbed(value: Any, secrets: list[str]) -> Any:
    """An answer with every secret masked: a preview's rows and a check's messages hold what
    the warehouse returns, and a model can read ``.env`` as well as any file."""
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {key: scrubbed(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item, secrets) for item in value]
    return value


def guarded(request: Request, work: Any, *, secrets: list[str] | None = None) -> Any:
    """Run ``work()``; its Failure, a stale version or a bcsync error become the JSON error."""
    hidden = secrets_of(request, secrets)
    try:
        return work()
    except Failure as failure:
        return _answer(failure, hidden)
    except StaleVersion as exc:
        return _answer(Failure(409, str(exc)), hidden)
    except ConfigRefused as exc:
        return _answer(Failure(422, str(exc), exc.problems), hidden)
    except BcsyncError as exc:
        return _answer(Failure(422, str(exc)), hidden)
