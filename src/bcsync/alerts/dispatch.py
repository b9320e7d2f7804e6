"""After a run: evaluate the sync's triggers, record their new states, send the messages.

:func:`notify_run` is what the engine (or the CLI) calls once a run has finished. It never raises:
alerting must not turn a finished sync into a failed one. A channel that cannot deliver is retried
a few times, logged, and reported in the returned :class:`Delivery` list.

States are recorded *before* sending, as the trigger's truth: a channel that is down when a sync
starts failing does not get the same alert replayed on every later run (that would be the noise
users complain about); the failure to deliver is in the log and in the deliveries instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

import httpx

from bcsync.alerts.delivery import DEFAULT_RETRY, Delivery, Outgoing, send_with_retries
from bcsync.alerts.messages import AlertMessage, channel_test_message, compose
from bcsync.alerts.redaction import Redactor, project_secrets, redacted_http_logs
from bcsync.alerts.triggers import LEVELS, TRIGGERS, Level, dedup_key, evaluate
from bcsync.config.alerts import (
    Channel,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    SmsChannel,
)
from bcsync.config.project import ProjectConfig
from bcsync.retry import RetryPolicy
from bcsync.run.results import RunResult
from bcsync.state import RunStore, call_log

LOG = logging.getLogger("bcsync.alerts")


def outgoing_for(
    channel: Channel, message: AlertMessage, http: httpx.Client, policy: RetryPolicy
) -> list[Outgoing]:
    """The independent sends that carry ``message`` through ``channel``. Each channel's module
    loads when a message goes through it: most runs send none, and email's needs smtplib."""
    if isinstance(channel, SlackChannel):
        from bcsync.alerts import slack

        return slack.outgoing(channel, message, http)
    if isinstance(channel, PagerDutyChannel):
        from bcsync.alerts import pagerduty

        return pagerduty.outgoing(channel, message, http)
    if isinstance(channel, SmsChannel):
        from bcsync.alerts import sms

        return sms.outgoing(channel, message, http)
    if isinstance(channel, EmailChannel):
        from bcsync.alerts import email

        return email.outgoing(channel, message, policy.timeout)
    raise TypeError(f"unknown channel type {type(channel).__name__}")


def send_message(
    name: str,
    channel: Channel,
    message: AlertMessage,
    *,
    http: httpx.Client,
    redact: Redactor,
    log: logging.Logger = LOG,
    policy: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    extra: Sequence[Outgoing] = (),
) -> Delivery:
    """Deliver ``message`` through the channel called ``name``, with retries; never raises.

    ``extra`` sends follow the channel's own ones (the CLI's PagerDuty test adds a resolve).

    Long because each channel's delivery and its redacted log are set up side by side.
    """
    delivered, attempts, error = True, 0, None
    try:
        sends = [*outgoing_for(channel, message, http, policy), *extra]
    except Exception as exc:
        sends, delivered, error = [], False, redact(f"{type(exc).__name__}: {exc}")
        log.error("alert to channel %r (%s) could not be prepared: %s", name, channel.type, error)
    for out in sends:

        def on_failure(attempt: int, reason: str, will_retry: bool, label: str = out.label) -> None:
            log.warning(
                "alert %s of sync %s to channel %r (%s, %s) failed, attempt %d of %d: %s%s",
                message.trigger,
                message.sync,
                name,
                channel.type,
                label,
                attempt,
                policy.attempts,
                reason,
                "; retrying" if will_retry else "",
            )

        ok, tries, reason = send_with_retries(out, policy, redact, on_failure, sleep)
        attempts = max(attempts, tries)
        if not ok:
            delivered, error = False, reason
    if delivered:
        log.info(
            "alert %s (%s) of sync %s sent to channel %r (%s)",
            message.trigger,
            message.level,
            message.sync,
            name,
            channel.type,
        )
    else:
        log.error(
            "alert %s (%s) of sync %s NOT delivered to channel %r (%s): %s",
            message.trigger,
            message.level,
            message.sync,
            name,
            channel.type,
            error,
        )
    return Delivery(name, channel.type, message.trigger, message.level, delivered, attempts, error)


