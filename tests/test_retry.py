"""The one retry policy: which errors get another try and how long to wait before it."""

from __future__ import annotations

import random

import pytest

from bcsync.alerts.delivery import DEFAULT_RETRY, DeliveryError
from bcsync.errors import (
    AmbiguousWriteError,
    AuthError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    TransportError,
    is_retriable,
)
from bcsync.retry import RetryPolicy


def test_waits_double_from_the_backoff_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=9, backoff=0.5, cap=3.0)
    assert [policy.wait(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jittered_waits_fall_between_half_and_all_of_the_backoff() -> None:
    policy = RetryPolicy(attempts=9, backoff=0.5, cap=30.0, jitter=random.Random(7))
    same = random.Random(7)
    for n in range(1, 9):
        ceiling = min(30.0, 0.5 * 2 ** (n - 1))
        wait = policy.wait(n)
        assert ceiling / 2 <= wait <= ceiling
        assert wait == same.uniform(ceiling / 2, ceiling)


def test_only_retriable_errors_are_tried_again_and_never_past_the_last_attempt() -> None:
    policy = RetryPolicy(attempts=3, backoff=1.0)
    assert policy.delay(TransportError("reset"), 1) == 1.0
    assert policy.delay(TransportError("reset"), 2) == 2.0
    assert policy.delay(TransportError("reset"), 3) is None
    assert policy.delay(AuthError("401"), 1) is None
    assert policy.delay(RequestRejectedError("422"), 1) is None
    assert policy.delay(ValueError("a bug"), 1) is None


def test_a_rate_limit_is_retried_at_once_because_the_governor_waits() -> None:
    assert RetryPolicy(attempts=2, backoff=5.0).delay(RateLimitedError("429"), 1) == 0.0


def test_an_error_can_refuse_a_retry_its_kind_would_get() -> None:
    lost = AmbiguousWriteError("the answer was lost")
    assert not is_retriable(lost)  # a create may have happened: settle it, never re-send
    lost.retriable = True  # an update lands once however often it is sent
    assert is_retriable(lost)
    never = ServerError("501", status=501)
    never.retriable = False
    assert not is_retriable(never)


@pytest.mark.parametrize("retriable", [True, False])
def test_alert_delivery_waits_half_a_second_then_one_without_jitter(retriable: bool) -> None:
    error = DeliveryError("slack answered HTTP 503", retriable=retriable)
    delays = [DEFAULT_RETRY.delay(error, n) for n in (1, 2, 3)]
    assert delays == ([0.5, 1.0, None] if retriable else [None, None, None])
