"""The setup API under ``/api/v1/setup``: destinations and syncs set up from the browser.

Every form of the setup pages calls these, and so can a script. Reads: the project as served,
the warehouse's tables, a model's preview, the store's fields. Writes edit ``bcsync.yml``
(``config.editing``): each carries the ``version`` its form read (409 when the file changed
since), is validated by the configuration model before anything is written (422 with the
problems and their key paths), can be a ``dry_run`` (the diff only), and reloads the served
project. The access token goes to ``.env``; answers only ever say whether one is set. Every
POST, PUT and DELETE is refused (403) under ``--read-only``; CSRF is the security middleware's.
Errors are ``{"error": "...", "problems": [{"path", "message"}]}``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bcsync.api import Project
from bcsync.config.editing.document import ConfigDocument, unified_diff, version_of
from bcsync.config.editing.envfile import ENV_FILE, set_values, token_variable
from bcsync.config.editing.loading import ConfigRefused, EditProblem, load_text
from bcsync.config.editing.setup_mode import (
    PLACEHOLDER,
    SetupProjectConfig,
    is_placeholder,
    unset_variables,
)
from bcsync.config.editing.writing import (
    EDIT_LOCK,
    StaleVersion,
    atomic_write,
    check_version,
    replace_file,
)
from bcsync.config.project import DestinationConfig, ModelConfig, ProjectConfig, project_environment
from bcsync.destinations.bigcommerce.access import check_access
from bcsync.destinations.bigcommerce.mapping_checks import check_mapping, suggest
from bcsync.destinations.bigcommerce.store_fields import (
    FieldList,
    create_attribute,
    list_fields,
)
from bcsync.errors import ApiError, BcsyncError, ConfigError
from bcsync.run.preflight import model_types
from bcsync.warehouse.preview import (
    DEFAULT_ROWS,
    MAX_ROWS,
    PREVIEW,
    list_tables,
    open_for_preview,
    preview_model,
)
from bcsync.web.app import UiSettings, project_of
from bcsync.web.masking import project_secrets, scrub
from bcsync.web.schedules import schedule_view
from bcsync.web.setup_mode import reload, setup_problems

router = APIRouter(prefix="/api/v1/setup", tags=["setup"])

READ_ONLY = "this server is read-only (--read-only): it changes no configuration"
# What BigCommerce store hashes look like (and the emulator's); anything else is a typo, or an
# attempt to write YAML or a ``${VAR}`` reference through the form.
STORE_HASH = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A name the setup forms may give a destination (the key in bcsync.yml, part of a variable's).
DESTINATION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


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


Json = Annotated[Any, Body()]
M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: Any) -> M:
    """The request's JSON as ``model``; a 422 naming the keys otherwise. Done here rather than
    by FastAPI, whose 422 quotes the request back (the access token with it)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = [
            EditProblem(".".join(str(part) for part in error["loc"]), error["msg"])
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise Failure(422, "the request's JSON is not what this route takes", problems) from None


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses its JSON itself (``_parse``)."""
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": True, "content": {"application/json": schema}}}


def _writable(request: Request) -> None:
    settings: UiSettings = request.app.state.settings
    if settings.read_only:
        raise Failure(403, READ_ONLY)


# -- bodies ------------------------------------------------------------------------------------


class DestinationCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_hash: str
    access_token: str = Field(repr=False)
    api_url: str | None = None


class DestinationEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_hash: str
    access_token: str | None = Field(default=None, repr=False, description="omitted: keep")
    api_url: str | None = Field(default=None, description="omitted: keep; empty: the real API")
    version: str
    dry_run: bool = False


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sql: str | None = None
    table: str | None = None
    file: str | None = None
    primary_key: str | None = None
    limit: int = Field(default=DEFAULT_ROWS, ge=1, le=MAX_ROWS)


class AttributeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    type: Literal["string", "number", "date"]


class SyncCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sync: dict[str, Any]


class SyncEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sync: dict[str, Any]
    version: str
    dry_run: bool = False


class SyncDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    state: Literal["keep", "reset"] = "keep"
    dry_run: bool = False


class SyncCopy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_name: str
    version: str
    dry_run: bool = False


# -- the project file --------------------------------------------------------------------------


@dataclass
class Edit:
    """One edit of ``bcsync.yml`` on its way: the text before and after, and the env it needs."""

    config_path: Path
    before: str
    version: str
    document: ConfigDocument
    env_values: dict[str, str]

    @classmethod
    def open(cls, request: Request) -> Edit:
        path = project_of(request).config.config_path
        data = path.read_bytes()
        text = data.decode("utf-8")
        try:
            document = ConfigDocument(text)
        except ConfigError as exc:
            raise Failure(422, str(exc), [EditProblem("", str(exc))]) from None
        return cls(path, text, version_of(data), document, {})

    @property
    def after(self) -> str:
        return self.document.text()

    def environment(self) -> dict[str, str]:
        """The project's environment with the values about to be written to ``.env``, and the
        setup mode's placeholders for variables still unset."""
        env = {**project_environment(self.config_path.parent), **self.env_values}
        return {**env, **{name: PLACEHOLDER + name for name in unset_variables(self.after, env)}}

    def validate(self, after: str | None = None) -> ProjectConfig:
        """The edited project (``after``: its text, rendered once by the caller) as the
        configuration model reads it; Failure 422 if refused."""
        after = self.after if after is None else after
        model = ProjectConfig if self.document.section("destinations") else SetupProjectConfig
        try:
            return load_text(after, self.config_path, self.environment(), model=model)
        except ConfigRefused as exc:
            raise Failure(422, f"bcsync.yml would not be valid: {exc}", exc.problems) from None

    def save(self, request: Request, expected: str, *, dry_run: bool) -> dict[str, Any]:
        """Validate, then (unless ``dry_run``) write ``.env`` and ``bcsync.yml`` and reload.
        A stale version is told first: the problems of an edit of an outdated form mislead.
        ``.env`` goes first (the new file refers to it) and is put back if ``bcsync.yml``
        cannot be written: an edit is saved whole or not at all."""
        check_version(self.config_path, expected)
        after = self.after  # rendered once: the text validated is the text written
        self.validate(after)
        answer: dict[str, Any] = {"diff": unified_diff(self.before, after)}
        if dry_run:
            answer["version"] = self.version
            return answer
        with EDIT_LOCK:
            check_version(self.config_path, expected)
            env_file = self.config_path.parent / ENV_FILE
            env_before = None
            if self.env_values:
                env_before = env_file.read_bytes() if env_file.is_file() else None
                set_values(self.config_path.parent, self.env_values)
            try:
                answer["version"] = replace_file(
                    self.config_path, after.encode("utf-8"), expected_version=expected
                )
            except BaseException:  # bcsync.yml unchanged: so is .env (one edit, or none)
                if self.env_values:
                    if env_before is None:
                        env_file.unlink(missing_ok=True)
                    else:
                        atomic_write(env_file, env_before)
                raise
        try:
            reload(request.app)
        except ConfigError as exc:  # written, valid by the model, yet not loadable: say so
            answer["reload_error"] = scrub(str(exc), _secrets(request))
        return answer


def _secrets(request: Request, extra: list[str] | None = None) -> list[str]:
    settings: UiSettings = request.app.state.settings
    ui_token = [settings.token] if settings.token else []
    return [*project_secrets(project_of(request).config), *ui_token, *(extra or [])]


def _scrubbed(value: Any, secrets: list[str]) -> Any:
    """An answer with every secret masked: a preview's rows and a check's messages hold what
    the warehouse returns, and a model can read ``.env`` as well as any file."""
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {key: _scrubbed(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, secrets) for item in value]
    return value


def _new_references(old: Any, new: Any, path: str) -> list[EditProblem]:
    """Where ``new`` holds a ``${VAR}`` that ``old`` (what bcsync.yml has there) does not.

    The loader expands ``${VAR}`` from the server's environment, and checks and pages show the
    values: a form that could write one would read any variable of the server (a store hash of
    ``${PGPASSWORD}``). References are written by hand; one already in the file may stay."""
    if isinstance(new, str):
        if "${" in new and new != old:
            return [EditProblem(path, "'${' cannot be set from the browser: edit bcsync.yml")]
        return []
    if isinstance(new, Mapping):
        was: Mapping[str, Any] = old if isinstance(old, Mapping) else {}
        return [
            problem
            for key, item in new.items()
            for problem in _new_references(was.get(key), item, f"{path}.{key}")
        ]
    if isinstance(new, list):
        items: list[Any] = old if isinstance(old, list) else []
        return [
            problem
            for index, item in enumerate(new)
            for problem in _new_references(
                items[index] if index < len(items) else None, item, f"{path}[{index}]"
            )
        ]
    return []


def _outside_files(project_dir: Path, old: Any, new: Any, path: str) -> list[EditProblem]:
    """A model ``file`` the browser names outside the project directory (``../../etc/passwd``,
    an absolute path): refused, as its text would come back in error messages. A path already
    in bcsync.yml may stay."""
    if not isinstance(new, Mapping):
        return []
    given = new.get("file")
    before = old.get("file") if isinstance(old, Mapping) else None
    if not isinstance(given, str) or given == before:
        return []
    root = project_dir.resolve()
    if (root / Path(given).expanduser()).resolve().is_relative_to(root):
        return []
    return [EditProblem(path + ".file", "the model file must be inside the project directory")]


def _refuse_unsafe(edit: Edit, name: str, sync: Mapping[str, Any]) -> None:
    """Failure 422 for a sync that writes a new ``${VAR}`` or names a file outside the project."""
    old = edit.document.section("syncs").get(name)
    problems = _new_references(old, sync, f"syncs.{name}")
    problems += _outside_files(
        edit.config_path.parent,
        old.get("model") if isinstance(old, Mapping) else None,
        sync.get("model"),
        f"syncs.{name}.model",
    )
    if problems:
        raise Failure(422, "the sync cannot be saved from the browser as it is", problems)


def _guarded(request: Request, work: Any, *, secrets: list[str] | None = None) -> Any:
    """Run ``work()``; its Failure, a stale version or a bcsync error become the JSON error."""
    hidden = _secrets(request, secrets)
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


# -- reads -------------------------------------------------------------------------------------


def _dialect(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0]


@router.get("", summary="The project as the setup pages show it")
def setup_overview(request: Request) -> dict[str, Any]:
    project = project_of(request)
    config = project.config
    destinations = []
    for name, destination in config.destinations.items():
        destinations.append(
            {
                "name": name,
                "store_hash": ""
                if is_placeholder(destination.store_hash)
                else destination.store_hash,
                "api_url": "" if is_placeholder(destination.api_url) else destination.api_url,
                "token_set": not is_placeholder(destination.access_token.get_secret_value()),
            }
        )
    return {
        "version": version_of(config.config_path.read_bytes()),
        "problems": list(setup_problems(request)),
        "destinations": destinations,
        "syncs": list(config.syncs),
        "warehouse": {"dialect": _dialect(config.warehouse.url)},
    }


def _usable(config: ProjectConfig, name: str) -> DestinationConfig | None:
    """The destination when its values are all set (not setup placeholders)."""
    destination = config.destinations.get(name)
    if destination is None:
        return None
    values = (
        destination.store_hash,
        destination.api_url,
        destination.access_token.get_secret_value(),
    )
    return None if any(is_placeholder(value) for value in values) else destination


@router.post(
    "/destinations/check",
    summary="Check a store hash and token against the store",
    openapi_extra=_body(DestinationCheck),
)
def check_destination(request: Request, raw: Json) -> Any:
    token = raw.get("access_token") if isinstance(raw, dict) else None

    def work() -> dict[str, Any]:
        _writable(request)
        body = _parse(DestinationCheck, raw)
        api_url = (body.api_url or "").strip() or DestinationConfig.model_fields["api_url"].default
        try:
            DestinationConfig(
                type="bigcommerce",
                store_hash=body.store_hash or "-",
                access_token=body.access_token or "-",
                api_url=api_url,
            )
        except ValidationError:
            return {
                "ok": False,
                "status": None,
                "explanation": "the API URL must be an http:// or https:// URL",
                "scopes": [],
                "problems": ["api_url: must be an http:// or https:// URL"],
            }
        return check_access(body.store_hash, body.access_token, api_url).to_json()

    return _guarded(request, work, secrets=[token] if isinstance(token, str) and token else [])


@router.get("/warehouse/tables", summary="The warehouse's tables and views")
def warehouse_tables(request: Request) -> Any:
    config = project_of(request).config

    def work() -> dict[str, Any]:
        warehouse = open_for_preview(
            config.resolve_url(config.warehouse.url), project_dir=config.project_dir
        )
        try:
            tables = list_tables(warehouse)
        finally:
            warehouse.close()
        return {"tables": [{"schema": schema, "name": name} for schema, name in tables]}

    return _guarded(request, work)


@router.post(
    "/models/preview",
    summary="A model's first rows, columns and key warnings",
    openapi_extra=_body(PreviewRequest),
)
def preview(request: Request, raw: Json) -> Any:
    config = project_of(request).config

    def work() -> dict[str, Any]:
        _writable(request)
        body = _parse(PreviewRequest, raw)
        given = {key: getattr(body, key) for key in ("sql", "table", "file") if getattr(body, key)}
        outside = _outside_files(config.project_dir, None, given, "model")
        if outside:
            raise Failure(422, "the model cannot be read", outside)
        try:
            model = ModelConfig.model_validate(
                {**given, "primary_key": body.primary_key or "-"},
                context={"project_dir": config.project_dir},
            )
        except ValidationError as exc:
            problems = [
                EditProblem(".".join(str(p) for p in error["loc"]) or "model", error["msg"])
                for error in exc.errors(include_url=False)
            ]
            raise Failure(422, "the model cannot be read", problems) from None
        warehouse = open_for_preview(
            config.resolve_url(config.warehouse.url), project_dir=config.project_dir
        )
        try:
            shown = preview_model(warehouse, model, limit=body.limit, key=body.primary_key)
            answer: dict[str, Any] = _scrubbed(shown.to_json(), _secrets(request))
            return answer
        except BcsyncError as exc:  # the warehouse's words, without the stand-in sync name
            raise Failure(422, str(exc).replace(f"sync '{PREVIEW}': ", "")) from None
        finally:
            warehouse.close()

    return _guarded(request, work)


def _object(value: str) -> str:
    if value not in ("customers", "orders"):
        raise Failure(422, "object must be customers or orders")
    return value


@router.get("/destinations/{name}/fields", summary="Every field a mapping can name in the store")
def destination_fields(
    request: Request, name: str, object: Annotated[str, Query()] = "customers"
) -> Any:
    config = project_of(request).config

    def work() -> dict[str, Any]:
        if name not in config.destinations:
            raise Failure(404, f"no destination named {name!r} in bcsync.yml")
        return list_fields(_usable(config, name), _object(object)).to_json()

    return _guarded(request, work)


@router.post(
    "/destinations/{name}/attributes",
    summary="Create a customer attribute",
    openapi_extra=_body(AttributeRequest),
)
def new_attribute(request: Request, name: str, raw: Json) -> Any:
    config = project_of(request).config

    def work() -> dict[str, Any]:
        _writable(request)
        body = _parse(AttributeRequest, raw)
        if name not in config.destinations:
            raise Failure(404, f"no destination named {name!r} in bcsync.yml")
        destination = _usable(config, name)
        if destination is None:
            raise Failure(409, f"destination {name!r} is not set up yet: save its token first")
        try:
            created = create_attribute(destination, body.name, body.type)
        except ValueError as exc:
            raise Failure(422, str(exc)) from None
        except ApiError as exc:
            raise Failure(exc.status if exc.status in (409, 422) else 502, str(exc)) from None
        return {
            "id": created.get("id"),
            "name": created.get("name", body.name),
            "type": created.get("type", body.type),
            "field": f"attributes.{created.get('name', body.name)}",
        }

    return _guarded(request, work)


# -- writes: destinations ----------------------------------------------------------------------


@router.put(
    "/destinations/{name}",
    summary="Add or change a destination (token into .env)",
    openapi_extra=_body(DestinationEdit),
)
def put_destination(request: Request, name: str, raw: Json) -> Any:
    given = raw.get("access_token") if isinstance(raw, dict) else None
    token = given.strip() if isinstance(given, str) else ""

    def work() -> dict[str, Any]:
        _writable(request)
        body = _parse(DestinationEdit, raw)
        if not DESTINATION_NAME.fullmatch(name):
            raise Failure(422, "a destination name uses letters, digits, '_' and '-'")
        if not STORE_HASH.fullmatch(body.store_hash.strip()):
            raise Failure(
                422,
                "a store hash is letters and digits (the part after /stores/ in the API path)",
                [EditProblem(f"destinations.{name}.store_hash", "letters and digits only")],
            )
        edit = Edit.open(request)
        found = edit.document.section("destinations").get(name)
        written: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        changes: dict[str, Any] = {"type": "bigcommerce", "store_hash": body.store_hash.strip()}
        env_keys: list[str] = []
        if token:
            variable = token_variable(name, written.get("access_token"), os.environ)
            changes["access_token"] = "${" + variable + "}"
            edit.env_values[variable] = token
            env_keys.append(variable)
        elif "access_token" not in written:
            raise Failure(
                422,
                "a new destination needs its access token",
                [EditProblem(f"destinations.{name}.access_token", "field required")],
            )
        if "api_url" in body.model_fields_set:
            changes["api_url"] = (body.api_url or "").strip() or None
            if not token and _token_moves(project_of(request).config, name, changes["api_url"]):
                raise Failure(
                    422,
                    "give the access token again to send it to another API URL",
                    [EditProblem(f"destinations.{name}.access_token", "field required")],
                )
            problems = _new_references(
                written.get("api_url"), changes["api_url"], f"destinations.{name}.api_url"
            )
            if problems:
                raise Failure(422, "the API URL cannot hold '${' from the browser", problems)
        edit.document.update_entry("destinations", name, changes)
        answer = edit.save(request, body.version, dry_run=body.dry_run)
        return {**answer, "env_keys": env_keys}

    return _guarded(request, work, secrets=[token] if token else [])


def _token_moves(config: ProjectConfig, name: str, api_url: str | None) -> bool:
    """Whether the saved token would go to another host than it goes to now: the form must
    give it again, or anyone allowed to edit could send it to a server of theirs and read it
    (a check or a run would present it there)."""
    destination = config.destinations.get(name)
    if destination is None or is_placeholder(destination.access_token.get_secret_value()):
        return False
    new = (api_url or DestinationConfig.model_fields["api_url"].default).rstrip("/")
    return new != destination.api_url


# -- syncs -------------------------------------------------------------------------------------


def _sync_body(name: str, sync: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(sync)
    if body.get("name") == name:
        del body["name"]  # the key is the name; bcsync.yml leaves it out
    return body


@router.post(
    "/syncs/check",
    summary="Check a sync before saving it: problems, types, diff, plan",
    openapi_extra=_body(SyncCheck),
)
def check_sync(request: Request, raw: Json) -> Any:
    def work() -> dict[str, Any]:
        _writable(request)
        body = _parse(SyncCheck, raw)
        edit = Edit.open(request)
        sync_body = _sync_body(body.name, body.sync)
        try:
            _refuse_unsafe(edit, body.name, sync_body)
        except Failure as failure:
            return {
                "problems": [p.to_json() for p in failure.problems],
                "mapping_checks": [],
                "suggestions": [],
                "diff": "",
                "next_runs": [],
                "plan": None,
            }
        edit.document.set_entry("syncs", body.name, sync_body)
        answer: dict[str, Any] = {
            "problems": [],
            "mapping_checks": [],
            "suggestions": [],
            "diff": unified_diff(edit.before, edit.after),
            "next_runs": [],
            "plan": None,
        }
        try:
            config = edit.validate()
        except Failure as failure:
            answer["problems"] = [p.to_json() for p in failure.problems]
            return answer
        sync = config.syncs[body.name]
        now = datetime.now(UTC)
        answer["next_runs"] = [tick.utc.isoformat() for tick in schedule_view(sync, now).next_runs]
        try:
            column_types = model_types(config, sync)
        except BcsyncError as exc:
            answer["problems"].append({"path": f"syncs.{body.name}.model", "message": str(exc)})
            return answer
        destination = _usable(config, sync.destination)
        fields: FieldList = list_fields(destination, sync.object)
        by_field = {entry.field: entry for entry in fields.fields}
        checks = [
            check_mapping(m.column, m.field, column_types, by_field, store_read=fields.store_read)
            for m in sync.mappings
        ]
        answer["mapping_checks"] = [check.to_json() for check in checks]
        mapped = {m.column: m.field for m in sync.mappings}
        answer["suggestions"] = [
            {"column": column, "field": field}
            for column, field in suggest(list(column_types), fields.fields, mapped)
        ]
        if destination is None:
            answer["plan_error"] = f"destination {sync.destination!r} is not set up yet"
            return answer
        try:
            plan = Project(config).plan(body.name)
        except BcsyncError as exc:
            answer["plan_error"] = str(exc)
        else:
            document = plan.to_json()
            answer["plan"] = {
                "counts": document["counts"],
                "operations": document["operations"],
                "estimated_api_calls": document["estimated_api_calls"],
                "estimated_seconds": document["estimated_seconds"],
            }
        return answer

    return _guarded(request, lambda: _scrubbed(work(), _secrets(request)))


@router.put("/syncs/{name}", summary="Add or change a sync", openapi_extra=_body(SyncEdit))
def put_sync(request: Request, name: str, raw: Json) -> Any:
    def work() -> dict[str, Any]:
        _writable(request)
        body = _parse(SyncEdit, raw)
        edit = Edit.open(request)
        sync_body = _sync_body(name, body.sync)
        _refuse_unsafe(edit, name, sync_body)
        edit.document.set_entry("syncs", name, sync_body)
        return edit.save(request, body.version, dry_run=body.dry_run)

    return _guarded(request, work)


@router.post(
    "/syncs/{name}/duplicate", summary="Copy a sync under a new name", openapi_extra=_body(SyncCopy)
)
def duplicate_sync(request: Request, name: str, raw: Json) -> Any:
    def work() -> dict[str, Any]:
        _writable(request)
        body = _parse(SyncCopy, raw)
        edit = Edit.open(request)
        syncs = edit.document.section("syncs")
        if name not in syncs:
            raise Failure(404, f"no sync named {name!r} in bcsync.yml")
        if body.new_name in syncs:
            raise Failure(
                422,
                f"a sync named {body.new_name!r} exists already",
                [EditProblem(f"syncs.{body.new_name}", "already defined")],
            )
        edit.document.copy_entry("syncs", name, body.new_name)
        return edit.save(request, body.version, dry_run=body.dry_run)

    return _guarded(request, work)


@router.delete("/syncs/{name}", summary="Delete a sync; state=reset also forgets its snapshot")
def delete_sync(
    request: Request,
    name: str,
    version: Annotated[str | None, Query()] = None,
    state: Annotated[str, Query(description="keep | reset")] = "keep",
    dry_run: Annotated[str, Query(description="true | false")] = "false",
) -> Any:
    # Parsed here (``_parse``), not by FastAPI: every error of this API has one shape.
    given = {"version": version, "state": state, "dry_run": dry_run}

    def work() -> dict[str, Any]:
        _writable(request)
        query = _parse(SyncDelete, {k: v for k, v in given.items() if v is not None})
        edit = Edit.open(request)
        if name not in edit.document.section("syncs"):
            raise Failure(404, f"no sync named {name!r} in bcsync.yml")
        edit.document.remove_entry("syncs", name)
        if query.dry_run:
            return edit.save(request, query.version, dry_run=True)
        with EDIT_LOCK:
            edit.validate()
            check_version(edit.config_path, query.version)
            forgotten = 0
            if query.state == "reset":
                project = project_of(request)
                if name in project.config.syncs:
                    forgotten = project.reset(name)  # refused while a run of it is going
            answer = edit.save(request, query.version, dry_run=False)
        return {**answer, "state": query.state, "rows_forgotten": forgotten}

    return _guarded(request, work)
