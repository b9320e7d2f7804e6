"""A seeded random driver over the address list mapping: rows change, leave and come back,
the customer adds (and bcsync's addresses lose) addresses in the storefront, and writes fail
after the store applied them. After every clean run the store must equal the model: each live
customer holds exactly the model's addresses plus the storefront's, no duplicates, and the
storefront's untouched. ``BCSYNC_SEED`` replays a seed."""

from __future__ import annotations

import json
import os
import random
from typing import Any

import pytest

from tests.fixtures.projects import SyncProject
from tests.sync.test_address_sync import LISTED, addresses_of, customer_id

FIELDS = ("first_name", "last_name", "address1", "city", "state_or_province", "postal_code")
STREETS = ("1 Main St", "2 Elm St", "3 Oak Ave", "4 Pine Rd")
CITIES = ("Austin", "Dallas", "Waco", "Zürich ñ")


def content(address: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(address.get(f) or "") for f in (*FIELDS, "country_code"))


def random_address(rng: random.Random) -> dict[str, Any]:
    return {
        "first_name": rng.choice(("Ann", "Bob")),
        "last_name": "Lee",
        "address1": rng.choice(STREETS),
        "city": rng.choice(CITIES),
        "state_or_province": "Texas",
        "postal_code": "78701",
        "country_code": "US",
    }


def random_set(rng: random.Random) -> list[dict[str, Any]]:
    size = rng.choice((0, 1, 1, 2, 3, 11, 12))
    out: list[dict[str, Any]] = []
    for _ in range(size * 3):
        if len(out) >= size:
            break
        candidate = random_address(rng)
        if size > 4:
            candidate["postal_code"] = f"{rng.randrange(10000, 99999)}"
        if content(candidate) not in {content(a) for a in out}:
            out.append(candidate)
    return out


FAULTS = (
    {"status": 500, "apply": True},
    {"status": 503},
    {"drop_after_apply": True},
    {"status": 429},
)


SEEDS = [int(os.environ["BCSYNC_SEED"])] if os.environ.get("BCSYNC_SEED") else [1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_address_runs_keep_the_store_equal_to_the_model(
    sync_project: SyncProject, emulator: Any, seed: int
) -> None:
    print(f"seed={seed}")
    rng = random.Random(seed)
    on_delete = rng.choice(("clear", "nothing"))
    sync_project.configure(LISTED.replace("on_delete: clear", f"on_delete: {on_delete}"))
    keys = range(1, 6)
    model: dict[int, list[dict[str, Any]]] = {k: random_set(rng) for k in keys}
    live = set(keys)
    ever: set[int] = set()
    storefront: dict[int, dict[str, Any]] = {}  # address id -> content, by customer email below
    owner: dict[int, str] = {}
    # Customers one of whose bcsync addresses was deleted behind its back: an unchanged pinned
    # address is not read again, so it may stay missing (never duplicated or extra).
    robbed: set[str] = set()
    # Customers whose row left under on_delete: nothing: bcsync released their addresses, which
    # stay (as the customer's own) when the row comes back.
    released: set[str] = set()

    pk_of = {k: k for k in keys}  # a row's key changes now and then (same email)

    def load() -> None:
        rows = [
            {
                "customer_key": pk_of[k],
                "email": f"user{k}@example.com",
                "first_name": f"First{k}",
                "last_name": f"Last{k}",
                "addrs": json.dumps(model[k]),
            }
            for k in sorted(live)
        ]
        if not rows:
            live.add(1)
            return load()
        sync_project.load("customers", rows)

    def check(step: int) -> None:
        held = addresses_of(emulator)
        for address_id, body in storefront.items():
            found = {a["id"]: a for a in held.get(owner[address_id], [])}
            assert address_id in found, (seed, step, "storefront address lost", address_id)
            assert content(found[address_id]) == content(body), (seed, step, address_id)
        for k in ever:
            email = f"user{k}@example.com"
            got = [content(a) for a in held.get(email, [])]
            assert len(got) == len(set(got)), (seed, step, "duplicate", email, got)
            own = {content(b) for i, b in storefront.items() if owner[i] == email}
            if k in live:
                want = {content(a) for a in model[k]} | own
            elif on_delete == "clear":
                want = own
            else:
                continue
            if email in released and email in robbed:
                continue
            if email in released and k in live:
                assert want - own <= set(got), (seed, step, email, sorted(want - set(got)))
            elif email in robbed:
                assert set(got) <= want, (seed, step, email, sorted(set(got) - want))
                assert own <= set(got), (seed, step, email)
            else:
                assert set(got) == want, (seed, step, email, sorted(set(got) ^ want))

    for step in range(14):
        # The model changes.
        for k in keys:
            roll = rng.random()
            if roll < 0.15 and k in live:
                live.discard(k)
                if on_delete == "nothing":
                    released.add(f"user{k}@example.com")
            elif roll < 0.3 and k not in live:
                live.add(k)
            elif roll < 0.55:
                model[k] = random_set(rng)
            elif roll < 0.7 and model[k]:
                rng.shuffle(model[k])
            elif roll < 0.8 and k in live:
                pk_of[k] = k + 100 if pk_of[k] == k else k
                print(step, "key change", k, pk_of[k])
        # Behind bcsync's back.
        held = addresses_of(emulator)
        for k in ever:
            email = f"user{k}@example.com"
            if email not in held:
                continue
            roll = rng.random()
            if roll < 0.2:
                body = random_address(rng)
                body["customer_id"] = customer_id(emulator, email)
                answer = emulator.client().post("/v3/customers/addresses", json=[body])
                assert answer.status_code == 200, answer.text
                print(step, "storefront adds", email, content(body), answer.json()["data"])
                for made in answer.json()["data"]:
                    storefront[int(made["id"])] = made
                    owner[int(made["id"])] = email
            elif roll < 0.3:
                ours = [a for a in held[email] if a["id"] not in storefront]
                if ours:
                    victim = rng.choice(ours)
                    gone = emulator.client().delete(
                        "/v3/customers/addresses", params={"id:in": str(victim["id"])}
                    )
                    assert gone.status_code in (200, 204), gone.text
                    robbed.add(email)
                    print(step, "storefront deletes", email, victim["id"])
        load()
        ever |= live
        print(step, "live", sorted(live), {k: [content(a)[2:4] for a in model[k]] for k in live})
        if rng.random() < 0.4:
            method = rng.choice(("POST", "PUT", "DELETE"))
            rule = {"method": method, "path": "/v3/customers/addresses", "times": 1}
            rule.update(rng.choice(FAULTS))
            print(step, "fault", rule)
            emulator.faults([rule])
            sync_project.run("customers", override_guards=True)
            emulator.clear_faults()
        ran = sync_project.run("customers", override_guards=True)
        print(step, ran.status, ran.counts, ran.rejected_rows)
        if ran.status != "success":
            for email, listed in addresses_of(emulator).items():
                print(email, [(a["id"], a["id"] in storefront, content(a)) for a in listed])
        assert ran.status == "success", (seed, step, ran.error, ran.rejected_rows)
        check(step)
