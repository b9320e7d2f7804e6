"""A customer's addresses mapped from the model: ``/v3/customers/addresses`` (reference §4.6).

Two ways to map them (one per sync):

- flat columns ``address.<field>`` (``address.address1``, ``address.city``, …): the customer's
  ONE synced address. It is created with the customer (nested in the create) or on its first
  sync, updated in place afterwards, and deleted when every ``address.*`` column of the row is
  null. ``address.first_name`` / ``address.last_name`` default to the customer's own mapped
  first and last name (a default shipping address is addressed to the customer);
- one list column mapped to ``addresses`` (a JSON array of address objects, or a list of
  structs): the full set bcsync keeps; diffed against what bcsync last wrote, new ones are
  created, changed ones updated in place, and the ones that left deleted.

Ownership (DESIGN §3.8): the snapshot's landed target pins each address bcsync wrote with its
content hash and id (``address``: ``<hash>#<id>``; ``addresses``: ``<hash>#<h1>:<id1>,…``).
bcsync updates and deletes only pinned ids, never an address it finds by content: an address
the customer added in the storefront is never touched, and ``on_delete: clear`` removes only the
pinned ones. A pinned address that is gone (a PUT refused for its id, then missing from a read)
is released and created anew. A write that did not land keeps the pins of what exists under a
hash no payload has (``-``), so the next run writes it again without losing an id.

BigCommerce skips an address identical to one the customer has (200, the address missing from
``data``). A POST skipped so (its answer heard) made nothing: the address is confirmed but not
pinned, as it was there before. A POST whose answer was lost (a 5xx, a timeout, a dropped
connection) is settled by reading the customer's addresses and matching the content before
anything is re-sent (DESIGN §3.8: settle before re-sending), never with an address the customer
had before the POST (read first: insert never adopts). A PUT skipped because the customer
already has that address (one bcsync does not hold) retires bcsync's own; a PUT whose answer was
lost is pinned with what the store holds. Switching between the flat and the list form carries
the pins over. Writes go 10 addresses to a request
(BigCommerce's limit); the rate governor caps concurrent PUTs at 3 and POSTs at 10.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bcsync.destinations.base import Problem, RowOp
from bcsync.destinations.bigcommerce.batching import bisect, chunks
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.error_bodies import error_text
from bcsync.destinations.bigcommerce.fields import FieldSpec, ValueProblem, column_fits, convert
from bcsync.destinations.bigcommerce.metafields import Confirmation, add_error
from bcsync.destinations.bigcommerce.targets import digest
from bcsync.errors import AmbiguousWriteError, ApiError, RequestRejectedError, Retriable

TARGET = "address"  # the flat columns' one address
LIST_TARGET = "addresses"  # the list column's set
WRITE_BATCH = 10  # addresses per POST or PUT (reference §4.6)
DELETE_BATCH = 50
READ_BATCH = 50  # customer ids or address ids per read
UNSENT = "-"  # the hash of a target whose write did not all land: no payload has it

ADDRESS_FIELDS: Mapping[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("first_name", "string", 1, 255, required=True),
        FieldSpec("last_name", "string", 1, 255, required=True),
        FieldSpec("company", "string", 0, 255),
        FieldSpec("address1", "string", 1, None, required=True),
        FieldSpec("address2", "string"),
        FieldSpec("city", "string", 1, 100, required=True),
        FieldSpec("state_or_province", "string", 0, 100),
        FieldSpec("postal_code", "string", 0, 30),
        FieldSpec("country_code", "string", 2, 2, required=True),
        FieldSpec("phone", "string", 0, 50),
        FieldSpec("address_type", "string"),
    )
}
# POST /v3/customers/addresses requires these keys (address_Post); they may be blank unless the
# country needs a state. Sent as "" when the mapping leaves them out.
ALWAYS_SENT = ("state_or_province", "postal_code")
ADDRESS_TYPES = ("residential", "commercial")
# Countries whose addresses need a state or province. BigCommerce requires one for the countries
# it lists states for (UNCONFIRMED which exactly); these are the common ones.
COUNTRIES_WITH_STATES = frozenset({"US", "CA", "AU", "IN", "BR", "MX"})
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# The customer's own fields an unmapped address name defaults to.
NAME_DEFAULTS = ("first_name", "last_name")

Pin = tuple[str, int]  # (content hash, address id)


class AddressProblem(ValueProblem):
    """An address value BigCommerce would refuse; the message names the column."""


def address_problem(name: str) -> str | None:
    """Why ``address.<name>`` cannot be mapped ('' is the list form ``addresses``)."""
    if name == "" or name in ADDRESS_FIELDS:
        return None
    return f"unknown address field '{name}' (known: {', '.join(ADDRESS_FIELDS)})"


def _address(raw: Mapping[str, Any], label: Callable[[str], str]) -> dict[str, Any]:
    """One address body from ``raw`` (field → value): converted, checked, with the fields
    BigCommerce requires on a create; raises AddressProblem naming ``label(field)``."""
    body: dict[str, Any] = {}
    for name, spec in ADDRESS_FIELDS.items():
        if name not in raw and name not in ALWAYS_SENT and not spec.required:
            continue
        value = raw.get(name)
        try:
            text = convert(spec, value) if value is not None else None
        except ValueProblem as exc:
            raise AddressProblem(f"{label(name)}: {exc}") from None
        if isinstance(text, str):
            text = text.strip()
        if spec.required and not text:
            raise AddressProblem(f"{label(name)}: an address needs it")
        if name == "country_code":
            text = str(text).upper()
            if not _COUNTRY.match(text):
                raise AddressProblem(f"{label(name)}: {text!r} is not a 2-letter country code")
        if name == "address_type":
            if text is None:
                continue
            text = str(text).lower()
            if text not in ADDRESS_TYPES:
                raise AddressProblem(f"{label(name)}: must be residential or commercial")
        body[name] = text or ""
    if body["country_code"] in COUNTRIES_WITH_STATES and not body["state_or_province"]:
        raise AddressProblem(
            f"{label('state_or_province')}: an address in {body['country_code']} needs a state "
            "or province (its full name)"
        )
    return body


def _same(sent: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Whether a stored address holds what ``sent`` said (the fields it sent)."""
    return all(str(stored.get(name) or "") == str(value) for name, value in sent.items())


