"""The project file ``bcsync.yml``: typed, frozen config models and ``load_config``.

Loading order: ``.env`` next to ``bcsync.yml`` is read into a dict (``os.environ`` is never
modified); the real environment takes precedence over ``.env``, as with python-dotenv's default and
docker compose, so a CI secret always wins over a developer's file. Then ``${VAR}`` is expanded in
every string (see ``bcsync.config.yamlsource``) and the result is validated with pydantic.

Every problem is a ``ConfigError`` whose lines read ``bcsync.yml:14: syncs.vip.mappings[2].field:
field required``. Secrets are ``SecretStr`` and no message quotes an input value, except the one
given to a field with fixed choices (``on_delete: obliterate``), which is never a secret.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import dotenv
from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bcsync.config import database_url
from bcsync.config.alerts import AlertPolicy, AlertsConfig, SyncAlertsConfig
from bcsync.config.issues import ConfigIssue, Frozen, describe_validation_error
from bcsync.config.schedule import Duration, ScheduleConfig
from bcsync.config.warehouse_logs import WarehouseLogs, WarehouseLogsField, resolve
from bcsync.config.yamlsource import LocatedDocument, display_name, format_path, read_yaml
from bcsync.errors import ConfigError

__all__ = [
    "DebuggerConfig",
    "DestinationConfig",
    "MappingConfig",
    "MatchConfig",
    "ModelConfig",
    "ProjectConfig",
    "StateConfig",
    "SyncConfig",
    "WarehouseConfig",
    "load_config",
]

CONFIG_FILE = "bcsync.yml"
DEFAULT_STATE_URL = "sqlite:///.bcsync/state.db"
# Sync names become file names (.bcsync/snapshots/<name>.duckdb) and CLI arguments.
_SYNC_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_FILE_URL_SCHEMES = {"sqlite", "duckdb"}
# Database URLs: a ${VAR} in their password is percent-encoded (bcsync.config.yamlsource).
_URL_KEYS = (("warehouse", "url"), ("state", "url"))
NonEmpty = Annotated[str, Field(min_length=1)]
# A plain SQL name (letters, digits, _): written into warehouse SQL unquoted-safe everywhere.
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=63)]


class WarehouseConfig(Frozen):
    # repr=False: a warehouse URL may carry a password.
    url: NonEmpty = Field(repr=False)

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # A UrlError is a ValueError: reported with file, line and key, quoting none of the URL.
        database_url.parse_warehouse_url(value)
        return value


class StateConfig(Frozen):
    url: NonEmpty = Field(default=DEFAULT_STATE_URL, repr=False)
    # Row outcomes (one per row a run touched) of older runs are deleted; runs stay.
    retention_days: int = Field(default=90, ge=1)

    @field_validator("url")
    @classmethod
    def _run_store_url(cls, value: str) -> str:
        database_url.parse_store_url(value)
        return value


class DestinationConfig(Frozen):
    type: Literal["bigcommerce"]
    store_hash: NonEmpty
    access_token: SecretStr
    api_url: str = "https://api.bigcommerce.com"

    @field_validator("access_token")
    @classmethod
    def _token_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class ModelConfig(Frozen):
    """Where a sync's rows come from: exactly one of ``sql``, ``file`` or ``table``."""

    sql: NonEmpty | None = None
    file: Path | None = None
    table: NonEmpty | None = None
    primary_key: NonEmpty
    _file_sql: str | None = PrivateAttr(default=None)

    @field_validator("file")
    @classmethod
    def _resolve_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        base = (info.context or {}).get("project_dir") or Path.cwd()
        path = (Path(base) / value.expanduser()).resolve()
        if not path.is_file():
            raise ValueError(f"model file not found: {path}")
        return path

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [key for key in ("sql", "file", "table") if getattr(self, key) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"give exactly one of sql, file or table (found: {found})")
        if self.file is not None:
            try:
                text = self.file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigIssue(("file",), f"cannot read {self.file}: {exc}") from None
            if not text.strip():
                raise ConfigIssue(("file",), f"model file is empty: {self.file}")
            self._file_sql = text
        return self

    @property
    def kind(self) -> Literal["sql", "file", "table"]:
        if self.sql is not None:
            return "sql"
        return "file" if self.file is not None else "table"

    @property
    def query(self) -> str | None:
        """The model's SQL text (inline or read from its file); None for a ``table`` model."""
        return self.sql if self.sql is not None else self._file_sql


class MatchConfig(Frozen):
    column: NonEmpty
    field: NonEmpty


class MappingConfig(Frozen):
    column: NonEmpty
    field: NonEmpty


