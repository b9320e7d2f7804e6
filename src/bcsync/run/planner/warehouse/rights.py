"""What ``bcsync check`` tests for a sync with ``planner: warehouse``: that the warehouse role
can do in the planner's schema what a run will do there, and that the model's key has a type the
planner supports (``hash_sql.check_key_type``).

The rights are tried with the planner's own statements (``statements``) inside one transaction
that is then rolled back, so a check leaves nothing behind: create the schema if it is missing,
create, write and read a table in it, and read and write the tokens table and the sync's table
when they exist. A right the role lacks comes back as the warehouse session's error, which for
PostgreSQL names the object and gives the GRANT statements that fix it
(``bcsync.warehouse.postgres_writes.permission_error``).
"""

from __future__ import annotations

import uuid

from bcsync.config.project import ProjectConfig, SyncConfig
from bcsync.destinations.base import Problem
from bcsync.errors import ConfigError, WarehouseError
from bcsync.run.planner.warehouse.hash_sql import check_key_type
from bcsync.run.planner.warehouse.statements import TOKENS
from bcsync.run.planner.warehouse.tables import PlannerTables
from bcsync.warehouse.base import model_select
from bcsync.warehouse.session import WarehouseSession, open_session

__all__ = ["planner_problems"]

_WHERE = ("planner",)


class _RolledBack(Exception):
    """Raised to end the probing transaction: everything it did is undone."""


def planner_problems(config: ProjectConfig, sync: SyncConfig) -> list[Problem]:
    """The sync's problems with ``planner: warehouse`` (none for another planner)."""
    if config.planner_for(sync.name) != "warehouse":
        return []
    schema = config.planner_schema
    try:
        session = open_session(config.resolve_url(config.warehouse.url), config.project_dir)
    except WarehouseError as exc:
        return [Problem(f"planner: warehouse cannot plan in this warehouse: {exc}", _WHERE)]
    problems: list[Problem] = []
    try:
        key = _key_problem(session, sync)
        if key is not None:
            problems.append(key)
        try:
            probe_rights(PlannerTables(session, schema, sync.name))
        except WarehouseError as exc:
            problems.append(
                Problem(f"planner: warehouse cannot use schema {schema!r}: {exc}", _WHERE)
            )
    finally:
        session.close()
    return problems


def _key_problem(session: WarehouseSession, sync: SyncConfig) -> Problem | None:
    """The key's type as the planner's diff reads it (its session's stream)."""
    empty = model_select(sync.model, sync=sync.name, dialect=session.dialect, limit=0)
    try:
        schema = session.stream(empty).read_all().schema
    except WarehouseError:
        return None  # the model's own problem, reported by the model check
    key = sync.model.primary_key
    if key not in schema.names:
        return None  # reported as a missing column
    try:
        check_key_type(key, schema.field(key).type)
    except ConfigError as exc:
        return Problem(str(exc), ("model", "primary_key"))
    return None


def probe_rights(tables: PlannerTables) -> None:
    """Do, and undo, what a run does in the planner's schema; raise ``WarehouseError`` for the
    first thing the role may not do."""
    session, sql = tables.session, tables.statements
    probe = f"bcsync_check_{uuid.uuid4().hex[:12]}"
    try:
        with tables.named_in_full(), session.transaction():
            if not tables.schema_exists():
                session.execute(sql.create_schema())
            if tables.exists(TOKENS):
                session.query(sql.read_token())
                session.execute(sql.delete_token())
            else:
                session.execute(sql.create_tokens())
            session.execute(sql.insert_token(probe))
            if not tables.exists():
                session.execute(sql.create_table())
            session.query(sql.count_table())
            session.execute(sql.create_staging(probe))
            session.execute(sql.dirty_staged(probe))
            session.execute(sql.delete_staged(probe))
            session.execute(sql.insert_staged(probe))
            raise _RolledBack
    except _RolledBack:
        pass
