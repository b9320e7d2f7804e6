"""Alerts (DESIGN §3.7): triggers as a pure state machine, one module per channel.

After each run, call :func:`bcsync.alerts.dispatch.notify_run`. ``bcsync alerts test CHANNEL``
lives in :mod:`bcsync.cli.alerts`.
"""

from __future__ import annotations

from bcsync.alerts.delivery import Delivery
from bcsync.alerts.dispatch import notify_run
from bcsync.retry import RetryPolicy

__all__ = ["Delivery", "RetryPolicy", "notify_run"]
