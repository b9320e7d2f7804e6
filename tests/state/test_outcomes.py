from __future__ import annotations

import pytest

from bcsync.state import RowOutcomeRecord, RunStore


def test_outcomes_checkpointed_in_batches(store: RunStore) -> None:
    run_id = store.start_run("vip_customers")
    other = store.start_run("vip_customers")
    first = [
        RowOutcomeRecord(str(i), "succeeded", "create", dest_id=str(100 + i)) for i in range(5)
    ]
    second = [
        RowOutcomeRecord("5", "rejected", "update", "422: email already in use"),
        RowOutcomeRecord("6", "invalid", None, "duplicate primary key"),
        RowOutcomeRecord("7", "skipped", "update", "no matching customer"),
        RowOutcomeRecord("8", "rejected", "delete", "404: not found"),
    ]
    store.add_outcomes(run_id, first)
    store.add_outcomes(run_id, second)
    store.add_outcomes(run_id, [])
    store.add_outcomes(other, [RowOutcomeRecord("x", "rejected", "create", "boom")])

    assert store.outcomes(run_id) == first + second
    assert store.outcomes(run_id, kinds=["rejected"]) == [second[0], second[3]]
    assert store.outcomes(run_id, kinds=["rejected"], limit=1) == [second[0]]
    assert store.outcomes(run_id, kinds=["invalid", "skipped"]) == second[1:3]
    assert store.outcomes("no-such-run") == []


def test_outcome_json_matches_the_run_json_rows(store: RunStore) -> None:
    run_id = store.start_run("s")
    store.add_outcomes(
        run_id,
        [
            RowOutcomeRecord("42", "rejected", "create", "422: phone too long"),
            RowOutcomeRecord("43", "invalid", None, "null primary key"),
        ],
    )
    rejected = [o.to_json() for o in store.outcomes(run_id, kinds=["rejected"], limit=100)]
    invalid = [o.to_json() for o in store.outcomes(run_id, kinds=["invalid"], limit=100)]
    assert rejected == [{"pk": "42", "op": "create", "error": "422: phone too long"}]
    assert invalid == [{"pk": "43", "reason": "null primary key"}]


def test_unknown_outcome_names_the_row(store: RunStore) -> None:
    run_id = store.start_run("s")
    with pytest.raises(ValueError, match="row '9': outcome 'failed'"):
        store.add_outcomes(
            run_id, [RowOutcomeRecord("1", "succeeded"), RowOutcomeRecord("9", "failed")]
        )
    assert store.outcomes(run_id) == []  # nothing of a bad batch is written


def test_a_large_batch_round_trips(store: RunStore) -> None:
    run_id = store.start_run("s")
    batch = [
        RowOutcomeRecord(f"pk-{i}", "succeeded", "update", dest_id=str(i)) for i in range(5000)
    ]
    store.add_outcomes(run_id, batch)
    assert store.outcomes(run_id) == batch


def test_pruning_forgets_the_rows_of_old_runs_and_keeps_the_runs(store: RunStore) -> None:
    import time
    from datetime import UTC, datetime

    old = store.start_run("vip_customers")
    store.add_outcomes(old, [RowOutcomeRecord("1", "rejected", "create", "email taken")])
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    recent = store.start_run("vip_customers")
    store.add_outcomes(recent, [RowOutcomeRecord("2", "invalid", None, "phone too long")])

    assert store.prune_row_outcomes(cutoff) == 1
    assert store.outcomes(old) == []
    assert [o.pk for o in store.outcomes(recent)] == ["2"]
    assert store.get_run(old) is not None  # the run and its counters stay
    assert store.prune_row_outcomes(cutoff) == 0
