"""One stored order, how a POST/PUT body changes it, and how it is rendered (reference §5.2–5.4).

Fees live in ``fees.py``, pickup consignments in ``consignments.py``.

A write is validated against a copy and only then swapped in, so a refused request leaves the
order exactly as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bcsync.emulator.orders import consignments, fees
from bcsync.emulator.orders.consignments import Pickup
from bcsync.emulator.orders.fees import Fee
from bcsync.emulator.orders.products import OrderLine, apply_lines
from bcsync.emulator.orders.statuses import STATUSES
from bcsync.emulator.orders.values import (
    ADDRESS_FIELDS,
    ZERO,
    V2InputError,
    address,
    flag,
    integer,
    invalid,
    money,
    now,
    parse_date,
    read_only,
    required,
    text,
)

COSTS = ("shipping", "handling", "wrapping")  # each has base_X_cost, X_cost_ex_tax, X_cost_inc_tax
OVERRIDES = ("subtotal", "total")  # X_ex_tax + X_inc_tax, stored as given instead of computed

# Fields the API computes; sending one is refused with the documented 400 (reference §5.2).
READ_ONLY = frozenset(
    {
        "id",
        "date_modified",
        "date_shipped",
        "status",
        "custom_status",
        "subtotal_tax",
        "shipping_cost_tax",
        "shipping_cost_tax_class_id",
        "handling_cost_tax",
        "handling_cost_tax_class_id",
        "wrapping_cost_tax",
        "wrapping_cost_tax_class_id",
        "total_tax",
        "payment_status",
        "currency_id",
        "currency_code",
        "currency_exchange_rate",
        "default_currency_id",
        "store_default_currency_code",
        "store_default_to_transactional_exchange_rate",
        "coupon_discount",
        "store_credit_amount",
        "gift_certificate_amount",
        "shipping_address_count",
        "is_deleted",
        "coupons",
        "external_id",
        "tax_provider_id",
        "cart_id",
        "is_tax_inclusive_pricing",
        "is_email_opt_in",
        "credit_card_type",
    }
)

# Plain writable fields: name -> (validator, writable on PUT).
_Check = Callable[[Any, str], Any]


def _text(max_len: int | None = None, nullable: bool = False) -> _Check:
    return lambda v, f: text(v, f, max_len, nullable)


def _status(value: Any, name: str) -> int:
    status_id = integer(value, name)
    if status_id not in STATUSES:
        raise invalid(name, "It must be an order status id from 0 to 14.")
    return status_id


def _channel(value: Any, name: str) -> int:
    channel_id = integer(value, name, minimum=1)
    if channel_id != 1:  # the emulated store has one channel, the default storefront
        raise invalid(name, f"Channel {channel_id} does not exist or is not enabled.")
    return channel_id


def _provider(value: Any, name: str) -> str | int | float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(name, "Expected a string or a number.")
    return value


SCALARS: dict[str, tuple[_Check, bool]] = {
    "customer_id": (lambda v, f: integer(v, f), True),
    "status_id": (_status, True),
    "channel_id": (_channel, True),
    "customer_message": (_text(), True),
    "staff_notes": (_text(65535), True),
    "payment_method": (_text(), True),
    "payment_provider_id": (_provider, True),
    "order_is_digital": (flag, True),
    "items_shipped": (lambda v, f: integer(v, f), True),
    "ip_address": (_text(30), True),
    "ip_address_v6": (_text(39), True),
    "geoip_country": (_text(), True),
    "geoip_country_iso2": (_text(), True),
    "customer_locale": (_text(), True),
    "ebay_order_id": (_text(), True),
    "external_source": (_text(nullable=True), True),
    "external_order_id": (_text(nullable=True), True),
    "external_merchant_id": (_text(nullable=True), False),
    "default_currency_code": (_text(3), False),
}

_RECALC_TRIGGERS = frozenset(
    {"products", "discount_amount", "billing_address", "shipping_addresses"}
    | {"fees", "consignments"}  # UNCONFIRMED: that these recalculate like products do
    | {f"base_{c}_cost" for c in COSTS}
    | {f"{c}_cost_{t}" for c in COSTS for t in ("ex_tax", "inc_tax")}
)


@dataclass
class OrderRecord:
    id: int
    created: datetime
    modified: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    costs: dict[str, Decimal] = field(default_factory=dict)
    lines: list[OrderLine] = field(default_factory=list)
    shipping: list[dict[str, Any]] = field(default_factory=list)
    overrides: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    items_total: int | None = None  # set explicitly by the client; else the sum of quantities
    is_deleted: bool = False
    fees: list[Fee] = field(default_factory=list)
    pickup: Pickup | None = None  # set on orders created with a pickup consignment

    @property
    def email(self) -> str:
        return str(self.fields["billing_address"].get("email", ""))

    def totals(self) -> dict[str, Decimal]:
        """Subtotal and total, ex and inc tax: the overrides if given, else recalculated.

        UNCONFIRMED formula (reference §5.3): total = subtotal + shipping + handling + wrapping
        + fees - discount, each taken ex or inc tax; fees count in the total, not the subtotal.
        """
        sub_ex = sum((line.total_ex_tax for line in self.lines), ZERO)
        sub_inc = sum((line.total_inc_tax for line in self.lines), ZERO)
        sub_ex, sub_inc = self.overrides.get("subtotal", (sub_ex, sub_inc))
        discount = self.costs["discount_amount"]
        fees_ex, fees_inc = fees.totals(self.fees)
        total_ex = sub_ex + sum((self.costs[f"{c}_cost_ex_tax"] for c in COSTS), fees_ex)
        total_inc = sub_inc + sum((self.costs[f"{c}_cost_inc_tax"] for c in COSTS), fees_inc)
        total_ex, total_inc = total_ex - discount, total_inc - discount
        total_ex, total_inc = self.overrides.get(
            "total", (max(total_ex, ZERO), max(total_inc, ZERO))
        )
        return {"sub_ex": sub_ex, "sub_inc": sub_inc, "total_ex": total_ex, "total_inc": total_inc}


def create(
    body: Any, order_id: int, next_id: Callable[[], int], source_writable: bool
) -> OrderRecord:
    """A new order from a ``POST /v2/orders`` body, with the documented defaults."""
    if not isinstance(body, dict):
        raise V2InputError("The request body must be a JSON object.")
    if "billing_address" not in body:
        raise required("billing_address")
    if "consignments" in body:
        consignments.check_exclusive(body)
    elif "products" not in body:
        raise required("products")
    created = now()
    record = OrderRecord(
        id=order_id,
        created=created,
        modified=created,
        fields={
            "customer_id": 0,
            "status_id": 1,
            "channel_id": 1,
            "customer_message": "",
            "staff_notes": "",
            "payment_method": "Manual",  # UNCONFIRMED default (reference §5.2)
            "payment_provider_id": "",
            "order_is_digital": False,
            "items_shipped": 0,
            "ip_address": "",
            "ip_address_v6": "",
            "geoip_country": "",
            "geoip_country_iso2": "",
            "customer_locale": "en",
            "ebay_order_id": "0",
            "external_source": None,
            "external_order_id": "",
            "external_merchant_id": None,
            "default_currency_code": "USD",
            "order_source": "external",
        },
        costs={key: ZERO for key in _cost_keys()},
    )
    _apply(record, body, creating=True, next_id=next_id, source_writable=source_writable)
    if not record.lines:
        raise invalid("products", "An order needs at least one product.")
    if not record.shipping and record.pickup is None:  # shipped to the billing address
        billing = {k: record.fields["billing_address"][k] for k in ADDRESS_FIELDS}
        record.shipping.append(_shipping_address(billing, next_id(), ""))
        _assign_lines(record)
    return record


def update(
    record: OrderRecord, body: Any, next_id: Callable[[], int], source_writable: bool
) -> OrderRecord:
    """The order after a partial ``PUT /v2/orders/{id}``; ``record`` itself is not touched."""
    if not isinstance(body, dict):
        raise V2InputError("The request body must be a JSON object.")
    if "consignments" in body:
        consignments.check_exclusive(body)
    elif record.pickup is not None:
        for key in consignments.EXCLUSIVE:
            if key in body:
                raise invalid(key, "The order is a pickup: change its 'consignments' instead.")
    changed = copy.deepcopy(record)
    _apply(changed, body, creating=False, next_id=next_id, source_writable=source_writable)
    if _RECALC_TRIGGERS & body.keys():
        for name in OVERRIDES:
            if f"{name}_ex_tax" not in body:
                changed.overrides.pop(name, None)
        if ("products" in body or "consignments" in body) and "items_total" not in body:
            changed.items_total = None
    changed.modified = now()
    return changed


def _cost_keys() -> list[str]:
    keys = [f"{prefix}{c}{suffix}" for c in COSTS for prefix, suffix in (("base_", "_cost"),)]
    keys += [f"{c}_cost_{t}" for c in COSTS for t in ("ex_tax", "inc_tax")]
    return [*keys, "discount_amount"]


def _apply(
    record: OrderRecord,
    body: dict[str, Any],
    *,
    creating: bool,
    next_id: Callable[[], int],
    source_writable: bool,
) -> None:
    handled = {"billing_address", "shipping_addresses", "products", "date_created", "fees"}
    handled |= {"consignments"}
    handled |= {"items_total", "refunded_amount", "discount_amount", "order_source"}
    handled |= set(_cost_keys()) | {f"{n}_{t}" for n in OVERRIDES for t in ("ex_tax", "inc_tax")}
    for key, value in body.items():
        if key in READ_ONLY:
            raise read_only(key)
        if key in SCALARS:
            check, on_put = SCALARS[key]
            if not creating and not on_put:
                raise read_only(key)
            record.fields[key] = check(value, key)
        elif key not in handled:
            raise read_only(key)
    if body.get("external_order_id", "") is None:
        record.fields["external_order_id"] = ""
    if "ip_address" in body:  # setting one address family resets the other
        record.fields["ip_address_v6"] = ""
    if "ip_address_v6" in body:
        record.fields["ip_address"] = ""
    if "order_source" in body:
        if not source_writable:  # UNCONFIRMED (reference §10.12): the FAQ says it is read-only
            raise read_only("order_source")
        record.fields["order_source"] = text(body["order_source"], "order_source")
    if "date_created" in body:
        moment = parse_date(str(text(body["date_created"], "date_created")))
        if moment is None:
            raise invalid(
                "date_created", "Use an RFC 2822 date such as 'Tue, 20 Nov 2012 00:00:00 +0000'."
            )
        record.created = moment
    if "billing_address" in body:
        base = None if creating else record.fields["billing_address"]
        billing = address(body["billing_address"], "billing_address", base)
        if len(billing["zip"]) < 2:
            raise invalid("billing_address.zip", "It must be at least 2 characters long.")
        record.fields["billing_address"] = billing
    _apply_money(record, body)
    if "shipping_addresses" in body:
        _apply_shipping(record, body["shipping_addresses"], next_id)
    if "products" in body:
        apply_lines(record.lines, body["products"], "products", creating, next_id)
    if "consignments" in body:
        if creating:
            record.pickup = consignments.create(body["consignments"], record.lines, next_id)
        else:
            consignments.update(record.pickup, body["consignments"], record.lines, next_id)
    if "fees" in body:
        if creating:
            record.fees = fees.create(body["fees"], next_id)
        else:
            record.fees = fees.replace(record.fees, body["fees"], next_id)
    if "items_total" in body:
        record.items_total = integer(body["items_total"], "items_total")
    _assign_lines(record)


def _apply_money(record: OrderRecord, body: dict[str, Any]) -> None:
    for cost in COSTS:
        ex, inc, base = f"{cost}_cost_ex_tax", f"{cost}_cost_inc_tax", f"base_{cost}_cost"
        _pair(body, ex, inc)
        if ex in body:
            record.costs[ex], record.costs[inc] = money(body[ex], ex), money(body[inc], inc)
        if base in body:
            record.costs[base] = money(body[base], base)
            if ex not in body:
                record.costs[ex] = record.costs[inc] = record.costs[base]
        elif ex in body:
            record.costs[base] = record.costs[ex]
    for name in OVERRIDES:
        ex, inc = f"{name}_ex_tax", f"{name}_inc_tax"
        _pair(body, ex, inc)
        if ex in body:
            record.overrides[name] = (money(body[ex], ex), money(body[inc], inc))
    if "discount_amount" in body:
        record.costs["discount_amount"] = money(body["discount_amount"], "discount_amount")
    if "refunded_amount" in body:
        money(body["refunded_amount"], "refunded_amount")  # accepted; always reported as 0


def _pair(body: dict[str, Any], ex: str, inc: str) -> None:
    if (ex in body) != (inc in body):
        sent, missing = (ex, inc) if ex in body else (inc, ex)
        raise V2InputError(f"The field '{missing}' must be sent together with '{sent}'.")


def _shipping_address(fields: dict[str, Any], address_id: int, method: str) -> dict[str, Any]:
    return {"id": address_id, **fields, "form_fields": [], "shipping_method": method}


def _apply_shipping(record: OrderRecord, items: Any, next_id: Callable[[], int]) -> None:
    """Items with ``id`` patch that address; items without one patch the address at the same
    position (so re-sending the same list is idempotent) or are added after the last one."""
    if not isinstance(items, list):
        raise invalid("shipping_addresses", "Expected a list.")
    for index, item in enumerate(items):
        where = f"shipping_addresses[{index}]"
        if not isinstance(item, dict):
            raise invalid(where, "Expected an object.")
        target = None
        if "id" in item:
            target = next((a for a in record.shipping if a["id"] == item["id"]), None)
            if target is None:
                raise invalid(f"{where}.id", f"The order has no shipping address {item['id']}.")
        elif index < len(record.shipping):
            target = record.shipping[index]
        if target is None:
            fields = address(item, where)
            target = _shipping_address({k: fields[k] for k in ADDRESS_FIELDS}, next_id(), "")
            record.shipping.append(target)
        else:
            patched = address(item, where, {k: target[k] for k in ADDRESS_FIELDS})
            target.update({k: patched[k] for k in ADDRESS_FIELDS})
        if "shipping_method" in item:
            target["shipping_method"] = text(item["shipping_method"], f"{where}.shipping_method")
        if "form_fields" in item:
            target["form_fields"] = address(item, where)["form_fields"]


def _assign_lines(record: OrderRecord) -> None:
    address_id = record.shipping[0]["id"] if record.shipping else 0
    for line in record.lines:
        line.address_id = address_id


def to_plain(record: OrderRecord) -> dict[str, Any]:
    """The record as JSON-safe data (money as strings, dates ISO 8601) for persistence."""
    return {
        "id": record.id,
        "created": record.created.isoformat(),
        "modified": record.modified.isoformat(),
        "fields": copy.deepcopy(record.fields),
        "costs": {k: str(v) for k, v in record.costs.items()},
        "lines": [
            {
                **vars(line),
                "price_ex_tax": str(line.price_ex_tax),
                "price_inc_tax": str(line.price_inc_tax),
            }
            for line in record.lines
        ],
        "shipping": copy.deepcopy(record.shipping),
        "overrides": {k: [str(ex), str(inc)] for k, (ex, inc) in record.overrides.items()},
        "items_total": record.items_total,
        "is_deleted": record.is_deleted,
        "fees": [fee.to_plain() for fee in record.fees],
        "pickup": record.pickup.to_plain() if record.pickup else None,
    }


def from_plain(data: dict[str, Any]) -> OrderRecord:
    """The inverse of :func:`to_plain`."""
    lines = [
        OrderLine(
            **{
                **line,
                "price_ex_tax": Decimal(line["price_ex_tax"]),
                "price_inc_tax": Decimal(line["price_inc_tax"]),
            }
        )
        for line in data["lines"]
    ]
    return OrderRecord(
        id=data["id"],
        created=datetime.fromisoformat(data["created"]),
        modified=datetime.fromisoformat(data["modified"]),
        fields=data["fields"],
        costs={k: Decimal(v) for k, v in data["costs"].items()},
        lines=lines,
        shipping=data["shipping"],
        overrides={k: (Decimal(ex), Decimal(inc)) for k, (ex, inc) in data["overrides"].items()},
        items_total=data["items_total"],
        is_deleted=data["is_deleted"],
        fees=[Fee.from_plain(fee) for fee in data.get("fees", [])],
        pickup=Pickup.from_plain(data["pickup"]) if data.get("pickup") else None,
    )