def pins_of(value: Any) -> list[Pin]:
    """The addresses a landed target pins: ``<hash>#<id>`` or ``<hash>#<h1>:<id1>,<h2>:<id2>``."""
    if value is None:
        return []
    head, _, tail = str(value).partition("#")
    if tail.isdigit():
        return [(head, int(tail))]
    pins = []
    for part in filter(None, tail.split(",")):
        content, _, found = part.partition(":")
        if found.isdigit():
            pins.append((content, int(found)))
    return pins


def landed_value(target_hash: str, pins: Sequence[Pin], *, flat: bool) -> str:
    if flat and len(pins) == 1 and target_hash != UNSENT:
        return f"{target_hash}#{pins[0][1]}"
    if not pins:
        return target_hash
    return f"{target_hash}#" + ",".join(f"{content}:{found}" for content, found in pins)


@dataclass
class _Plan:
    """One row's address writes, and what they settled."""

    pk: str
    customer_id: int
    target: str
    target_hash: str
    kept: list[Pin] = field(default_factory=list)  # pinned, unchanged: no call
    updates: list[tuple[Pin, dict[str, Any]]] = field(default_factory=list)
    creates: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[Pin] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def confirmation(self) -> Confirmation:
        flat = self.target == TARGET
        if self.errors:
            value = landed_value(UNSENT, self.kept, flat=flat)
            return Confirmation({self.pk: {self.target: value}}, {self.pk: "; ".join(self.errors)})
        return Confirmation(
            {self.pk: {self.target: landed_value(self.target_hash, self.kept, flat=flat)}}
        )


