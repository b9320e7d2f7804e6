"""Hostile order fees and pickups: fee lists reordered, emptied and brought back while the
store applies order PUTs without answering; a pickup order created with a lost answer. The
store ends holding exactly the model's fees and lines, never twice."""

from __future__ import annotations

import json
import os
import random
from typing import Any

from tests.fixtures.projects import SyncProject
from tests.sync.test_order_fees_pickups import (
    BAG,
    INSERT,
    INSURANCE,
    MUG,
    POSTER,
    UPDATE,
    orders,
    row,
)
from tests.sync.test_order_fees_pickups import pickup as pickup_of

WRAP = {"display_name_merchant": "Wrap", "cost_ex_tax": 1, "cost_inc_tax": 1}
FEES = [BAG, INSURANCE, WRAP]
FAULTS = ({"status": 500, "apply": True}, {"drop_after_apply": True}, {"status": 502})


def fee_names(order: dict[str, Any]) -> list[str]:
    return [f["display_name_merchant"] or f["display_name_customer"] for f in order["fees"]]


def names(fees: list[dict[str, Any]]) -> list[str]:
    return [str(f.get("display_name_merchant") or f.get("display_name_customer")) for f in fees]


def test_random_fee_lists_under_lost_answers_end_as_the_model(
    sync_project: SyncProject, emulator: Any
) -> None:
    seed = int(os.environ.get("BCSYNC_SEED") or random.randrange(1_000_000))  # replayable
    print(f"seed={seed}")
    rng = random.Random(seed)
    sync_project.configure(INSERT + UPDATE)
    sync_project.load(
        "orders",
        [row("a", fees=json.dumps([BAG])), row("b", products=None, pickup=pickup_of(MUG))],
    )
    first = sync_project.run("orders")
    assert first.status == "success", (first.error, first.rejected_rows, first.invalid_rows)
    ids = {key: int(o["id"]) for key, o in orders(emulator).items()}
    for step in range(8):
        model = {}
        for order_id in ids.values():
            fees: list[dict[str, Any]] | None = rng.sample(FEES, rng.randrange(0, 4))
            if rng.random() < 0.2:
                fees = None
            model[order_id] = fees
        extras = [
            {
                "order_id": order_id,
                "fees": None if fees is None else json.dumps(fees),
                "pickup": pickup_of(rng.choice([MUG, POSTER]))
                if key == "b" and rng.random() < 0.5
                else None,
            }
            for key, order_id in ids.items()
            for fees in [model[order_id]]
        ]
        sync_project.load("extras", extras)
        if rng.random() < 0.6:
            rule = {"method": "PUT", "path": "/v2/orders/{id}", "times": 1, **rng.choice(FAULTS)}
            print(step, rule)
            emulator.faults([rule])
            sync_project.run("order_extras")
            emulator.clear_faults()
        ran = sync_project.run("order_extras")
        assert ran.status == "success", (seed, step, ran.error, ran.rejected_rows)
        held = {int(o["id"]): o for o in orders(emulator).values()}
        for order_id, fees in model.items():
            assert fee_names(held[order_id]) == names(fees or []), (seed, step, order_id)
        [b] = [o for o in held.values() if o["id"] == ids["b"]]
        assert len(b["products"]) == 1, (seed, step, b["products"])


def test_a_pickup_order_created_without_an_answer_is_found_not_doubled(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(INSERT)
    sync_project.load(
        "orders",
        [row("p", products=None, pickup=pickup_of(MUG, POSTER), fees=json.dumps([BAG, WRAP]))],
    )
    emulator.faults(
        [{"method": "POST", "path": "/v2/orders", "drop_after_apply": True, "times": 1}]
    )
    sync_project.run("orders")
    emulator.clear_faults()
    assert sync_project.run("orders").status == "success"
    [made] = orders(emulator).values()
    assert fee_names(made) == ["Gift bag", "Wrap"]
    assert sorted(line["name"] for line in made["products"]) == ["Mug", "Poster"]