class SyncConfig(Frozen):
    name: NonEmpty
    destination: NonEmpty
    object: Literal["customers", "orders"]
    model: ModelConfig
    mode: Literal["insert", "update", "upsert"]
    match: MatchConfig | None = None
    mappings: list[MappingConfig] = Field(min_length=1)
    on_delete: Literal["nothing", "clear", "delete"] = "nothing"
    max_delete_fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    create_missing_attributes: bool = False
    alerts: SyncAlertsConfig | None = None
    schedule: ScheduleConfig | None = None  # None: manual only
    on_overlap: Literal["skip", "queue_one"] = "skip"
    misfire_grace: Duration = timedelta(minutes=1)  # how late a tick may still fire
    warehouse_logs: WarehouseLogsField = None  # None: the project's setting
    # Where the diff runs: in the snapshot's DuckDB (local) or in the warehouse (None: the
    # project's setting; bcsync.run.planner.warehouse).
    planner: Literal["local", "warehouse"] | None = None

    @field_validator("misfire_grace")
    @classmethod
    def _grace_of_a_second_at_least(cls, value: timedelta) -> timedelta:
        # A scheduler fires a tick a moment after its time: under a second, every tick would
        # be recorded as missed and the sync would never run.
        if value < timedelta(seconds=1):
            raise ValueError(
                "must be at least 1 second (a tick fires a moment after its time, so a shorter "
                "grace would skip every tick)"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _ignore_match_for_insert(cls, data: Any) -> Any:
        # Insert never looks records up, so a match written out of habit is harmless.
        if isinstance(data, dict) and data.get("mode") == "insert" and "match" in data:
            return {key: value for key, value in data.items() if key != "match"}
        return data

    @model_validator(mode="after")
    def _check_match_and_mappings(self) -> Self:
        if self.mode != "insert" and self.match is None:
            raise ConfigIssue(("match",), f"required for mode '{self.mode}'")
        first_index: dict[str, int] = {}
        for index, mapping in enumerate(self.mappings):
            if mapping.field in first_index:
                first = first_index[mapping.field]
                raise ConfigIssue(
                    ("mappings", index, "field"),
                    f"'{mapping.field}' is already mapped by mappings[{first}]",
                )
            first_index[mapping.field] = index
        return self


class DebuggerConfig(Frozen):
    enabled: bool = True  # record every API call of a run; off only to measure its cost
    retention_days: int = Field(default=30, ge=1)
    max_body_bytes: int = Field(default=65_536, ge=0)


class ProjectConfig(Frozen):
    version: Literal[1]
    warehouse: WarehouseConfig
    state: StateConfig = StateConfig()
    destinations: dict[str, DestinationConfig] = Field(min_length=1)
    syncs: dict[str, SyncConfig] = Field(default_factory=dict)
    alerts: AlertsConfig | None = None
    debugger: DebuggerConfig = DebuggerConfig()
    # Where runs execute: in this process (local), or on a queue that `bcsync worker` processes
    # take them from (queue: Procrastinate, in the PostgreSQL run store).
    executor: Literal["local", "queue"] = "local"
    warehouse_logs: WarehouseLogsField = None  # run logs written back to the warehouse
    planner: Literal["local", "warehouse"] = "local"  # a sync's own setting wins
    planner_schema: Identifier = "bcsync_planner"  # the warehouse planner's tables
    project_dir: Path
    config_path: Path
    _source: LocatedDocument | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _name_syncs(cls, data: Any) -> Any:
        """A sync's name is its key under ``syncs``; it is copied into the sync."""
        if not isinstance(data, dict) or not isinstance(data.get("syncs"), dict):
            return data
        syncs = {}
        for name, body in data["syncs"].items():
            if isinstance(body, dict):
                if "name" in body and body["name"] != name:
                    raise ConfigIssue(("syncs", name, "name"), "leave it out: the key is the name")
                body = {**body, "name": name}
            syncs[name] = body
        return {**data, "syncs": syncs}

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        channels = set(self.alerts.channels) if self.alerts else set()
        if self.alerts:
            for index, name in enumerate(self.alerts.defaults.channels):
                if name not in channels:
                    raise ConfigIssue(
                        ("alerts", "defaults", "channels", index),
                        _unknown("channel", name, channels),
                    )
        for name, sync in self.syncs.items():
            if not _SYNC_NAME.fullmatch(name):
                raise ConfigIssue(
                    ("syncs", name), "a sync name may use only letters, digits, '_', '-' and '.'"
                )
            if sync.destination not in self.destinations:
                raise ConfigIssue(
                    ("syncs", name, "destination"),
                    _unknown("destination", sync.destination, self.destinations),
                )
            own = (sync.alerts.channels if sync.alerts else None) or []
            for index, channel in enumerate(own):
                if channel not in channels:
                    raise ConfigIssue(
                        ("syncs", name, "alerts", "channels", index),
                        _unknown("channel", channel, channels),
                    )
        self._check_after_schedules()
        if self.executor == "queue" and not self.state_is_postgres:
            raise ConfigIssue(
                ("executor",),
                "'queue' needs a PostgreSQL run store (state.url: postgresql://USER@HOST/DB): "
                "workers on other machines share their queue and runs through it",
            )
        return self

    def _check_after_schedules(self) -> None:
        """Every sync an ``after:`` schedule names exists, and no chain comes back on itself."""
        follows: dict[str, list[str]] = {}
        for name, sync in self.syncs.items():
            if sync.schedule is None or sync.schedule.after is None:
                continue
            for index, other in enumerate(sync.schedule.after):
                where = ("syncs", name, "schedule", "after", index)
                if other == name:
                    raise ConfigIssue(where, "a sync cannot run after itself")
                if other not in self.syncs:
                    raise ConfigIssue(where, _unknown("sync", other, self.syncs))
            follows[name] = sync.schedule.after
        for start in follows:
            cycle = _cycle_from(start, follows)
            if cycle:
                raise ConfigIssue(
                    ("syncs", start, "schedule", "after", follows[start].index(cycle[1])),
                    "the after: schedules form a cycle: " + " after ".join(cycle),
                )

    def locate(self, *keys: str | int) -> str:
        """``"bcsync.yml:14"``: where the key path was written (or its nearest written ancestor)."""
        if self._source is None:
            return display_name(self.config_path)
        return self._source.locate(keys)

    def error(self, keys: tuple[str | int, ...], message: str) -> ConfigError:
        """A ConfigError pointing at a key path, for checks made outside this module."""
        return ConfigError(f"{self.locate(*keys)}: {format_path(keys)}: {message}")

    def resolve_url(self, url: str) -> str:
        """Make a relative ``sqlite:///…`` or ``duckdb:///…`` file URL absolute (project dir)."""
        scheme, separator, rest = url.partition("://")
        if not separator or scheme.split("+")[0] not in _FILE_URL_SCHEMES:
            return url
        if not rest.startswith("/"):
            return url  # "duckdb://" alone is in-memory; a host part is not a file path
        path, question, query = rest[1:].partition("?")
        if path in ("", ":memory:") or path.startswith(("/", ":memory:")):
            return url
        resolved = (self.project_dir / Path(path).expanduser()).resolve()
        return f"{scheme}:///{resolved}{question}{query}"

    @property
    def state_url(self) -> str:
        return self.resolve_url(self.state.url)

    @property
    def state_is_postgres(self) -> bool:
        return database_url.parse_store_url(self.state.url).get_backend_name() == "postgresql"

    def sync(self, name: str) -> SyncConfig:
        """The named sync, or a ConfigError listing the ones that exist."""
        if name not in self.syncs:
            raise ConfigError(f"{self.locate('syncs')}: {_unknown('sync', name, self.syncs)}")
        return self.syncs[name]

    def warehouse_logs_for(self, sync: str) -> WarehouseLogs | None:
        """Where the sync's runs are logged in the warehouse; None: they are not."""
        return resolve(self.warehouse_logs, self.sync(sync).warehouse_logs)

    def planner_for(self, sync: str) -> Literal["local", "warehouse"]:
        """Where the sync's diff runs: its own ``planner``, else the project's."""
        return self.sync(sync).planner or self.planner

    def alert_policy(self, sync: str) -> AlertPolicy:
        """The sync's alert channels and thresholds: its own settings over the defaults."""
        own = self.sync(sync).alerts
        if self.alerts is None:
            return AlertPolicy()
        return self.alerts.policy_for(own)


def _cycle_from(start: str, follows: dict[str, list[str]]) -> list[str] | None:
    """A path start → … → start along ``after:`` edges, or None (depth-first search)."""
    path = [start]
    seen: set[str] = set()

    def visit(name: str) -> bool:
        for other in follows.get(name, []):
            if other == start:
                path.append(start)
                return True
            if other not in seen:
                seen.add(other)
                path.append(other)
                if visit(other):
                    return True
                path.pop()
        return False

    return path if visit(start) else None


def _unknown(kind: str, name: str, known: Any = ()) -> str:
    choices = ", ".join(sorted(known)) or "none defined"
    return f"unknown {kind} '{name}' (defined: {choices})"


def find_config_file(path: Path | str | None = None) -> Path:
    """The ``bcsync.yml`` at ``path`` (a file, or a directory holding one; default: cwd)."""
    candidate = Path.cwd() if path is None else Path(path).expanduser()
    if candidate.is_dir():
        candidate = candidate / CONFIG_FILE
    if not candidate.is_file():
        raise ConfigError(f"no project file at {candidate} (create one with `bcsync init`)")
    return candidate.resolve()


def project_environment(project_dir: Path) -> dict[str, str]:
    """``.env`` in the project dir merged under the real environment (the environment wins)."""
    env_file = project_dir / ".env"
    from_file = dotenv.dotenv_values(env_file) if env_file.is_file() else {}
    merged = {key: value for key, value in from_file.items() if value is not None}
    merged.update(os.environ)
    return merged


def load_config(path: Path | str | None = None) -> ProjectConfig:
    """Read, interpolate and validate a project; raise ConfigError naming file, line and key."""
    config_path = find_config_file(path)
    project_dir = config_path.parent
    source = read_yaml(config_path, project_environment(project_dir), url_keys=_URL_KEYS)
    if not isinstance(source.data, dict):
        raise ConfigError(f"{source.locate(())}: the project file must be a mapping of keys")
    for reserved in ("project_dir", "config_path"):
        if reserved in source.data:
            raise ConfigError(f"{source.locate((reserved,))}: {reserved}: unknown key")
    data = {**source.data, "project_dir": project_dir, "config_path": config_path}
    try:
        config = ProjectConfig.model_validate(data, context={"project_dir": project_dir})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source, ProjectConfig)) from None
    config._source = source
    return config
