"""The invariants, judged from the emulator's dump (what a user would see in the store).

After every round (:meth:`Oracle.after_round`):
- no two live customers share an e-mail (case-insensitively), no two live orders an
  ``external_order_id``;
- a foreign record (made outside bcsync) is unchanged unless a row of an update/upsert sync
  matched it (its e-mail or id) in some round so far;
- a record disappears (customer deleted, order archived) only with ``on_delete: delete``, never a
  foreign one no row matched, never one whose row is still in the model and resolves to it (or
  never left it since the record appeared) — unless the driver deleted it itself.

After the final clean runs (:meth:`Oracle.final`): every valid model row has exactly one record
with its values (insert mode: the values of one of its versions, since insert sends no changes),
or a reason it cannot (its e-mail belongs to a record it may not take; update mode: nothing to
match) and then the last run reports it; rows with invalid values are reported invalid; records
of rows that left the model are deleted/cleared/left as ``on_delete`` says; no stray copies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tests.chaos.kinds import Kind, OrderKind, Scenario, Store, fold
from tests.chaos.model import Lineage, Model
from tests.chaos.world import World

REPORTED = ("rejected", "invalid", "skipped")


@dataclass(frozen=True)
class Violation:
    round: str
    text: str

    def __str__(self) -> str:
        return f"[{self.round}] {self.text}"


class Oracle:
    def __init__(self, scenario: Scenario, kind: Kind, model: Model, world: World) -> None:
        self.scenario = scenario
        self.kind = kind
        self.model = model
        self.world = world
        self.violations: list[Violation] = []
        self.checked = 0  # records and rows judged, summed over the rounds
        self._said: set[str] = set()
        self._round = "?"
        self.kept_by_reset: set[int] = set()  # records a state reset leaves alone for good

    def at(self, label: str) -> None:
        """Name the round the next violations belong to."""
        self._round = label

    def flag(self, text: str, *, once: str | None = None) -> None:
        if once is not None:
            if once in self._said:
                return
            self._said.add(once)
        self.violations.append(Violation(self._round, text))

    # == after every round ========================================================================
    def after_round(self, label: str, round_no: int, store: Store) -> None:
        self.at(label)
        self.checked += len(store.all)
        self._claims(round_no, store)
        self._duplicates(store)
        self._disappeared(round_no, store)
        self._foreign_untouched(store)
        for record_id, record in store.live.items():
            self.world.first_seen.setdefault(record_id, round_no)
            self.world.last_live[record_id] = (round_no, record)

    def _claims(self, round_no: int, store: Store) -> None:
        """A foreign record becomes fair game once a row of an adopting sync matches it."""
        if not self.scenario.adopts:
            return
        for foreign in self.world.foreign.values():
            if foreign.claimable_from is not None:
                continue
            sightings = [
                store.all.get(foreign.id),
                self.world.last_live.get(foreign.id, (0, None))[1],
            ]
            for record in filter(None, sightings):
                if any(self._resolves(lin, record) for lin in self.model.valid()):
                    foreign.claimable_from = round_no

    def _resolves(self, lin: Lineage, record: dict[str, Any]) -> bool:
        return self.kind.resolves(self.scenario, lin.values, record)

    def _duplicates(self, store: Store) -> None:
        seen: dict[str, int] = {}
        for record in store.live.values():
            if self.scenario.kind == "customers":
                key = fold(record["email"])
            else:
                key = record.get("external_order_id") or ""
            if not key:
                continue
            if key in seen:
                self.flag(
                    f"duplicate {key!r}: live records #{seen[key]} and #{record['id']}",
                    once=f"dup:{key}:{record['id']}",
                )
            seen[key] = record["id"]

    def _disappeared(self, round_no: int, store: Store) -> None:
        for record_id in [i for i in self.world.last_live if i not in store.live]:
            _, record = self.world.last_live.pop(record_id)
            if record_id not in self.world.outside_deleted:
                self._judge_deletion(round_no, record)

    def _judge_deletion(self, round_no: int, record: dict[str, Any]) -> None:
        record_id = record["id"]
        what = f"record #{record_id} ({self.label(record)}) was deleted"
        foreign = self.world.foreign.get(record_id)
        if self.scenario.on_delete != "delete":
            self.flag(f"{what} though on_delete is {self.scenario.on_delete}")
            return
        if foreign is not None and foreign.claimable_from is None:
            self.flag(f"{what}: a record made outside bcsync that no row ever matched")
            return
        owner = self.model.lineages.get(self.kind.owner(record) or 0)
        first = self.world.first_seen.get(record_id, round_no)
        if owner is not None and owner.present and not owner.left_between(first + 1, round_no):
            self.flag(f"{what} while its row {self.model.pk(owner)} is in the model and never left")
            return
        holders = [
            lin
            for lin in self.model.valid()
            if self._resolves(lin, record) and (owner is None or lin is owner)
        ]
        if holders:
            self.flag(
                f"{what} while row {self.model.pk(holders[0])}, which holds it, is in the model"
            )

    def _foreign_untouched(self, store: Store) -> None:
        for foreign in self.world.foreign.values():
            record = store.all.get(foreign.id)
            if record is None or foreign.claimable_from is not None:
                continue
            now = self.kind.observed(record, store)
            if now != foreign.original:
                self.flag(
                    f"foreign record #{foreign.id} ({foreign.label}) was changed though no row "
                    f"matched it: {foreign.original} → {now}",
                    once=f"foreign:{foreign.id}",
                )

    def label(self, record: dict[str, Any]) -> str:
        owner = self.kind.owner(record)
        if record["id"] in self.world.foreign:
            return "foreign " + self.world.foreign[record["id"]].label
        if owner is None:
            return "untagged"
        lin = self.model.lineages.get(owner)
        return f"L{owner}" + (f"/{self.model.pk(lin)}" if lin else "")

    # == after the final clean runs ===============================================================
    def final(self, store: Store, outcomes: dict[str, str]) -> None:
        self.at("final")
        self.checked += len(self.model.present()) + len(store.all)  # judged once more, in full
        if self.scenario.kind == "customers":
            CustomerJudge(self, store, outcomes).judge()
        elif self.scenario.kind == "orders":
            OrderJudge(self, store, outcomes).judge()
        else:
            OrderUpdateJudge(self, store, outcomes).judge()


class _Judge:
    def __init__(self, oracle: Oracle, store: Store, outcomes: dict[str, str]) -> None:
        self.o = oracle
        self.kind = oracle.kind
        self.model = oracle.model
        self.scenario = oracle.scenario
        self.store = store
        self.outcomes = outcomes
        self.landed: dict[int, int] = {}  # lineage → record id
        self.holder: dict[int, Lineage] = {}  # record id → lineage

    def observed(self, record: dict[str, Any]) -> tuple[Any, ...]:
        return self.kind.observed(record, self.store)

    def accepted(self, lin: Lineage) -> set[tuple[Any, ...]]:
        """The values a row's record may show: the current ones; insert sends no changes, so
        there any valid version of the row."""
        if self.scenario.mode != "insert":
            return {self.kind.expected(lin.values)}
        return {self.kind.expected(v) for v in lin.versions if self.kind.problem(v) is None}

    def mismatch(self, record: dict[str, Any], lin: Lineage) -> str:
        """What differs between the record and the nearest values the row may give it."""
        seen = self.observed(record)
        nearest = max(
            self.accepted(lin) or {self.kind.expected(lin.values)},
            key=lambda want: sum(a == b for a, b in zip(seen, want, strict=True)),
        )
        diffs = [f"{a!r}≠{b!r}" for a, b in zip(seen, nearest, strict=True) if a != b]
        return f"store has {', '.join(diffs) or 'the same'} (vs model)"

    def check_invalid(self) -> None:
        """Rows with an invalid value are reported invalid — except in insert mode once the row
        has its record: insert sends a row no change, so it has nothing to validate."""
        for lin in self.model.present():
            problem = self.kind.problem(lin.values)
            if problem is None:
                continue
            if self.scenario.mode == "insert" and any(
                self.kind.owner(r) == lin.number for r in self.store.live.values()
            ):
                continue
            pk = self.model.pk(lin)
            if self.outcomes.get(pk) != "invalid":
                self.o.flag(
                    f"row {pk} has an invalid {problem} but the last run does not report it "
                    f"invalid (outcome: {self.outcomes.get(pk)})"
                )

    def rivals(self, lin: Lineage, records: list[dict[str, Any] | None]) -> list[Lineage]:
        """Other rows that resolve to the same record: only one of them can hold it."""
        return [
            other
            for other in self.model.valid()
            if other is not lin
            and any(r and self.kind.resolves(self.scenario, other.values, r) for r in records)
        ]

    def land(self, lin: Lineage, record: dict[str, Any]) -> None:
        self.landed[lin.number] = record["id"]
        self.holder[record["id"]] = lin
        pk = self.model.pk(lin)
        if self.outcomes.get(pk) == "rejected":
            self.o.flag(
                f"row {pk} (L{lin.number}): its values are in #{record['id']}, yet the run "
                "rejects it (and every run will retry it)"
            )

    def require_report(self, lin: Lineage, why: str) -> None:
        pk = self.model.pk(lin)
        if self.outcomes.get(pk) not in REPORTED:
            self.o.flag(
                f"row {pk} (L{lin.number}) is not in the store ({why}) but the last run does not "
                f"report it rejected/skipped (outcome: {self.outcomes.get(pk)})"
            )

    def leftover(self, record: dict[str, Any], lin: Lineage) -> None:
        """A record left behind by a row that left the model: per on_delete."""
        if lin.forgotten or record["id"] in self.o.kept_by_reset:
            return
        what = f"record #{record['id']} of L{lin.number} (row left the model)"
        if self.scenario.on_delete == "delete":
            self.o.flag(f"{what} was not deleted: {self.observed(record)}")
        elif self.scenario.on_delete == "clear" and not self.kind.cleared(record, self.store):
            self.o.flag(f"{what} was not cleared: {self.observed(record)}")

    def foreign_changed(self, record: dict[str, Any]) -> bool | None:
        """None: not foreign. False: foreign and untouched. True: foreign, changed, matched."""
        foreign = self.o.world.foreign.get(record["id"])
        if foreign is None:
            return None
        if self.observed(record) == foreign.original:
            return False
        if foreign.claimable_from is None:
            self.o.flag(
                f"foreign #{record['id']} changed though no row matched it",
                once=f"foreign:{record['id']}",
            )
        return True


class CustomerJudge(_Judge):
    def judge(self) -> None:
        self.check_invalid()
        live = self.store.live
        self.by_email = {fold(r["email"]): r for r in live.values()}
        self.own: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for record in live.values():
            if (owner := self.kind.owner(record)) is not None:
                self.own[owner].append(record)
        valid = self.model.valid()
        for lin in valid:
            accepted = self.accepted(lin)
            mine = [r for r in self.own[lin.number] if self.observed(r) in accepted]
            if len(mine) > 1 and (self.scenario.mode != "insert" or not lin.leaves):
                ids = [r["id"] for r in mine]
                self.o.flag(f"row {self.model.pk(lin)} has {len(mine)} records {ids}")
            if mine:
                self.land(lin, mine[0])
        for lin in self.model.present():  # a row whose values did not land (or are invalid
            if lin.number not in self.landed:  # now) keeps what it holds
                for record in self.own[lin.number]:
                    self.holder.setdefault(record["id"], lin)
        for lin in valid:
            if lin.number not in self.landed:
                self.unlanded(lin)
        for record in live.values():
            if record["id"] not in self.holder:
                self.unheld(record)
        self.count_records()

    def unlanded(self, lin: Lineage) -> None:
        values = lin.values
        pk = self.model.pk(lin)
        taken = self.by_email.get(fold(values["email"]))
        mode, match = self.scenario.mode, self.scenario.match
        own_other = [r for r in self.own[lin.number] if taken is None or r["id"] != taken["id"]]
        by_id = self.store.live.get(values["bc_id"]) if values["bc_id"] is not None else None
        if rivals := self.rivals(lin, [taken, by_id]):
            return self.require_report(lin, f"shares its record with {self.model.pk(rivals[0])}")
        if taken is not None:
            holder = self.holder.get(taken["id"])
            if self.kind.owner(taken) == lin.number:
                return self.o.flag(
                    f"row {pk} (L{lin.number}): the record #{taken['id']} it wrote earlier has "
                    f"its e-mail but not its values: {self.mismatch(taken, lin)}"
                )
            if holder is not None and holder is not lin:
                return self.require_report(
                    lin, f"#{taken['id']} with its e-mail is held by {self.model.pk(holder)}"
                )
            if mode == "insert":
                return self.require_report(lin, f"e-mail taken by #{taken['id']}")
            if match == "id" and values["bc_id"] != taken["id"]:
                return self.require_report(lin, f"e-mail taken by #{taken['id']}")
            if match == "email" and own_other:
                return self.require_report(lin, f"pinned to #{own_other[0]['id']}, e-mail taken")
            return self.o.flag(
                f"row {pk} (L{lin.number}) should have matched and updated #{taken['id']} "
                f"({self.o.label(taken)}): {self.mismatch(taken, lin)}"
            )
        if by_id is not None and self.holder.get(by_id["id"], lin) is not lin:
            return self.require_report(lin, f"#{by_id['id']} is held by another row")
        if mode == "update" and match == "id":
            if by_id is not None:
                self.o.flag(f"row {pk} (L{lin.number}): #{by_id['id']} (its id) was not updated")
            return None
        if mode == "update":
            if own_other and not lin.leaves:
                self.o.flag(
                    f"row {pk} (L{lin.number}): its record #{own_other[0]['id']} keeps old values "
                    f"{self.observed(own_other[0])}; the row has {self.kind.expected(values)}"
                )
            return None
        stale = f"; its records: {[self.observed(r) for r in own_other]}" if own_other else ""
        return self.o.flag(f"row {pk} (L{lin.number}) has no customer in the store{stale}")

    def unheld(self, record: dict[str, Any]) -> None:
        changed = self.foreign_changed(record)
        owner = self.kind.owner(record)
        if changed is False or (changed and owner is None):
            return
        if owner is None or owner not in self.model.lineages:
            self.o.flag(f"customer #{record['id']} was made by no row and not by the driver")
            return
        lin = self.model.lineages[owner]
        if lin.present and self.kind.problem(lin.values) is None:
            if lin.number in self.landed and not lin.leaves:
                self.o.flag(
                    f"customer #{record['id']} is a stray copy of row {self.model.pk(lin)}, "
                    f"which holds #{self.landed[lin.number]}: {self.observed(record)}"
                )
                return
            if lin.number not in self.landed and not lin.leaves:
                return  # judged with its row
        elif lin.present:
            return  # a row whose values turned invalid keeps its record
        self.leftover(record, lin)

    def count_records(self) -> None:
        if self.scenario.on_delete == "delete":
            return  # leftovers are judged one by one
        for number, records in self.own.items():
            lin = self.model.lineages.get(number)
            if lin is None or lin.forgotten:
                continue
            allowed = int(lin.present) + len(lin.leaves)
            if len(records) > allowed:
                self.o.flag(
                    f"L{number} has {len(records)} customers {[r['id'] for r in records]}; "
                    f"at most {allowed} expected (left the model {len(lin.leaves)}×)"
                )


class OrderJudge(_Judge):
    def judge(self) -> None:
        self.check_invalid()
        prefix = OrderKind.prefix
        by_ext: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in self.store.live.values():
            by_ext[record.get("external_order_id") or ""].append(record)
        for lin in self.model.present():
            orders = by_ext.get(prefix + self.model.pk(lin), [])
            if self.kind.problem(lin.values) is not None:
                continue
            if not orders:
                self.o.flag(f"row {self.model.pk(lin)} (L{lin.number}) has no live order")
            elif self.observed(orders[0]) in self.accepted(lin):
                self.land(lin, orders[0])
            else:
                self.o.flag(
                    f"order #{orders[0]['id']} of row {self.model.pk(lin)} holds none of the "
                    f"row's values: {self.mismatch(orders[0], lin)}"
                )
        owners = {
            str(v[self.kind.pk]): lin for lin in self.model.lineages.values() for v in lin.versions
        }
        for record in self.store.live.values():
            external = record.get("external_order_id") or ""
            if not external.startswith(prefix):
                if self.foreign_changed(record) is None:
                    self.o.flag(f"order #{record['id']} ({external}) was made by no row")
                continue
            lin = owners.get(external[len(prefix) :])
            if lin is None:
                self.o.flag(f"order #{record['id']} has {external!r}, a key no row ever had")
            elif not (lin.present and self.model.pk(lin) == external[len(prefix) :]):
                self.leftover(record, lin)


class OrderUpdateJudge(_Judge):
    def judge(self) -> None:
        self.check_invalid()
        live = self.store.live
        valid = self.model.valid()
        for lin in valid:
            record = live.get(lin.values["order_id"])
            if record is not None and self.observed(record) == self.kind.expected(lin.values):
                self.land(lin, record)
        for lin in self.model.present():  # a row whose values did not land keeps its order
            record = live.get(lin.values["order_id"])
            if record is not None and self.kind.owner(record) == lin.number:
                self.holder.setdefault(record["id"], lin)
        for lin in valid:
            record = live.get(lin.values["order_id"])
            if lin.number in self.landed or record is None:
                continue  # landed, or no such order: skipped
            if self.holder.get(record["id"], lin) is not lin or self.rivals(lin, [record]):
                self.require_report(lin, f"order #{record['id']} is held by another row")
            else:
                self.o.flag(
                    f"row {self.model.pk(lin)} (L{lin.number}): order #{record['id']} does not "
                    f"hold its values: {self.mismatch(record, lin)}"
                )
        for record in live.values():
            if record["id"] not in self.holder:
                self.unheld(record)

    def unheld(self, record: dict[str, Any]) -> None:
        if self.foreign_changed(record) is False:
            return
        lin = self.model.lineages.get(self.kind.owner(record) or 0)
        if lin is None:
            if self.kind.cleared(record, self.store) and self.scenario.on_delete != "clear":
                self.o.flag(
                    f"order #{record['id']} was cleared though on_delete is "
                    f"{self.scenario.on_delete}"
                )
            return
        if lin.present and (
            self.kind.problem(lin.values) is not None or lin.values["order_id"] == record["id"]
        ):
            return  # an invalid row keeps its order; a row that still points here: judged above
        self.leftover(record, lin)
