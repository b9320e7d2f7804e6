"""The trigger state machine: levels, transitions, threshold merging, recovery."""

from __future__ import annotations

import pytest

from bcsync.alerts.triggers import (
    REJECTED_ROWS,
    RUN_FAILED,
    dedup_key,
    evaluate,
    rejected_level,
    rejected_share,
)
from bcsync.config.alerts import (
    AlertDefaults,
    AlertsConfig,
    RejectedRowsThresholds,
    SyncAlertsConfig,
)
from tests.alerts.helpers import run_result

THRESHOLDS = RejectedRowsThresholds(warning=0.01, critical=0.10)


def changes(evaluation):
    return [(t.trigger, t.previous, t.current) for t in evaluation.transitions]


def test_a_first_good_run_sends_nothing() -> None:
    evaluation = evaluate(run_result("success"), THRESHOLDS, {})
    assert evaluation.transitions == ()
    assert evaluation.levels == {RUN_FAILED: "ok", REJECTED_ROWS: "ok"}


def test_a_first_failure_is_critical_once_then_quiet_then_recovers() -> None:
    failed = evaluate(run_result("failed"), THRESHOLDS, {})
    assert changes(failed) == [(RUN_FAILED, "ok", "critical")]
    assert failed.transitions[0].escalated and not failed.transitions[0].recovered

    again = evaluate(run_result("failed"), THRESHOLDS, failed.levels)
    assert again.transitions == ()

    recovered = evaluate(run_result("success"), THRESHOLDS, again.levels)
    assert changes(recovered) == [(RUN_FAILED, "critical", "ok")]
    assert recovered.transitions[0].recovered


def test_a_failed_run_leaves_the_rejected_rows_trigger_as_it_was() -> None:
    # A failed run's counts are partial (often all zero): they must not read as a recovery.
    evaluation = evaluate(run_result("failed", planned=0), THRESHOLDS, {REJECTED_ROWS: "critical"})
    assert evaluation.levels[REJECTED_ROWS] == "critical"
    assert changes(evaluation) == [(RUN_FAILED, "ok", "critical")]


@pytest.mark.parametrize("status", ["cancelled", "interrupted"])
def test_cancelled_or_interrupted_runs_change_nothing(status: str) -> None:
    previous = {RUN_FAILED: "critical", REJECTED_ROWS: "warning"}
    evaluation = evaluate(run_result(status), THRESHOLDS, previous)
    assert evaluation.transitions == ()
    assert evaluation.levels == previous


@pytest.mark.parametrize(
    ("rejected", "invalid", "expected"),
    [
        (0, 0, "ok"),
        (1, 0, "warning"),  # exactly at the warning threshold: 1 of 100
        (0, 5, "warning"),  # invalid rows count too
        (5, 4, "warning"),
        (6, 4, "critical"),  # exactly at critical: 10 of 100
        (50, 0, "critical"),
    ],
)
def test_rejected_share_against_thresholds(rejected: int, invalid: int, expected: str) -> None:
    result = run_result("warning" if rejected else "success", rejected=rejected, invalid=invalid)
    assert evaluate(result, THRESHOLDS, {}).levels[REJECTED_ROWS] == expected


def test_share_of_an_empty_plan_counts_invalid_rows_against_one() -> None:
    result = run_result("warning", planned=0, invalid=3)
    assert rejected_share(result) == 3.0
    assert rejected_level(rejected_share(result), THRESHOLDS) == "critical"


def test_unset_levels_never_fire() -> None:
    assert rejected_level(1.0, RejectedRowsThresholds()) == "ok"
    assert rejected_level(0.5, RejectedRowsThresholds(critical=0.9)) == "ok"
    assert rejected_level(0.5, RejectedRowsThresholds(warning=0.2)) == "warning"


def test_escalation_warning_to_critical_and_back_down() -> None:
    warn = evaluate(run_result("warning", rejected=2), THRESHOLDS, {})
    assert changes(warn) == [(REJECTED_ROWS, "ok", "warning")]
    crit = evaluate(run_result("warning", rejected=20), THRESHOLDS, warn.levels)
    assert changes(crit) == [(REJECTED_ROWS, "warning", "critical")]
    assert crit.transitions[0].escalated
    same = evaluate(run_result("warning", rejected=30), THRESHOLDS, crit.levels)
    assert same.transitions == ()
    down = evaluate(run_result("warning", rejected=3), THRESHOLDS, same.levels)
    assert changes(down) == [(REJECTED_ROWS, "critical", "warning")]
    assert not down.transitions[0].escalated and not down.transitions[0].recovered
    ok = evaluate(run_result("success"), THRESHOLDS, down.levels)
    assert changes(ok) == [(REJECTED_ROWS, "warning", "ok")]


def test_one_run_can_move_both_triggers() -> None:
    previous = {RUN_FAILED: "critical", REJECTED_ROWS: "ok"}
    evaluation = evaluate(run_result("warning", rejected=50), THRESHOLDS, previous)
    assert changes(evaluation) == [
        (RUN_FAILED, "critical", "ok"),
        (REJECTED_ROWS, "ok", "critical"),
    ]


def test_the_detail_says_why() -> None:
    evaluation = evaluate(run_result("warning", rejected=7, invalid=5), THRESHOLDS, {})
    (transition,) = evaluation.transitions
    assert transition.detail == (
        "7 rejected + 5 invalid of 100 planned rows (12.0%); warning at 1.0%, critical at 10.0%"
    )
    assert transition.run_id == evaluation.transitions[0].run_id
    assert transition.dedup_key == "bcsync:vip_customers:rejected_rows"


def test_dedup_key_is_stable_per_sync_and_trigger() -> None:
    assert dedup_key("vip", RUN_FAILED) == dedup_key("vip", RUN_FAILED) == "bcsync:vip:run_failed"
    assert dedup_key("vip", RUN_FAILED) != dedup_key("vip", REJECTED_ROWS)
    assert dedup_key("vip", RUN_FAILED) != dedup_key("other", RUN_FAILED)


def test_rejected_rows_is_critical_at_75_percent_unless_configured() -> None:
    bare = AlertsConfig(channels={}).policy_for(None).rejected_rows
    assert (bare.warning, bare.critical) == (None, 0.75)
    assert evaluate(run_result("warning", rejected=74), bare, {}).levels[REJECTED_ROWS] == "ok"
    assert evaluate(run_result("warning", rejected=75), bare, {}).levels[REJECTED_ROWS] == (
        "critical"
    )
    only_warning = AlertsConfig(
        channels={}, defaults=AlertDefaults(rejected_rows=RejectedRowsThresholds(warning=0.02))
    ).policy_for(None)
    assert (only_warning.rejected_rows.warning, only_warning.rejected_rows.critical) == (
        0.02,
        0.75,
    )


def test_sync_thresholds_merge_over_the_defaults() -> None:
    alerts = AlertsConfig(
        channels={},
        defaults=AlertDefaults(channels=[], rejected_rows=THRESHOLDS),
    )
    own = SyncAlertsConfig(rejected_rows=RejectedRowsThresholds(critical=0.05))
    merged = alerts.policy_for(own).rejected_rows
    assert (merged.warning, merged.critical) == (0.01, 0.05)
    # 6% is only a warning by the defaults, but critical for this sync.
    result = run_result("warning", rejected=6)
    assert evaluate(result, THRESHOLDS, {}).levels[REJECTED_ROWS] == "warning"
    assert evaluate(result, merged, {}).levels[REJECTED_ROWS] == "critical"
