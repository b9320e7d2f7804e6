"""Rows with a null or a duplicated primary key, in the warehouse for one run only.

DESIGN §3.1: a row with a null key is invalid and never sent; a duplicated key makes *every* row
with it invalid, the row that already holds a record included (that record stays as it is: the
key did not leave the model). The driver adds such rows to the table it loads for a round; they
are not part of :class:`~tests.chaos.model.Model`, so the next round's table no longer has them.
Each is a copy of a model row (same identity: the same e-mail or order) under a *ghost* lineage
tag, so a record that shows a ghost tag was written by a row that must never have been sent. The
partner of a duplicated key must not lose its record meanwhile: the oracle's deletion checks see
to that, as its row never left the model. (A row whose key changed this round is no partner: its
record may move from the old key to the new one only if the new one is valid, DESIGN §3.8, and
the oracle does not know the partner is invalid for one run.)
"""

from __future__ import annotations

import random
from typing import Any

from tests.chaos.kinds import Kind, Store, tag
from tests.chaos.model import Model
from tests.chaos.oracle import Oracle

GHOST = 900_000  # ghost lineage numbers start here; model lineages stay far below


class BadKeys:
    def __init__(self, kind: Kind, model: Model, rng: random.Random) -> None:
        self.kind = kind
        self.model = model
        self.rng = rng
        self.ghosts: set[int] = set()
        self.expected_invalid = 0  # rows of this round's extras the run must count invalid

    def rows(self, round_no: int) -> tuple[list[dict[str, Any]], list[str]]:
        """This round's extra rows, and a few words on each for the history."""
        extras: list[dict[str, Any]] = []
        said: list[str] = []
        self.expected_invalid = 0
        for what in self.rng.sample(["dup", "null"], self.rng.randint(1, 2)):
            present = [
                lin for lin in self.model.present() if what == "null" or round_no not in lin.leaves
            ]
            if not present:
                continue
            partner = self.rng.choice(present)
            ghost = GHOST + len(self.ghosts) + 1
            self.ghosts.add(ghost)
            values = dict(partner.values)
            values["note" if self.kind.sync == "order_updates" else "first_name"] = tag(ghost, 0)
            if what == "null":
                values[self.kind.pk] = None
                said.append(f"NULL KEY copy of {self.model.pk(partner)} (L{ghost})")
                self.expected_invalid += 1
            else:
                said.append(f"DUP KEY {self.model.pk(partner)} (L{ghost})")
                self.expected_invalid += 2  # the copy and its partner
            extras.append(values)
        return extras, said

    def check(self, oracle: Oracle, store: Store) -> None:
        """No record was ever written by a row with a null or duplicated key."""
        for record in store.all.values():
            owner = self.kind.owner(record)
            if owner in self.ghosts:
                oracle.flag(
                    f"record #{record['id']} holds the values of ghost L{owner}, a row with a "
                    "null or duplicated key: such rows are invalid and never sent",
                    once=f"ghost:{record['id']}",
                )

    def check_counts(self, oracle: Oracle, counts: Any) -> None:
        """A finished run counted the round's bad-key rows invalid."""
        if self.expected_invalid and counts["invalid"] < self.expected_invalid:
            oracle.flag(
                f"the run counts {counts['invalid']} invalid rows; the null/duplicated keys "
                f"alone make {self.expected_invalid}"
            )
