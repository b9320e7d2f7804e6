"""Pickup consignments (reference §5.2; OpenAPI ``orderConsignment_Post``/``_Put``/``_Get``,
``pickupConsignment_*``, ``pickupConsignmentLocation_*``).

An order is either shipped (``products`` + ``shipping_addresses``) or picked up
(``consignments: {"pickups": [one pickup]}``): a body that sends ``consignments`` may send neither
``products`` nor ``shipping_addresses``, and an order has at most one pickup consignment. The
pickup's ``line_items`` become the order's products (``GET /v2/orders/{id}/products``), with
``order_pickup_method_id`` set and ``order_address_id`` 0; the order has no shipping address.

On ``PUT`` the pickup (its ``id`` is required) is patched: the fields sent replace the stored ones,
``location`` fields are patched one by one, and ``line_items`` follow the products rules (add
without ``id``, patch with ``id``, remove with ``quantity: 0``).

UNCONFIRMED choices of the emulator: ``order_pickup_method_id`` of a line is the pickup
consignment's ``id``; ``location.id`` is 1 (the store's default location) since the location is
sent as an address, not an id; any ``pickup_method_id`` of at least 1 is accepted (the emulated
store has no pickup methods to check against); a PUT may not turn a shipped order into a pickup
or add ``products``/``shipping_addresses`` to a pickup order, may not remove the pickup's last
line item, and a ``pickups`` list that is empty changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bcsync.emulator.orders.products import OrderLine, apply_lines
from bcsync.emulator.orders.values import V2InputError, integer, invalid, read_only, required, text

DEFAULT_LOCATION_ID = 1
# pickupConsignment_Base fields with their maximum lengths (None: no limit documented).
TEXTS: dict[str, int | None] = {
    "pickup_method_display_name": 250,
    "collection_instructions": None,
    "collection_time_description": 250,
}
# pickupConsignmentLocation_Base fields with their maximum lengths.
LOCATION: dict[str, int] = {
    "name": 255,
    "code": 50,
    "address_line_1": 255,
    "address_line_2": 255,
    "city": 255,
    "state": 255,
    "postal_code": 50,
    "country_alpha2": 2,
    "email": 255,
    "phone": 125,
}
WRITABLE = frozenset({"pickup_method_id", *TEXTS, "location", "line_items"})
EXCLUSIVE = ("products", "shipping_addresses")
WHERE = "consignments.pickups[0]"


@dataclass
class Pickup:
    id: int
    pickup_method_id: int
    pickup_method_display_name: str = ""
    collection_instructions: str = ""
    collection_time_description: str = ""
    location: dict[str, str] = field(default_factory=lambda: dict.fromkeys(LOCATION, ""))

    def as_json(self, line_items: list[dict[str, Any]]) -> dict[str, Any]:
        """The pickup as ``pickupConsignment_Get``; ``line_items`` are links or full lines."""
        location: dict[str, Any] = {"id": DEFAULT_LOCATION_ID}
        # The schema wants exactly two letters in country_alpha2: an unset one is left out.
        location.update({k: v for k, v in self.location.items() if v or k != "country_alpha2"})
        return {
            "id": self.id,
            "pickup_method_id": self.pickup_method_id,
            **{key: getattr(self, key) for key in TEXTS},
            "location": location,
            "line_items": line_items,
        }

    def to_plain(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Pickup:
        return cls(**data)


def check_exclusive(body: dict[str, Any]) -> None:
    """``consignments`` may not come with ``products`` or ``shipping_addresses``."""
    for key in EXCLUSIVE:
        if key in body:
            raise V2InputError(
                f"The field '{key}' can't be sent with 'consignments': an order is either "
                "shipped (products, shipping_addresses) or picked up (consignments)."
            )


def create(value: Any, lines: list[OrderLine], next_id: Callable[[], int]) -> Pickup:
    """The pickup of a ``POST /v2/orders`` body; its line items are appended to ``lines``."""
    item = _one_pickup(value, creating=True)
    assert item is not None
    if "id" in item:
        raise read_only(f"{WHERE}.id")
    if "pickup_method_id" not in item:
        raise required(f"{WHERE}.pickup_method_id")
    if "line_items" not in item:
        raise required(f"{WHERE}.line_items")
    pickup = Pickup(id=next_id(), pickup_method_id=0)
    _patch(pickup, item)
    _apply_lines(pickup, lines, item["line_items"], creating=True, next_id=next_id)
    return pickup


def update(
    pickup: Pickup | None, value: Any, lines: list[OrderLine], next_id: Callable[[], int]
) -> None:
    """Apply a ``PUT`` body's ``consignments`` to the order's pickup and ``lines`` in place."""
    if pickup is None:
        raise invalid(
            "consignments", "The order is shipped; a shipped order can't become a pickup."
        )
    item = _one_pickup(value, creating=False)
    if item is None:
        return
    if "id" not in item:
        raise required(f"{WHERE}.id")
    if integer(item["id"], f"{WHERE}.id") != pickup.id:
        raise invalid(f"{WHERE}.id", f"The order's pickup consignment is {pickup.id}.")
    _patch(pickup, item)
    if "line_items" in item:
        _apply_lines(pickup, lines, item["line_items"], creating=False, next_id=next_id)


def _one_pickup(value: Any, creating: bool) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        raise invalid("consignments", "Expected an object with 'pickups'.")
    for key in value:
        if key != "pickups":
            raise invalid(f"consignments.{key}", "Only pickup consignments can be written.")
    if "pickups" not in value:
        raise required("consignments.pickups")
    pickups = value["pickups"]
    if not isinstance(pickups, list):
        raise invalid("consignments.pickups", "Expected a list.")
    if len(pickups) > 1:
        raise invalid("consignments.pickups", "An order can have only one pickup consignment.")
    if not pickups:
        if creating:
            raise invalid("consignments.pickups", "Send one pickup consignment.")
        return None
    item = pickups[0]
    if not isinstance(item, dict):
        raise invalid(WHERE, "Expected an object.")
    for key in item:
        if key != "id" and key not in WRITABLE:
            raise read_only(f"{WHERE}.{key}")
    return item


def _patch(pickup: Pickup, item: dict[str, Any]) -> None:
    if "pickup_method_id" in item:
        where = f"{WHERE}.pickup_method_id"
        pickup.pickup_method_id = integer(item["pickup_method_id"], where, minimum=1)
    for key, max_len in TEXTS.items():
        if key in item:
            setattr(pickup, key, text(item[key], f"{WHERE}.{key}", max_len))
    if "location" in item:
        pickup.location = _location(item["location"], pickup.location)


def _location(value: Any, base: dict[str, str]) -> dict[str, str]:
    where = f"{WHERE}.location"
    if not isinstance(value, dict):
        raise invalid(where, "Expected an object.")
    result = dict(base)
    for key, item in value.items():
        if key not in LOCATION:
            raise read_only(f"{where}.{key}")
        result[key] = str(text(item, f"{where}.{key}", LOCATION[key]))
    country = result["country_alpha2"]
    if "country_alpha2" in value and not (len(country) == 2 and country.isalpha()):
        raise invalid(f"{where}.country_alpha2", "Use a 2-letter ISO country code.")
    return result


def _apply_lines(
    pickup: Pickup,
    lines: list[OrderLine],
    items: Any,
    creating: bool,
    next_id: Callable[[], int],
) -> None:
    apply_lines(lines, items, f"{WHERE}.line_items", creating, next_id)
    if not lines:
        raise invalid(f"{WHERE}.line_items", "A pickup consignment needs at least one item.")
    for line in lines:
        line.pickup_id = pickup.id
