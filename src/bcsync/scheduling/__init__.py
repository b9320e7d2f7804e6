"""Syncs that run themselves: which ticks are due (``ticks``), what a busy sync does with one
(``overlap``), when an ``after:`` chain fires (``chains``), and the ``Scheduler`` that claims
them in the run store, exactly once across processes, and hands the runs to an executor."""

from bcsync.scheduling.scheduler import Fired, Scheduler, utc_now

__all__ = ["Fired", "Scheduler", "utc_now"]
