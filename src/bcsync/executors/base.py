"""The executor interface: how a queued run gets started."""

from __future__ import annotations

from typing import Protocol


class Executor(Protocol):
    """Starts queued runs. ``submit`` returns at once; the run is begun (``queued`` →
    ``querying``) by whoever executes it, through ``Project.run(sync, queued_run=run_id)``."""

    def submit(self, sync: str, run_id: str, *, trigger: str) -> None:
        """Have the queued run ``run_id`` of ``sync`` executed (now, or when a worker is free)."""
        ...

    def close(self) -> None:
        """Stop taking runs; runs already started finish or die with the process."""
        ...
