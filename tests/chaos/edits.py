"""Random edits to the warehouse model, and the foreign records the driver plans, from the seed.

Each edit changes :class:`~tests.chaos.model.Model` and returns a few words for the round's
history (``"email K3 u3@example.com→U9@example.com"``). Edits that need the store (deleting a
record outside bcsync, referencing an existing customer or order) read the last round's dump.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tests.chaos.kinds import Kind, Scenario, fold
from tests.chaos.model import Lineage, Model
from tests.chaos.world import ForeignPlan, World

MIN_ROWS = 4
MAX_ROWS = 18
BOGUS_ID = 990_000


def recase(rng: random.Random, email: str) -> str:
    """The same e-mail in another letter case."""
    for _ in range(8):
        out = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in email)
        if out != email:
            return out
    return email.upper()


class Editor:
    def __init__(
        self, scenario: Scenario, kind: Kind, model: Model, world: World, rng: random.Random
    ) -> None:
        self.scenario = scenario
        self.kind = kind
        self.model = model
        self.world = world
        self.rng = rng
        self._next_email = 1
        self._ahead = 0  # foreign customers take e-mails rows will have: u<next>, u<next+1>, …
        self._next_foreign = 1
        self._next_bogus = BOGUS_ID
        self.begin_round()

    # -- one random edit ---------------------------------------------------------------------------
    def edit(self, round_no: int) -> str:
        menu = self._menu()
        for _ in range(20):
            action = self.rng.choices([a for a, _ in menu], [w for _, w in menu])[0]
            done = action(round_no)
            if done:
                return done
        return "no-op"

    def _menu(self) -> list[tuple[Callable[[int], str | None], float]]:
        menu: list[tuple[Callable[[int], str | None], float]] = [
            (self.insert, 3),
            (self.delete, 2),
            (self.update, 3),
            (self.rekey, 1.5),
            (self.come_back, 1.5),
            (self.spoil, 0.6),
        ]
        if self.scenario.kind == "customers":
            menu += [(self.change_email, 2.5), (self.case_duplicate, 1)]
            if self.scenario.mode == "upsert":
                menu.append((self.delete_outside, 0.6))
        if self.scenario.kind == "order_updates":
            menu += [(self.share_order, 1), (self.delete_outside, 0.6)]
        return menu

    def _pick(self, lineages: list[Lineage]) -> Lineage | None:
        return self.rng.choice(lineages) if lineages else None

    # -- edits -------------------------------------------------------------------------------------
    def insert(self, round_no: int) -> str | None:
        if len(self.model.present()) >= MAX_ROWS:
            return None
        lineage = self.model.new_lineage()
        values = self.kind.fresh(self.rng, lineage, self.model.new_key())
        values.update(self._identity())
        lin = self.model.add(lineage, values)
        self.renamed.add(lineage)
        return f"add {self._describe(lin)}"

    def delete(self, round_no: int) -> str | None:
        lin = self._pick(self.model.present())
        if lin is None or len(self.model.present()) <= MIN_ROWS:
            return None
        self.model.remove(lin, round_no)
        return f"del {self.model.pk(lin)}"

    def update(self, round_no: int) -> str | None:
        lin = self._pick(self.model.present())
        if lin is None:
            return None
        self.model.set(lin, self.kind.mutate(self.rng, lin.values), bump=self.rng.random() < 0.7)
        return f"upd {self.model.pk(lin)}"

    def rekey(self, round_no: int) -> str | None:
        lin = self._pick(self.model.present())
        if lin is None:
            return None
        old, new = self.model.rekey(lin, round_no)
        return f"rekey {old}→{new}"

    def come_back(self, round_no: int) -> str | None:
        lin = self._pick(self.model.absent())
        if lin is None or len(self.model.present()) >= MAX_ROWS:
            return None
        values, changed = dict(lin.values), self.rng.random() < 0.4
        if changed:
            values = self.kind.mutate(self.rng, values)
            if self.scenario.kind == "customers" and self.rng.random() < 0.3:
                values["email"] = self._fresh_email()
                self.renamed.add(lin.number)
        self.model.restore(lin, values, bump=changed)
        return f"back {self._describe(lin)}{' changed' if changed else ''}"

    def spoil(self, round_no: int) -> str | None:
        lin = self._pick(self.model.present())
        if lin is None:
            return None
        values, what = self.kind.spoil(self.rng, lin.values)
        self.model.set(lin, values)
        return f"spoil {self.model.pk(lin)} {what}"

    def change_email(self, round_no: int) -> str | None:
        lin = self._pick(self.model.present())
        if lin is None:
            return None
        old = lin.values["email"]
        roll = self.rng.random()
        if roll < 0.15 and old:
            new = recase(self.rng, old)
        elif roll < 0.3:
            other = self._pick([x for x in self.model.present() if x is not lin])
            new = recase(self.rng, other.values["email"] or "") if other else self._fresh_email()
        else:
            new = self._new_email()
            self.renamed.add(lin.number)
        self.model.set(lin, {**lin.values, "email": new}, bump=self.rng.random() < 0.5)
        return f"email {self.model.pk(lin)} {old}→{new}"

    def case_duplicate(self, round_no: int) -> str | None:
        source = self._pick([x for x in self.model.valid() if x.values["email"]])
        if source is None or len(self.model.present()) >= MAX_ROWS:
            return None
        lineage = self.model.new_lineage()
        values = self.kind.fresh(self.rng, lineage, self.model.new_key())
        values["email"] = recase(self.rng, source.values["email"])
        lin = self.model.add(lineage, values)
        return f"casedup {self._describe(lin)}~{self.model.pk(source)}"

    def share_order(self, round_no: int) -> str | None:
        """A second row for an order another row already updates (one holder only)."""
        source = self._pick(self.model.present())
        if source is None or len(self.model.present()) >= MAX_ROWS:
            return None
        lineage = self.model.new_lineage()
        values = self.kind.fresh(self.rng, lineage, self.model.new_key())
        values["order_id"] = source.values["order_id"]
        lin = self.model.add(lineage, values)
        return f"share {self._describe(lin)}~{self.model.pk(source)}"

    def delete_outside(self, round_no: int) -> str | None:
        """Delete (archive) a record a row holds, outside bcsync, and touch the row."""
        held = [(lin, rec) for lin in self.model.valid() if (rec := self._landed(lin))]
        if not held:
            return None
        lin, record = self.rng.choice(held)
        self.world.delete_outside(record["id"])
        self.model.set(lin, self.kind.mutate(self.rng, lin.values))
        return f"outside-del #{record['id']} of {self.model.pk(lin)}"

    def _landed(self, lin: Lineage) -> dict[str, Any] | None:
        want = self.kind.expected(lin.values)
        store = self.world.store
        return next((r for r in store.live.values() if self.kind.observed(r, store) == want), None)

    # -- identities --------------------------------------------------------------------------------
    def _identity(self) -> dict[str, Any]:
        if self.scenario.kind == "customers":
            return self._customer_identity()
        if self.scenario.kind == "order_updates":
            return {"order_id": self._order_reference()}
        return {}

    def _customer_identity(self) -> dict[str, Any]:
        if self.scenario.match != "id":
            return {"email": self._new_email(), "bc_id": None}
        update = self.scenario.mode == "update"
        free, used = self._references("bc_id", self._foreign_live())
        roll = self.rng.random()
        if roll < (0.75 if update else 0.4) and free:
            target = self.world.store.live[self.rng.choice(free)]
            same = self.rng.random() < 0.5
            return {
                "bc_id": target["id"],
                "email": target["email"] if same else self._fresh_email(),
            }
        if roll > 0.92 and used:  # a second row for a customer another row updates
            return {"bc_id": self.rng.choice(used), "email": self._fresh_email()}
        if roll > 0.8:
            return {"bc_id": self._bogus(), "email": self._new_email()}
        return {"bc_id": None, "email": self._new_email()}

    def _order_reference(self) -> int:
        free, used = self._references("order_id", list(self.world.store.live))
        roll = self.rng.random()
        if roll < 0.9 and free:
            return int(self.rng.choice(free))
        if roll > 0.95 and used:  # a second row for an order another row updates
            return int(self.rng.choice(used))
        return self._bogus()

    def _references(self, column: str, ids: list[int]) -> tuple[list[int], list[int]]:
        taken = {lin.values[column] for lin in self.model.present()}
        return sorted(i for i in ids if i not in taken), sorted(i for i in ids if i in taken)

    def _foreign_live(self) -> list[int]:
        return [i for i in self.world.foreign if i in self.world.store.live]

    def _bogus(self) -> int:
        self._next_bogus += 1
        return self._next_bogus

    def _fresh_email(self) -> str:
        email = f"u{self._next_email}@example.com"
        self._next_email += 1
        self._ahead = max(0, self._ahead - 1)
        return email

    def _new_email(self) -> str:
        """Mostly a fresh e-mail; sometimes one a record in the store already has."""
        in_use = {fold(lin.values["email"]) for lin in self.model.present()}
        taken = sorted(
            r["email"] for r in self.world.store.live.values() if fold(r["email"]) not in in_use
        )
        if taken and self.rng.random() < 0.2:
            email = self.rng.choice(taken)
            return recase(self.rng, email) if self.rng.random() < 0.3 else email
        return self._fresh_email()

    # -- foreign records ---------------------------------------------------------------------------
    def plan_foreign(self, before_run: bool) -> ForeignPlan:
        """A foreign record. A customer takes the e-mail of a row whose e-mail is new this round
        (only before the run: no create of bcsync's can be in flight for it, so the store can
        tell the two apart), an e-mail a row added later will have, or an unrelated one."""
        number = self._next_foreign
        self._next_foreign += 1
        if self.scenario.kind != "customers":
            return ForeignPlan(number)
        roll = self.rng.random()
        rows = [lin for lin in self.model.present() if lin.number in self.renamed]
        if roll < 0.4 and rows and before_run:
            email = self.rng.choice(rows).values["email"]
            email = recase(self.rng, email) if self.rng.random() < 0.5 else email
        elif roll < 0.7:  # an e-mail a row added later will have
            email = f"u{self._next_email + self._ahead}@example.com"
            self._ahead += 1
        else:
            email = f"other{number}@elsewhere.example"
        return ForeignPlan(number, email)

    def begin_round(self) -> None:
        self.renamed: set[int] = set()  # lineages whose e-mail was set this round

    def _describe(self, lin: Lineage) -> str:
        values = lin.values
        extra = values.get("email") or values.get("order_id") or ""
        if values.get("bc_id"):
            extra = f"{extra} id={values['bc_id']}"
        return f"{self.model.pk(lin)}(L{lin.number}) {extra}".rstrip()
