"""One bcsync run of a chaos round, in one of three styles, with its faults installed.

- ``engine``: in this process through the engine (bcsync's requests also go through the strict
  OpenAPI contract checker of the ``sync_project`` fixture);
- ``cli``: ``bcsync run SYNC --json`` in a subprocess, to the end;
- ``kill``: ``bcsync run SYNC`` in a subprocess against a slowed store, SIGKILLed after a number
  of requests seen in the emulator's stats, or after a delay (possibly before its first request),
  or by itself at a step of the warehouse planner (:mod:`tests.chaos.killpoint`).

A record "created outside bcsync during the run" is made once the emulator has seen a given
number of the run's requests (or right after the run if it ends first).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.chaos import killpoint
from tests.chaos.faults import Fault


@dataclass(frozen=True)
class Kill:
    after_requests: int | None  # SIGKILL once the store saw this many requests, or …
    after_seconds: float | None  # … after this long
    latency_ms: int  # every request is slowed down so the run is still going
    at_step: str | None = None  # … or at this step of the warehouse planner (killpoint.STEPS)

    def describe(self) -> str:
        if self.at_step is not None:
            return f"kill@{self.at_step}/{self.latency_ms}ms"
        when = (
            f"{self.after_requests}req"
            if self.after_requests is not None
            else f"{self.after_seconds:.1f}s"
        )
        return f"kill@{when}/{self.latency_ms}ms"


@dataclass
class RunOutcome:
    status: str  # a run status, "killed", or "error"
    error: str | None = None
    result: Any = None  # the engine's RunResult (engine style)
    requests: int = 0  # requests the emulator saw during the run
    calls: dict[str, int] = field(default_factory=dict)  # requests by endpoint
    hits: dict[str, int] = field(default_factory=dict)  # fault rules that fired, by kind


class Admin:
    """The emulator admin calls the runner needs (stats, faults), from any thread."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator/{path}", timeout=10, **kw)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "stats")
        return result

    def total(self) -> int:
        return int(self.stats()["requests_total"])

    def add_faults(self, rules: list[dict[str, Any]]) -> None:
        self._call("POST", "faults", json={"rules": rules})

    def rules(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "faults")["rules"]
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def supports_apply(self) -> bool:
        """Whether the emulator's fault rules take ``"apply": true`` (a rule that never fires)."""
        probe = {"method": "GET", "path": "/v2/time", "status": 500, "apply": True, "times": 0}
        try:
            self.add_faults([probe])
        except httpx.HTTPStatusError:
            return False
        finally:
            self.clear_faults()
        return True


class Runner:
    def __init__(self, project: Any, sync: str, admin: Admin) -> None:
        self.project = project
        self.sync = sync
        self.admin = admin

    def run(
        self,
        style: str,
        faults: list[Fault],
        kill: Kill | None = None,
        during: tuple[int, Callable[[], str]] | None = None,
        notes: list[str] | None = None,
    ) -> RunOutcome:
        """Install ``faults``, run, then report what fired and clear every rule. What the
        ``during`` action did is appended to ``notes``."""
        notes = [] if notes is None else notes
        rules = [f.rule for f in faults]
        if kill is not None:
            rules.append({"path": "*", "latency_ms": kill.latency_ms, "times": 1_000_000})
        if rules:
            self.admin.add_faults(rules)
        before = self.admin.stats()
        try:
            if style == "engine":
                outcome = self._engine(before["requests_total"], during, notes)
            elif style == "cli":
                outcome = self._cli()
                if during is not None:
                    notes.append(during[1]() + " (after the run)")
            else:
                assert kill is not None
                outcome = self._killed(kill, before["requests_total"], during, notes)
        finally:
            left = self.admin.rules()
            self.admin.clear_faults()
        outcome.hits = _hits(faults, left[: len(faults)])
        after = self.admin.stats()
        outcome.requests = after["requests_total"] - before["requests_total"]
        outcome.calls = _calls(before, after)
        return outcome

    # -- styles ------------------------------------------------------------------------------------
    def _engine(
        self, start: int, during: tuple[int, Callable[[], str]] | None, notes: list[str]
    ) -> RunOutcome:
        done = threading.Event()
        helper = None
        if during is not None:
            helper = threading.Thread(target=self._when, args=(start, during, done, notes))
            helper.start()
        try:
            result = self.project.run(self.sync)
        except Exception as exc:  # the engine must never raise for a failed run
            return RunOutcome("error", error=f"engine raised {type(exc).__name__}: {exc}")
        finally:
            done.set()
            if helper is not None:
                helper.join(timeout=30)
        return RunOutcome(result.status, error=result.error, result=result)

    def _when(
        self,
        start: int,
        during: tuple[int, Callable[[], str]],
        done: threading.Event,
        notes: list[str],
    ) -> None:
        threshold, action = during
        while not done.is_set() and self.admin.total() - start < threshold:
            time.sleep(0.01)
        late = done.is_set()
        notes.append(action() + (" (after the run)" if late else ""))

    def _cli(self) -> RunOutcome:
        completed = self.project.cli("run", self.sync, "--json", timeout=180)
        try:
            doc = json.loads(completed.stdout)
        except ValueError:
            tail = (completed.stdout + completed.stderr)[-400:]
            return RunOutcome("error", error=f"exit {completed.returncode}, no JSON: {tail}")
        return RunOutcome(doc["status"], error=doc.get("error"))

    def _killed(
        self,
        kill: Kill,
        start: int,
        during: tuple[int, Callable[[], str]] | None,
        notes: list[str],
    ) -> RunOutcome:
        if kill.at_step is not None:
            process = self.project.popen("run", self.sync, entry=killpoint.entry(kill.at_step))
        else:
            process = self.project.popen("run", self.sync)
        began = time.monotonic()
        status = "killed"
        while process.poll() is None:
            seen = self.admin.total() - start
            if during is not None and seen >= during[0]:
                notes.append(during[1]())
                during = None
            elapsed = time.monotonic() - began
            due = (kill.after_requests is not None and seen >= kill.after_requests) or (
                kill.after_seconds is not None and elapsed >= kill.after_seconds
            )
            if due or elapsed > 90:
                process.send_signal(signal.SIGKILL)
                status = "killed" if due else "hung"
                break
            time.sleep(0.01)
        else:
            stepped = kill.at_step is not None and process.returncode == -signal.SIGKILL
            status = "killed" if stepped else f"finished (exit {process.returncode})"
        process.wait(timeout=30)
        if during is not None:
            notes.append(during[1]() + " (after the run)")
        if kill.at_step is not None and process.returncode not in (0, -signal.SIGKILL):
            return RunOutcome(status, error=self._log_tail())  # e.g. the step is gone
        return RunOutcome(status)

    def _log_tail(self) -> str:
        """The end of a background run's output (``SyncProject.popen``), for a failed run."""
        try:
            text: str = (self.project.dir / "popen.log").read_text()
        except OSError:
            return ""
        return text[-400:]


def _hits(faults: list[Fault], left: list[dict[str, Any]]) -> dict[str, int]:
    hits: dict[str, int] = {}
    for fault, rule in zip(faults, left, strict=False):
        fired = int(fault.rule.get("times") or 0) - int(rule.get("times") or 0)
        if fired > 0:
            hits[fault.kind] = hits.get(fault.kind, 0) + fired
    return hits


def _calls(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    out = {}
    for key, count in after["by_endpoint"].items():
        delta = count - before["by_endpoint"].get(key, 0)
        if delta:
            out[key] = delta
    return out
