"""What every sync is checked for before anything is sent: located problems, the model's
columns against the mapping, the columns and mapping a row's hash covers, and the guards.

``check``, ``plan`` and ``run`` all go through these, so they agree on what is wrong; each
problem is located in ``bcsync.yml`` (``file:line: sync 'vip': …``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bcsync.config.project import ProjectConfig, SyncConfig
from bcsync.destinations.base import Problem
from bcsync.errors import ConfigError, GuardError
from bcsync.run.planner import ChangeSet
from bcsync.run.snapshot import Snapshot
from bcsync.warehouse import open_warehouse


def located(
    config: ProjectConfig, sync: SyncConfig, problems: Sequence[Problem], *, named: bool = True
) -> list[str]:
    """``bcsync.yml:14: sync 'vip': …`` per problem; ``named=False`` leaves out the sync's
    name, for a report already headed by it (``check``)."""
    lines = []
    for problem in problems:
        where = config.locate("syncs", sync.name, *problem.where)
        name = f"sync '{sync.name}': " if named else ""
        lines.append(f"{where}: {name}{problem.message}")
    return lines


def fail_on(config: ProjectConfig, sync: SyncConfig, problems: Sequence[Problem]) -> None:
    """Raise the located problems, if any, as one ``ConfigError``."""
    if problems:
        raise ConfigError("\n".join(located(config, sync, problems)))


def mapping_text(sync: SyncConfig) -> str:
    """Where the hashed columns go: part of every row's hash (DESIGN §3.8), so a mapping
    change re-sends the rows it affects."""
    pairs = sorted(f"{m.column}->{m.field}" for m in sync.mappings)
    if sync.match is not None and sync.mode != "insert":
        pairs.append(f"match:{sync.match.column}->{sync.match.field}")
    return ";".join(pairs)


def hashed_columns(sync: SyncConfig) -> list[str]:
    """The match column and the mapped columns, in that order, once each."""
    columns: list[str] = []
    if sync.match is not None and sync.mode != "insert":
        columns.append(sync.match.column)
    for mapping in sync.mappings:
        if mapping.column not in columns:
            columns.append(mapping.column)
    return columns


def model_types(config: ProjectConfig, sync: SyncConfig) -> dict[str, str]:
    """The model's columns and their Arrow types, read without reading its rows."""
    warehouse = open_warehouse(
        config.resolve_url(config.warehouse.url), project_dir=config.project_dir
    )
    try:
        schema = warehouse.schema(sync.model, sync=sync.name)
    finally:
        warehouse.close()
    return {f.name: str(f.type) for f in schema}


def missing_columns(sync: SyncConfig, column_types: dict[str, str]) -> list[Problem]:
    """The key, match and mapped columns the model does not have, located in the file."""
    available = ", ".join(column_types)
    problems = []
    if sync.model.primary_key not in column_types:
        problems.append(
            Problem(
                f"primary key column '{sync.model.primary_key}' is not in the model "
                f"(columns: {available})",
                ("model", "primary_key"),
            )
        )
    if sync.match is not None and sync.mode != "insert" and sync.match.column not in column_types:
        problems.append(
            Problem(
                f"match column '{sync.match.column}' is not in the model (columns: {available})",
                ("match", "column"),
            )
        )
    for index, mapping in enumerate(sync.mappings):
        if mapping.column not in column_types:
            problems.append(
                Problem(
                    f"column '{mapping.column}' is not in the model (columns: {available})",
                    ("mappings", index, "column"),
                )
            )
    return problems


def guard(sync: SyncConfig, changes: ChangeSet, snapshot: Snapshot, override: bool) -> None:
    """Stop before sending anything when the model came back empty while this sync owns
    records, or would delete or clear more of them than ``max_delete_fraction`` allows."""
    owned = snapshot.count()
    if override or owned == 0:
        return
    if changes.counts.queried == 0:
        raise GuardError(
            f"the model of sync '{sync.name}' returned no rows while {owned} records are "
            "synced; refusing to continue (pass --override-guards if this is intended)"
        )
    removed = changes.counts.removed
    if sync.on_delete != "nothing" and removed > sync.max_delete_fraction * owned:
        verb = "delete" if sync.on_delete == "delete" else "clear"
        raise GuardError(
            f"sync '{sync.name}' would {verb} {removed} of {owned} records "
            f"({removed / owned:.0%}), more than max_delete_fraction "
            f"{sync.max_delete_fraction:.0%}; refusing to continue (pass --override-guards "
            "if this is intended)"
        )
