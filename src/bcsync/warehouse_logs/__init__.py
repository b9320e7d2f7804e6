"""Warehouse sync logs: each run of a sync written back to the warehouse, for SQL analysis.

With ``warehouse_logs: true`` (``bcsync.config.warehouse_logs``), the engine calls
:func:`~bcsync.warehouse_logs.writer.log_after_run` once a run is recorded: the run goes to
``<schema>.sync_runs`` and its row operations to ``<schema>.sync_changelog`` (``tables``, built
from the run store by ``entries``), exactly once per run (``writer``). See docs/warehouse-logs.md.
"""

from __future__ import annotations

from bcsync.warehouse_logs.writer import LogWrite, log_after_run, write_logs

__all__ = ["LogWrite", "log_after_run", "write_logs"]
