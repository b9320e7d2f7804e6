"""The test-only admin API under ``/_emulator/`` (no token; never part of the real API)."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.customers import formfields
from bcsync.emulator.faults import FaultRuleError
from bcsync.emulator.settings import EmulatorSettings


def _problem(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if not body:
        return {}
    return await request.json()


def check_config(changes: Any) -> str | None:
    """Why ``changes`` cannot be applied to the settings, or None when they can."""
    if not isinstance(changes, dict):
        return "the body must be a JSON object of settings"
    defaults = EmulatorSettings()
    names = {f.name for f in dataclasses.fields(EmulatorSettings)}
    for key, value in changes.items():
        if key not in names:
            return f"unknown setting {key!r}; known: {', '.join(sorted(names))}"
        current = getattr(defaults, key)
        if key == "data_file":
            ok = value is None or isinstance(value, str)
        elif key == "over_limit":
            ok = value in ("413", "clamp")
        elif key == "form_fields":
            problem = formfields.definitions_problem(value)
            if problem:
                return problem
            ok = True
        elif key == "extra_tokens":
            ok = isinstance(value, dict) and all(
                isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
            )
        elif isinstance(current, bool):
            ok = isinstance(value, bool)
        elif isinstance(current, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            ok = isinstance(value, type(current))
        if not ok:
            return f"setting {key!r}: {value!r} is not a valid value"
    return None


def _settings_doc(settings: EmulatorSettings) -> dict[str, Any]:
    doc = dataclasses.asdict(settings)
    doc["token"] = "***"
    doc["extra_tokens"] = [sorted(s) for s in settings.extra_tokens.values()]
    return doc


def build_app(emu: Emulator) -> Starlette:
    """The admin routes bound to ``emu``."""

    async def stats(request: Request) -> Response:
        return JSONResponse(emu.stats.snapshot())

    async def dump(request: Request) -> Response:
        return JSONResponse(emu.dump())

    async def reset(request: Request) -> Response:
        # ?all=true also drops fault rules and restores the start-up settings (test fixtures).
        if request.query_params.get("all", "").lower() in ("1", "true", "yes"):
            emu.reset_all()
        else:
            emu.reset()
        return JSONResponse({"reset": True})

    async def get_config(request: Request) -> Response:
        return JSONResponse(_settings_doc(emu.settings))

    async def put_config(request: Request) -> Response:
        try:
            changes = await _json_body(request)
        except ValueError:
            return _problem(400, "the body is not valid JSON")
        problem = check_config(changes)
        if problem is not None:
            return _problem(400, problem)
        emu.settings.update(changes)
        return JSONResponse(_settings_doc(emu.settings))

    async def add_faults(request: Request) -> Response:
        try:
            body = await _json_body(request)
        except ValueError:
            return _problem(400, "the body is not valid JSON")
        if not isinstance(body, dict) or "rules" not in body:
            return _problem(400, 'the body must be {"rules": [...]}')
        try:
            emu.faults.add(body["rules"])
        except FaultRuleError as exc:
            return _problem(400, str(exc))
        return JSONResponse({"rules": [r.as_dict() for r in emu.faults.rules]})

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"rules": [r.as_dict() for r in emu.faults.rules]})

    async def clear_faults(request: Request) -> Response:
        emu.faults.clear()
        return JSONResponse({"rules": []})

    return Starlette(
        routes=[
            Route("/_emulator/stats", stats, methods=["GET"]),
            Route("/_emulator/dump", dump, methods=["GET"]),
            Route("/_emulator/reset", reset, methods=["POST"]),
            Route("/_emulator/config", get_config, methods=["GET"]),
            Route("/_emulator/config", put_config, methods=["PUT"]),
            Route("/_emulator/faults", list_faults, methods=["GET"]),
            Route("/_emulator/faults", add_faults, methods=["POST"]),
            Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
        ]
    )
