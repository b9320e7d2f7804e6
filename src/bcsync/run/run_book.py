"""A run's record in the run store, from its start to the result the caller gets.

Starting a run records it (status ``querying``), opens the debugger's recorder of its API calls
and the tally of its counts, and prunes what the retention settings say is old. Closing it records
the final status, counts and error (before the sync's lock is let go, so no other run starts
while this one still shows as running); ``result`` reads it back as the ``RunResult``.

``redact`` masks every secret of the project (and the destination's token the run uses) in the
texts the run records: its error here, its rows' errors at each checkpoint, its API calls in the
debugger. Error messages quote values, and a value may hold a secret.
"""

from __future__ import annotations

import datetime as dt

from bcsync.alerts.redaction import Redactor, project_secrets
from bcsync.config.project import ProjectConfig
from bcsync.errors import NotQueuedError
from bcsync.run.checkpoint import RunTally
from bcsync.run.debugger import CallRecorder, prune
from bcsync.run.results import RunResult
from bcsync.state import RunStore
from bcsync.vocabulary import RunStatus


class RunBook:
    """One run of ``sync`` in ``store``; ``tally`` counts it as it goes."""

    def __init__(
        self,
        config: ProjectConfig,
        store: RunStore,
        sync: str,
        *,
        full_resync: bool,
        trigger: str,
        secret: str,
        queued_run: str | None = None,
    ) -> None:
        self.store, self.sync = store, sync
        if queued_run is None:
            self.run_id = store.start_run(sync, full_resync=full_resync, trigger=trigger)
        elif store.begin_queued_run(queued_run):
            self.run_id = queued_run
        else:
            raise NotQueuedError(f"run {queued_run} of {sync!r} is not queued any more")
        self.redact = Redactor.of([*project_secrets(config), secret])
        self._recorder = CallRecorder(
            store, self.run_id, redact=self.redact, max_body_bytes=config.debugger.max_body_bytes
        )
        recorder = self._recorder if config.debugger.enabled else None
        self.tally = RunTally(recorder=recorder, redact=self.redact)
        prune(store, config.debugger.retention_days)
        store.prune_row_outcomes(
            dt.datetime.now(dt.UTC) - dt.timedelta(days=config.state.retention_days)
        )

    def close(self, status: RunStatus, error: str | None) -> None:
        """Record the end of the run."""
        self._recorder.close()
        tally = self.tally
        self.store.finish_run(
            self.run_id,
            status,
            counts=tally.counts,
            api_calls=tally.api_calls,
            error=self._masked(error),
            sent=tally.sent,
        )

    def result(self, status: RunStatus, error: str | None) -> RunResult:
        """The run as the caller sees it, with the times the run store recorded."""
        record = self.store.get_run(self.run_id)
        tally = self.tally
        return RunResult(
            run_id=self.run_id,
            sync=self.sync,
            status=status,
            started_at=record.started_at.isoformat() if record else "",
            finished_at=record.finished_at.isoformat() if record and record.finished_at else None,
            error=self._masked(error),
            counts=tally.counts,
            api_calls=tally.api_calls,
            rejected_rows=tally.rejected,
            invalid_rows=tally.invalid,
        )

    def _masked(self, error: str | None) -> str | None:
        return None if error is None else self.redact(error)
