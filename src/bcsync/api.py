"""The Python API: ``bcsync.load_project(path).run("vip_customers")``, the one the CLI uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bcsync.engine import Engine
from bcsync.events import Observer
from bcsync.project import ProjectConfig
from bcsync.results import CheckReport, PlanResult, RunResult


class Project:
    """The Python API: ``bcsync.load_project(path).run("vip_customers")``."""

    def __init__(self, config: ProjectConfig, observers: Sequence[Observer] = ()) -> None:
        self.config = config
        self.engine = Engine(config, observers=observers)

    def check(self, names: Sequence[str] | None = None) -> list[CheckReport]:
        return self.engine.check(names)

    def plan(self, name: str) -> PlanResult:
        return self.engine.plan(name)

    def run(
        self, name: str, *, full_resync: bool = False, override_guards: bool = False
    ) -> RunResult:
        return self.engine.run(name, full_resync=full_resync, override_guards=override_guards)


def load_project(path: Path | str | None = None, observers: Sequence[Observer] = ()) -> Project:
    from bcsync.project import load_config

    return Project(load_config(path), observers)
