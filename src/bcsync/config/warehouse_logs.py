"""``warehouse_logs:`` in ``bcsync.yml``: whether runs write their logs back to the warehouse.

Written ``true``, ``false`` or ``{schema: NAME}``, at the top level (every sync) and on a sync
(that sync; its value wins, and ``false`` turns the logs off for it alone). ``true`` on a sync
keeps the project's schema; the default schema is ``bcsync_audit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from bcsync.config.issues import Frozen

__all__ = [
    "DEFAULT_SCHEMA",
    "WarehouseLogs",
    "WarehouseLogsField",
    "WarehouseLogsSetting",
    "resolve",
]

DEFAULT_SCHEMA = "bcsync_audit"
# Lower case only: an unquoted name then means the same table in every warehouse's SQL that
# folds case (PostgreSQL folds to lower case, so analysts can write it without quotes).
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_FORMS = "must be true, false or {schema: NAME}"


def _schema_name(value: str) -> str:
    if not _SCHEMA_NAME.fullmatch(value):
        raise ValueError(
            "must be a lower-case name of at most 63 letters a-z, digits and _ (such as "
            f"{DEFAULT_SCHEMA})"
        )
    return value


class WarehouseLogsSetting(Frozen):
    """One ``warehouse_logs:`` value as written; ``schema`` None keeps the project's."""

    enabled: bool = True
    schema_: Annotated[str, AfterValidator(_schema_name)] | None = Field(
        default=None, alias="schema"
    )


def _from_yaml(value: Any) -> Any:
    if isinstance(value, bool):
        return {"enabled": value}
    if isinstance(value, dict):
        if "enabled" in value:
            raise ValueError(f"{_FORMS} (write false to turn the logs off)")
        return value
    if value is None:
        return None
    raise ValueError(_FORMS)


WarehouseLogsField = Annotated[WarehouseLogsSetting | None, BeforeValidator(_from_yaml)]


@dataclass(frozen=True)
class WarehouseLogs:
    """The logs a sync writes: to ``<schema>.sync_runs`` and ``<schema>.sync_changelog``."""

    schema: str = DEFAULT_SCHEMA


def resolve(
    project: WarehouseLogsSetting | None, sync: WarehouseLogsSetting | None
) -> WarehouseLogs | None:
    """The sync's logs (None: off): the sync's own setting over the project's."""
    chosen = sync if sync is not None else project
    if chosen is None or not chosen.enabled:
        return None
    for setting in (sync, project):
        if setting is not None and setting.schema_ is not None:
            return WarehouseLogs(setting.schema_)
    return WarehouseLogs()
