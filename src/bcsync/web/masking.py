"""Keeping secrets out of pages: every secret value of a project, text scrubbed of them, and a
sync's configuration shown as written with every secret masked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr

from bcsync.config.database_url import password_spans
from bcsync.config.project import ProjectConfig

MASK = "***"


def project_secrets(config: ProjectConfig) -> list[str]:
    """Every secret value of the project: access tokens, alert secrets, database passwords."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(config)
    for url in (config.warehouse.url, config.state.url):
        found.extend(url[start:end] for start, end in password_spans(url))
    return [secret for secret in found if len(secret) >= 3]


def scrub(text: str, secrets_: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***`` (longest first)."""
    for secret in sorted(set(secrets_), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _spelled(value: timedelta) -> str:
    """A duration the way ``bcsync.yml`` writes one (``1h30m``, ``90s`` stays ``1m30s``)."""
    seconds, text = int(value.total_seconds()), ""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        text += f"{count}{unit}" if count else ""
    return text or "0s"


def masked_config(config: ProjectConfig, sync: str) -> str:
    """The sync's configuration as YAML, as written in ``bcsync.yml`` (keys left out stay out),
    with its destination (``access_token: ***``) and every secret of the project masked."""

    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return MASK
        if isinstance(value, BaseModel):
            written = value.model_fields_set
            return {
                (info.alias or name): plain(getattr(value, name))
                for name, info in type(value).model_fields.items()
                if name in written and name != "name"
            }
        if isinstance(value, Mapping):
            return {str(key): plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, timedelta):  # as bcsync.yml spells it: 5m, 1h30m
            return _spelled(value)
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)

    chosen = config.sync(sync)
    document = {
        "syncs": {sync: plain(chosen)},
        "destinations": {chosen.destination: plain(config.destinations[chosen.destination])},
    }
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return scrub(text, project_secrets(config))