class AddressWriter:
    """The address mappings of one customers sync: ``(column, field)``, field '' for the list
    column; ``names`` the columns of the customer's own first and last name (the defaults)."""

    def __init__(
        self,
        client: BigCommerceClient,
        mappings: Sequence[tuple[str, str]],
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.mappings = list(mappings)
        self.flat = [(column, name) for column, name in self.mappings if name != ""]
        self.lists = [column for column, name in self.mappings if name == ""]
        flat_names = {name for _, name in self.flat}
        self.defaults = {
            name: column
            for name, column in (names or {}).items()
            if name in NAME_DEFAULTS and name not in flat_names
        }
        # The addresses a create's answer returned, by customer id (they carry their ids).
        self.created: dict[str, list[Mapping[str, Any]]] = {}

    # -- checks ------------------------------------------------------------------------------

    def static_problems(self) -> list[Problem]:
        problems = []
        if self.lists and (self.flat or len(self.lists) > 1):
            problems.append(
                Problem(
                    "map addresses either as one list column ('addresses') or as columns "
                    "'address.<field>' (the customer's one synced address), not both",
                    ("mappings",),
                )
            )
        if self.flat:
            mapped = {name for _, name in self.flat} | set(self.defaults)
            missing = [
                name
                for name, spec in ADDRESS_FIELDS.items()
                if spec.required and name not in mapped
            ]
            if missing:
                problems.append(
                    Problem(
                        "an address needs "
                        + ", ".join(f"'address.{name}'" for name in missing)
                        + " mapped (first and last name default to the customer's own)",
                        ("mappings",),
                    )
                )
        return problems

    def column_problems(self, column_types: Mapping[str, str]) -> list[Problem]:
        problems = []
        for column, name in self.mappings:
            arrow_type = column_types.get(column)
            if arrow_type is None or column_fits("json" if name == "" else "string", arrow_type):
                continue
            what = "addresses (a list of addresses)" if name == "" else f"address.{name} (text)"
            problems.append(
                Problem(f"column '{column}' ({arrow_type}) cannot become customer field {what}")
            )
        return problems

    def validate(self, values: Mapping[str, Any]) -> list[str]:
        try:
            self.wanted(values)
        except AddressProblem as exc:
            return [str(exc)]
        return []

    # -- what the row says -------------------------------------------------------------------

    def wanted(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The addresses the row says the customer has, as bodies (raises AddressProblem)."""
        if self.flat:
            raw = {name: values.get(column) for column, name in self.flat}
            if all(value in (None, "") for value in raw.values()):
                return []
            raw.update({name: values.get(column) for name, column in self.defaults.items()})
            column_of = {name: column for column, name in self.flat}

            def label(name: str) -> str:
                if name in column_of:
                    return f"column '{column_of[name]}' (field address.{name})"
                if name in self.defaults:
                    return f"column '{self.defaults[name]}' (the address's {name})"
                return f"field address.{name} (not mapped)"

            return [_address(raw, label)]
        if self.lists:
            return self._listed(self.lists[0], values.get(self.lists[0]))
        return []

    def _listed(self, column: str, value: Any) -> list[dict[str, Any]]:
        where = f"column '{column}' (addresses)"
        if value is None:
            return []
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise AddressProblem(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(value, (list, tuple)):
            raise AddressProblem(f"{where}: must be a list of addresses")
        bodies: list[dict[str, Any]] = []
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise AddressProblem(f"{where}: item {index} is not an address object")
            unknown = sorted(str(key) for key in item if key not in ADDRESS_FIELDS)
            if unknown:
                raise AddressProblem(
                    f"{where}: item {index} has unknown fields {unknown} "
                    f"(known: {', '.join(ADDRESS_FIELDS)})"
                )
            # The item is the whole address: a text field it leaves out is blank.
            raw = {
                name: item.get(name)
                for name in ADDRESS_FIELDS
                if name != "address_type" or item.get(name) is not None
            }
            body = _address(raw, _item_label(column, index))
            if body in bodies:
                raise AddressProblem(
                    f"{where}: item {index} repeats item {bodies.index(body)} "
                    "(BigCommerce keeps one of identical addresses)"
                )
            bodies.append(body)
        return bodies

    def _target(self) -> str:
        return LIST_TARGET if self.lists else TARGET

    def targets(self, values: Mapping[str, Any]) -> dict[str, str]:
        if not self.mappings:
            return {}
        try:
            bodies = self.wanted(values)
        except AddressProblem:
            return {self._target(): UNSENT}  # an invalid row is never sent
        if self.flat:
            return {TARGET: digest(bodies[0] if bodies else None)}
        return {LIST_TARGET: digest(bodies)}

    def inline(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The addresses a customer create carries (at most 10; the rest are posted after)."""
        if not self.mappings:
            return []
        return self.wanted(values)[:WRITE_BATCH]

    def remember_created(self, customers: Sequence[Mapping[str, Any]]) -> None:
        """Keep the addresses a create's answer returned with its customers (and their ids)."""
        for customer in customers:
            if "id" in customer and isinstance(customer.get("addresses"), list):
                self.created[str(customer["id"])] = list(customer["addresses"])

    # -- writing -----------------------------------------------------------------------------

    async def write(
        self, rows: Sequence[tuple[RowOp, str, Collection[str]]], created: set[str]
    ) -> Confirmation:
        """Bring the addresses of each customer whose address target is wanted in line with the
        row: per pk the target confirmed (with its pins), and the error of a write that failed.
        A customer ``created`` in this run already carries the addresses its create nested."""
        target = self._target()
        rows = [(op, cid, wanted) for op, cid, wanted in rows if target in wanted and self.mappings]
        if not rows:
            return Confirmation()
        # A customer made by this sync's create (in this run, or a lost create found again)
        # holds the addresses its create nested: found by content, they are ours.
        made = {op.pk for op, _, _ in rows if op.pk in created or op.in_doubt}
        answered = {cid: list(self.created.pop(cid)) for op, cid, _ in rows if cid in self.created}
        stored = await self._read_by_customer(
            [cid for op, cid, _ in rows if op.pk in made and cid not in answered]
        )
        stored.update(answered)
        # The other form's pins (a sync switched between flat columns and a list column) are
        # bcsync's too: taken over by this form, and released from the other.
        other = LIST_TARGET if target == TARGET else TARGET
        moved: dict[str, dict[str, str]] = {}
        plans = []
        for op, cid, _ in rows:
            bodies = self.wanted(op.values)
            if op.pk in made:
                pins = _found(bodies[:WRITE_BATCH], stored.get(cid, []), set())
            else:
                pins = pins_of(op.landed.get(target))
                taken = {pin[1] for pin in pins}
                pins += [pin for pin in pins_of(op.landed.get(other)) if pin[1] not in taken]
            if pins_of(op.landed.get(other)):
                moved[op.pk] = {other: UNSENT}
            plans.append(self._plan(op, int(cid), target, bodies, pins))
        await self._deletes([(plan, pin) for plan in plans for pin in plan.deletes])
        await self._updates(plans)
        await self._creates([(plan, body) for plan in plans for body in plan.creates], stored)
        return Confirmation.of([Confirmation(moved), *(plan.confirmation() for plan in plans)])

    async def clear(self, rows: Sequence[tuple[RowOp, str]]) -> Confirmation:
        """Delete the addresses bcsync wrote for cleared customers (only the pinned ones)."""
        if not self.mappings:
            return Confirmation()
        plans = [_Plan(op.pk, int(cid), self._target(), digest(None)) for op, cid in rows]
        pairs = [
            (plan, pin)
            for plan, (op, _) in zip(plans, rows, strict=True)
            for pin in dict(
                (pin[1], pin)
                for target in (TARGET, LIST_TARGET)
                for pin in pins_of(op.landed.get(target))
            ).values()
        ]
        await self._deletes(pairs)
        errors: dict[str, str] = {}
        for plan in plans:
            for message in plan.errors:
                add_error(errors, plan.pk, message)
        return Confirmation(errors=errors)

    def _plan(
        self,
        op: RowOp,
        customer_id: int,
        target: str,
        bodies: Sequence[dict[str, Any]],
        pins: Sequence[Pin],
    ) -> _Plan:
        """The calls that turn the pinned addresses into ``bodies``: an unchanged one is kept,
        the changed ones updated in place (paired in order), new ones created, the rest deleted."""
        hashes = [digest(body) for body in bodies]
        target_hash = digest(bodies[0] if bodies else None) if target == TARGET else digest(bodies)
        plan = _Plan(op.pk, customer_id, target, target_hash)
        left = list(pins)
        changed: list[dict[str, Any]] = []
        for body, content in zip(bodies, hashes, strict=True):
            same = next((pin for pin in left if pin[0] == content), None)
            if same is not None:
                left.remove(same)
                plan.kept.append(same)
            else:
                changed.append(body)
        for body in changed:
            if left:
                plan.updates.append((left.pop(0), body))
            else:
                plan.creates.append(body)
        plan.deletes = left
        return plan

    async def _deletes(self, pairs: Sequence[tuple[_Plan, Pin]]) -> None:
        async def send(part: Sequence[tuple[_Plan, Pin]]) -> None:
            try:
                await self.client.request(
                    "DELETE",
                    "/v3/customers/addresses",
                    params={"id:in": ",".join(str(pin[1]) for _, pin in part)},
                    pks=sorted({plan.pk for plan, _ in part}),
                    write_kind="write",
                )
            except ApiError as exc:
                if not isinstance(exc, RequestRejectedError | Retriable):
                    raise
                for plan, pin in part:
                    plan.kept.append(pin)  # still ours: deleted again next run
                    plan.errors.append(
                        f"deleting address {pin[1]}: {error_text(exc.body, str(exc))}"
                    )

        await asyncio.gather(*(send(part) for part in chunks(pairs, DELETE_BATCH)))

    async def _updates(self, plans: Sequence[_Plan]) -> None:
        """PUT the changed addresses; one that is gone is released and created anew."""
        items = [(plan, pin, body) for plan in plans for pin, body in plan.updates]
        answered: set[int] = set()

        async def send(part: Sequence[tuple[_Plan, Pin, dict[str, Any]]]) -> None:
            response = await self.client.request(
                "PUT",
                "/v3/customers/addresses",
                json=[{"id": pin[1], **body} for _, pin, body in part],
                pks=sorted({plan.pk for plan, _, _ in part}),
                write_kind="write",
            )
            data = response.body.get("data") if isinstance(response.body, dict) else None
            answered.update(int(a["id"]) for a in data or [] if isinstance(a, dict) and "id" in a)

        rejected = await asyncio.gather(*(bisect(c, send) for c in chunks(items, WRITE_BATCH)))
        why = {id(item): message for part in rejected for item, message in part}
        # Not in the answer: refused, or skipped as a duplicate of another address; or gone.
        doubtful = [item for item in items if item[1][1] not in answered]
        present = await self._present([pin[1] for _, pin, _ in doubtful])
        redundant: list[tuple[_Plan, Pin]] = []
        for item in items:
            plan, pin, body = item
            if pin[1] in answered or (pin[1] in present and _same(body, present[pin[1]])):
                # Answered, or the store holds it already (a PUT applied whose answer was
                # lost): pinned with what it holds, so a later run compares with the truth.
                plan.kept.append((digest(body), pin[1]))
            elif pin[1] not in present:
                plan.creates.append(body)  # gone is gone: released, and created anew
            elif id(item) not in why:
                # Skipped: the customer already has an identical address, one bcsync does not
                # hold (the kept ones differ in content). The customer holds the row's address
                # in it, so bcsync's own is retired; the other is never touched or pinned.
                redundant.append((plan, pin))
            else:
                plan.kept.append(pin)
                plan.errors.append(f"updating address {pin[1]}: {why[id(item)]}")
        await self._deletes(redundant)

    async def _creates(
        self,
        pairs: Sequence[tuple[_Plan, dict[str, Any]]],
        known: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> None:
        """POST new addresses; a lost answer is settled by reading the customers' addresses.
        The addresses a customer had before the POST (``known``, or read first) are never
        taken for what a lost POST made: an identical one is skipped by the store, and is not
        ours (DESIGN §3.8: insert never adopts)."""
        if not pairs:
            return
        customers = {str(plan.customer_id) for plan, _ in pairs}
        stored = dict(known)
        stored.update(await self._read_by_customer(sorted(customers - set(known))))
        before = {
            cid: {int(a["id"]) for a in stored.get(cid, []) if "id" in a} for cid in customers
        }

        async def send(part: Sequence[tuple[_Plan, dict[str, Any]]]) -> None:
            await self._post(part, before, resent=False)

        rejected = await asyncio.gather(*(bisect(c, send) for c in chunks(pairs, WRITE_BATCH)))
        for (plan, _), message in (pair for part in rejected for pair in part):
            plan.errors.append(f"creating an address: {message}")

    async def _post(
        self,
        part: Sequence[tuple[_Plan, dict[str, Any]]],
        before: Mapping[str, set[int]],
        *,
        resent: bool,
    ) -> None:
        try:
            response = await self.client.request(
                "POST",
                "/v3/customers/addresses",
                json=[{"customer_id": plan.customer_id, **body} for plan, body in part],
                pks=sorted({plan.pk for plan, _ in part}),
                write_kind="create",
            )
        except AmbiguousWriteError as exc:
            # The store may have applied it: read before anything is sent again (§3.8).
            stored = await self._read_by_customer(sorted({str(p.customer_id) for p, _ in part}))
            missing = self._settle(part, stored, before)
            if not missing:
                return
            if resent:
                for plan, _ in missing:
                    plan.errors.append(f"creating an address failed twice without an answer: {exc}")
                return
            await self._post(missing, before, resent=True)
            return
        data = response.body.get("data") if isinstance(response.body, dict) else None
        listed: dict[str, list[Mapping[str, Any]]] = {}
        for address in data or []:
            if isinstance(address, dict) and "id" in address:
                listed.setdefault(str(address.get("customer_id")), []).append(address)
        for plan, body in part:
            taken = {pin[1] for pin in plan.kept}
            found = next(
                (
                    a
                    for a in listed.get(str(plan.customer_id), [])
                    if int(a["id"]) not in taken and _same(body, a)
                ),
                None,
            )
            if found is not None:
                plan.kept.append((digest(body), int(found["id"])))
            # else: skipped as a duplicate of an address that was there before: not ours to pin.

    def _settle(
        self,
        part: Sequence[tuple[_Plan, dict[str, Any]]],
        stored: Mapping[str, Sequence[Mapping[str, Any]]],
        before: Mapping[str, set[int]],
    ) -> list[tuple[_Plan, dict[str, Any]]]:
        """Pin the addresses a lost POST made (never one the customer had before it); the items
        not found are returned."""
        missing = []
        for plan, body in part:
            taken = {pin[1] for pin in plan.kept} | before.get(str(plan.customer_id), set())
            pins = _found([body], stored.get(str(plan.customer_id), []), taken)
            if pins:
                plan.kept.extend(pins)
            else:
                missing.append((plan, body))
        return missing

    async def _read_by_customer(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Mapping[str, Any]]]:
        """The customers' addresses as the store lists them, by customer id."""
        found: dict[str, list[Mapping[str, Any]]] = {}

        async def read(part: Sequence[str]) -> None:
            params = {"customer_id:in": ",".join(part), "limit": "250"}
            async for page in self.client.get_all("/v3/customers/addresses", params=params, v=3):
                for address in page:
                    found.setdefault(str(address.get("customer_id")), []).append(address)

        unique = sorted(set(customer_ids))
        await asyncio.gather(*(read(part) for part in chunks(unique, READ_BATCH)))
        return found

    async def _present(self, address_ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
        """Those of these addresses that still exist, by id."""
        present: dict[int, Mapping[str, Any]] = {}

        async def read(part: Sequence[int]) -> None:
            params = {"id:in": ",".join(map(str, part)), "limit": "250"}
            async for page in self.client.get_all("/v3/customers/addresses", params=params, v=3):
                present.update((int(address["id"]), address) for address in page)

        unique = sorted(set(address_ids))
        await asyncio.gather(*(read(part) for part in chunks(unique, READ_BATCH)))
        return present


def _item_label(column: str, index: int) -> Callable[[str], str]:
    def label(name: str) -> str:
        return f"column '{column}' (addresses[{index}].{name})"

    return label


def _found(
    bodies: Sequence[dict[str, Any]], stored: Sequence[Mapping[str, Any]], taken: set[int]
) -> list[Pin]:
    """Pins for the stored addresses that hold ``bodies`` (each address used once)."""
    pins = []
    used = set(taken)
    for body in bodies:
        match = next((a for a in stored if int(a["id"]) not in used and _same(body, a)), None)
        if match is not None:
            used.add(int(match["id"]))
            pins.append((digest(body), int(match["id"])))
    return pins


__all__ = [
    "ADDRESS_FIELDS",
    "COUNTRIES_WITH_STATES",
    "LIST_TARGET",
    "TARGET",
    "AddressWriter",
    "address_problem",
    "pins_of",
]
