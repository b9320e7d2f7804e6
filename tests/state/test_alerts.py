from __future__ import annotations

import pytest

from bcsync.state import RunStore


def test_alert_state_transitions_are_remembered(store: RunStore) -> None:
    assert store.get_alert_state("vip", "run_failed") is None
    first = store.set_alert_state(
        "vip", "run_failed", "critical", dedup_key="bcsync/vip/f", run_id="r1"
    )
    got = store.get_alert_state("vip", "run_failed")
    assert got == first
    assert (got.state, got.dedup_key, got.last_run_id) == ("critical", "bcsync/vip/f", "r1")

    later = store.set_alert_state("vip", "run_failed", "ok", dedup_key="bcsync/vip/f", run_id="r2")
    got = store.get_alert_state("vip", "run_failed")
    assert (got.state, got.last_run_id) == ("ok", "r2")
    assert got.updated_at == later.updated_at >= first.updated_at

    store.set_alert_state("vip", "reject_share", "warning", run_id="r2")
    store.set_alert_state("orders", "run_failed", "ok")
    assert store.get_alert_state("vip", "reject_share").state == "warning"  # type: ignore[union-attr]
    assert store.get_alert_state("orders", "run_failed").state == "ok"  # type: ignore[union-attr]
    assert store.get_alert_state("orders", "reject_share") is None


def test_unknown_alert_state_is_refused(store: RunStore) -> None:
    with pytest.raises(ValueError, match="'red' is not one of"):
        store.set_alert_state("vip", "run_failed", "red")