def record_delivery(
    store: RunStore,
    message: AlertMessage,
    delivery: Delivery,
    *,
    redact: Redactor,
    log: logging.Logger = LOG,
) -> int | None:
    """Add ``delivery`` to the history of notifications (the UI's Alerts page); returns its id.
    Never raises: a history that cannot be written must not stop the alerts themselves."""
    try:
        return call_log.record_notification(
            store,
            sync=message.sync,
            trigger=message.trigger,
            state=delivery.state,
            channel=delivery.channel,
            kind=delivery.kind,
            delivered=delivery.delivered,
            attempts=delivery.attempts,
            error=delivery.error,
            run_id=message.run_id,
            title=message.title,
        )
    except Exception as exc:
        reason = redact(f"{type(exc).__name__}: {exc}")
        log.error("alert to channel %r not added to the history: %s", delivery.channel, reason)
        return None


def send_test(
    config: ProjectConfig,
    channel: str,
    *,
    store: RunStore | None = None,
    log: logging.Logger = LOG,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> tuple[Delivery, int | None]:
    """Send a clearly labelled test message through ``channel`` (a PagerDuty test is resolved at
    once, leaving no open incident); with ``store``, record it in the history. Returns the
    delivery and its history id. Raises ``KeyError`` for a channel bcsync.yml does not define."""
    channels = config.alerts.channels if config.alerts is not None else {}
    settings = channels[channel]
    redact = Redactor.of(project_secrets(config))
    message = channel_test_message(channel)
    with redacted_http_logs(redact), httpx.Client(timeout=policy.timeout) as http:
        extra: list[Outgoing] = []
        if isinstance(settings, PagerDutyChannel):
            from bcsync.alerts import pagerduty

            extra.append(pagerduty.resolve(settings, message, http))
        delivery = send_message(
            channel, settings, message, http=http, redact=redact, log=log, policy=policy,
            extra=extra,
        )  # fmt: skip
    recorded = (
        record_delivery(store, message, delivery, redact=redact, log=log)
        if store is not None
        else None
    )
    return delivery, recorded


def _previous_levels(store: RunStore, sync: str) -> dict[str, Level]:
    levels: dict[str, Level] = {}
    for trigger in TRIGGERS:
        record = store.get_alert_state(sync, trigger)
        if record is not None and record.state in LEVELS:
            levels[trigger] = record.state
    return levels


def _record_levels(
    store: RunStore, result: RunResult, levels: Mapping[str, Level], known: Mapping[str, Level]
) -> None:
    for trigger, level in levels.items():
        if known.get(trigger) != level:
            store.set_alert_state(
                result.sync,
                trigger,
                level,
                dedup_key=dedup_key(result.sync, trigger),
                run_id=result.run_id,
            )


def notify_run(
    config: ProjectConfig,
    store: RunStore,
    result: RunResult,
    *,
    log: logging.Logger = LOG,
    policy: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Alert on what changed with ``result``: one message per trigger whose state changed, to
    each of the sync's channels. Records the new states in ``store``. Never raises; returns one
    :class:`Delivery` per (changed trigger, channel), delivered or not."""
    if config.alerts is None:
        return []
    redact = Redactor.of(project_secrets(config))
    try:
        alert_policy = config.alert_policy(result.sync)
        known = _previous_levels(store, result.sync)
        evaluation = evaluate(result, alert_policy.rejected_rows, known)
        _record_levels(store, result, evaluation.levels, known)
    except Exception as exc:
        log.error(
            "alerts for run %s of sync %s skipped: %s",
            result.run_id,
            result.sync,
            redact(f"{type(exc).__name__}: {exc}"),
        )
        return []
    deliveries: list[Delivery] = []
    if not evaluation.transitions:
        return deliveries
    channels = config.alerts.channels
    try:
        with redacted_http_logs(redact), httpx.Client(timeout=policy.timeout) as http:
            for transition in evaluation.transitions:
                message = compose(transition, result, redact)
                for name in alert_policy.channels:
                    if name not in channels:  # the config check makes this unreachable
                        log.error("alert channel %r of sync %s is not defined", name, result.sync)
                        continue
                    delivery = send_message(
                        name,
                        channels[name],
                        message,
                        http=http,
                        redact=redact,
                        log=log,
                        policy=policy,
                        sleep=sleep,
                    )
                    deliveries.append(delivery)
                    record_delivery(store, message, delivery, redact=redact, log=log)
    except Exception as exc:  # a bug here must not fail a sync that has already finished
        log.error(
            "alerts for run %s of sync %s stopped: %s",
            result.run_id,
            result.sync,
            redact(f"{type(exc).__name__}: {exc}"),
        )
    return deliveries
