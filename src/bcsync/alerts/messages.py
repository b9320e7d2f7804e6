"""What an alert says: which sync and run, the status, the counts, the first errors, and the
commands that open the run in the debugger. Every text is redacted before it leaves this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bcsync.alerts.redaction import Redactor
from bcsync.alerts.triggers import Level, Transition
from bcsync.run.results import RunResult
from bcsync.vocabulary import COUNT_KEYS

FIRST_ERRORS = 5
_ERROR_WIDTH = 200
_SMS_ERROR_WIDTH = 120
_LABELS = {"run_failed": "run failed", "rejected_rows": "rejected rows", "test": "test message"}


@dataclass(frozen=True)
class AlertMessage:
    """One alert, ready for any channel: a title, a full text, a short text (SMS) and details."""

    sync: str
    trigger: str
    level: Level
    previous: Level
    dedup_key: str
    run_id: str | None
    title: str  # one line: "[CRITICAL] bcsync vip_customers: run failed"
    text: str  # the full message (Slack, email)
    short: str  # at most a few hundred characters (SMS)
    details: Mapping[str, Any] = field(default_factory=dict)  # PagerDuty custom_details

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @property
    def recovered(self) -> bool:
        return self.level == "ok"


def debug_commands(run_id: str) -> tuple[str, str]:
    """The commands that open a run: its API calls, and its rejected and invalid rows."""
    return f"bcsync debug {run_id}", f"bcsync show {run_id} --rows"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def first_errors(result: RunResult, redact: Redactor, limit: int = FIRST_ERRORS) -> list[str]:
    """One line per rejected row, then per invalid row, at most ``limit`` lines, each redacted
    before it is clipped (a clipped secret would no longer be recognised)."""
    lines = [
        f"pk {row.get('pk')} ({row.get('op') or 'op?'}): {row.get('error') or 'rejected'}"
        for row in result.rejected_rows[:limit]
    ]
    lines += [
        f"pk {row.get('pk')}: invalid: {row.get('reason') or 'no reason given'}"
        for row in result.invalid_rows[: max(limit - len(lines), 0)]
    ]
    return [_clip(redact(line), _ERROR_WIDTH) for line in lines]


def _counts_line(result: RunResult) -> str:
    return ", ".join(f"{key} {int(result.counts.get(key, 0))}" for key in COUNT_KEYS)


def _title(transition: Transition) -> str:
    label = _LABELS.get(transition.trigger, transition.trigger)
    if transition.recovered:
        return f"[RESOLVED] bcsync {transition.sync}: {label} is back to ok"
    return f"[{transition.current.upper()}] bcsync {transition.sync}: {label}"


def compose(transition: Transition, result: RunResult, redact: Redactor) -> AlertMessage:
    """The message for one trigger's change of level in the run ``result``."""
    title = _title(transition)
    debug, rows = debug_commands(result.run_id)
    errors = first_errors(result, redact)
    error = redact(result.error) if result.error else None
    bad = int(result.counts.get("rejected", 0)) + int(result.counts.get("invalid", 0))
    lines = [
        title,
        f"Sync: {result.sync}",
        f"Run: {result.run_id} (status {result.status}, started {result.started_at}, "
        f"finished {result.finished_at or '-'})",
        f"Alert: {transition.trigger} {transition.previous} -> {transition.current}",
        f"Why: {transition.detail}",
    ]
    if error:
        lines.append(f"Error: {_clip(error, 500)}")
    lines.append(f"Counts: {_counts_line(result)}")
    if errors:
        lines.append(f"First errors ({len(errors)} of {bad}):")
        lines += [f"  - {line}" for line in errors]
    lines += [f"Debug: {debug}", f"Rows: {rows}"]
    short = (
        f"{title}. Run {result.run_id} {result.status}"
        + (f": {_clip(error, _SMS_ERROR_WIDTH)}" if error else "")
        + f". Rejected {result.counts.get('rejected', 0)}, invalid "
        f"{result.counts.get('invalid', 0)} of {result.counts.get('planned', 0)} planned. {debug}"
    )
    details = {
        "sync": result.sync,
        "run_id": result.run_id,
        "status": result.status,
        "trigger": transition.trigger,
        "state": transition.current,
        "previous_state": transition.previous,
        "why": redact(transition.detail),
        "error": error,
        "counts": {key: int(result.counts.get(key, 0)) for key in COUNT_KEYS},
        "first_errors": errors,
        "debug": debug,
        "rows": rows,
    }
    return AlertMessage(
        sync=result.sync,
        trigger=transition.trigger,
        level=transition.current,
        previous=transition.previous,
        dedup_key=transition.dedup_key,
        run_id=result.run_id,
        title=redact(title),
        text=redact("\n".join(lines)),
        short=redact(short),
        details=details,
    )


def channel_test_message(channel: str) -> AlertMessage:
    """A harmless message that proves a channel delivers (``bcsync alerts test CHANNEL``).

    Its level is ``warning`` so that PagerDuty opens a low-urgency alert; it carries its own
    dedup key so that it never touches a real incident.
    """
    title = f"[TEST] bcsync alert channel '{channel}' works"
    text = (
        f"{title}\nThis is a test message sent by `bcsync alerts test {channel}`. "
        "Nothing is wrong with any sync."
    )
    return AlertMessage(
        sync="-",
        trigger="test",
        level="warning",
        previous="ok",
        dedup_key=f"bcsync:test:{channel}",
        run_id=None,
        title=title,
        text=text,
        short=f"{title}. Nothing is wrong with any sync.",
        details={"test": True, "channel": channel},
    )
