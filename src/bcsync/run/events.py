"""What the engine tells its observers (progress bar, alerts). No printing here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bcsync.vocabulary import Counts, RunStatus

if TYPE_CHECKING:
    from bcsync.run.results import RunResult


@dataclass(frozen=True)
class RunStarted:
    sync: str
    run_id: str


@dataclass(frozen=True)
class StatusChanged:
    sync: str
    run_id: str
    status: RunStatus  # querying | planning | syncing


@dataclass(frozen=True)
class Planned:
    sync: str
    run_id: str
    counts: Counts
    operations: int  # rows that will be written


@dataclass(frozen=True)
class Progress:
    sync: str
    run_id: str
    done: int  # rows with an outcome so far
    total: int
    api_calls: int


@dataclass(frozen=True)
class RunFinished:
    result: RunResult


Event = RunStarted | StatusChanged | Planned | Progress | RunFinished


class Observer(Protocol):
    def __call__(self, event: Event) -> None: ...
