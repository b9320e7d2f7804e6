"""``bcsync check``: everything a run needs, tested without sending a write.

The run store first (connect, migrations, rights: ``bcsync.state.check``), then per sync its
configuration, the model's columns, the warehouse planner's rights and key type (for
``planner: warehouse``), the store's credentials (one read) and the mapping against
what the store defines. Each report is headed by its sync, so its lines do not repeat the name.
"""

from __future__ import annotations

from bcsync.config.project import ProjectConfig, SyncConfig
from bcsync.destinations.bigcommerce.objects import object_for
from bcsync.destinations.bigcommerce.session import StoreSession
from bcsync.errors import BcsyncError
from bcsync.run.preflight import located, missing_columns, model_types
from bcsync.run.results import CheckReport
from bcsync.state.check import store_problems


def check_store(config: ProjectConfig) -> CheckReport:
    """The run store's report (``sync`` None), each problem located at ``state.url``."""
    found = store_problems(config.state_url)
    return CheckReport(None, tuple(str(config.error(("state", "url"), p)) for p in found))


async def check_sync(config: ProjectConfig, sync: SyncConfig, session: StoreSession) -> CheckReport:
    """One sync's report: static problems, missing columns, access, and the mapping."""
    # Here, not at the top: the engine imports this module, and a run needs no rights probe.
    from bcsync.run.planner.warehouse.rights import planner_problems

    async with session:
        obj = object_for(sync, session.client)
        problems = located(config, sync, obj.static_problems(), named=False)
        try:
            column_types = model_types(config, sync)
            problems += located(config, sync, missing_columns(sync, column_types), named=False)
            problems += located(config, sync, planner_problems(config, sync), named=False)
            await session.probe(obj.probe_path)
            prepared = await obj.prepare(column_types, dry_run=True)
            problems += located(config, sync, prepared, named=False)
        except BcsyncError as exc:
            # Warehouse errors start with the sync's name, for messages outside a report.
            problems.append(str(exc).removeprefix(f"sync '{sync.name}': "))
    return CheckReport(sync.name, tuple(problems))
