"""How a stored order is shown: the order object, its lines and shipping addresses (reference
§5.3, §5.7) in BigCommerce's field order, money as 4-decimal strings and dates in RFC 2822; its
fees and consignments, on their own endpoints and side-loaded with ``include=`` (§5.5)."""

from __future__ import annotations

import copy
from typing import Any

from bcsync.emulator.orders.products import discount_shares
from bcsync.emulator.orders.record import COSTS, OrderRecord
from bcsync.emulator.orders.statuses import STATUSES
from bcsync.emulator.orders.values import (
    ADDRESS_FIELDS,
    EXCHANGE_RATE_ONE,
    ZERO,
    money_str,
    rfc2822,
)


def render(record: OrderRecord, root: str) -> dict[str, Any]:
    """The order as ``GET /v2/orders/{id}`` returns it; ``root`` is ``…/stores/{hash}/v2``."""
    m, c, f = money_str, record.costs, record.fields
    t = record.totals()
    status = STATUSES[f["status_id"]]
    order: dict[str, Any] = {
        "id": record.id,
        "customer_id": f["customer_id"],
        "date_created": rfc2822(record.created),
        "date_modified": rfc2822(record.modified),
        "date_shipped": "",
        "status_id": status.id,
        "status": status.name,
        "custom_status": status.name,
        "subtotal_ex_tax": m(t["sub_ex"]),
        "subtotal_inc_tax": m(t["sub_inc"]),
        "subtotal_tax": m(t["sub_inc"] - t["sub_ex"]),
    }
    for cost in COSTS:
        ex, inc = c[f"{cost}_cost_ex_tax"], c[f"{cost}_cost_inc_tax"]
        order[f"base_{cost}_cost"] = m(c[f"base_{cost}_cost"])
        order[f"{cost}_cost_ex_tax"] = m(ex)
        order[f"{cost}_cost_inc_tax"] = m(inc)
        order[f"{cost}_cost_tax"] = m(inc - ex)
        order[f"{cost}_cost_tax_class_id"] = 0
    order.update(
        {
            "total_ex_tax": m(t["total_ex"]),
            "total_inc_tax": m(t["total_inc"]),
            "total_tax": m(t["total_inc"] - t["total_ex"]),
            "is_tax_inclusive_pricing": False,
            "items_total": (
                record.items_total
                if record.items_total is not None
                else sum(line.quantity for line in record.lines)
            ),
            "items_shipped": f["items_shipped"],
            "payment_method": f["payment_method"],
            "payment_provider_id": f["payment_provider_id"],
            "payment_status": "",
            "refunded_amount": m(ZERO),
            "order_is_digital": f["order_is_digital"],
            "store_credit_amount": m(ZERO),
            "gift_certificate_amount": m(ZERO),
            "ip_address": f["ip_address"],
            "ip_address_v6": f["ip_address_v6"],
            "geoip_country": f["geoip_country"],
            "geoip_country_iso2": f["geoip_country_iso2"],
            "currency_id": 1,
            "currency_code": f["default_currency_code"],
            "currency_exchange_rate": EXCHANGE_RATE_ONE,
            "default_currency_id": 1,
            "default_currency_code": f["default_currency_code"],
            "store_default_currency_code": "USD",
            "store_default_to_transactional_exchange_rate": EXCHANGE_RATE_ONE,
            "staff_notes": f["staff_notes"],
            "customer_message": f["customer_message"],
            "discount_amount": m(c["discount_amount"]),
            "coupon_discount": m(ZERO),
            "shipping_address_count": len(record.shipping),
            "is_deleted": record.is_deleted,
            "ebay_order_id": f["ebay_order_id"],
            "cart_id": "",
            "billing_address": copy.deepcopy(f["billing_address"]),
            "is_email_opt_in": False,
            "credit_card_type": None,
            "order_source": f["order_source"],
            "channel_id": f["channel_id"],
            "external_source": f["external_source"],
            "products": _link(root, record.id, "products", "products"),
            "shipping_addresses": _link(root, record.id, "shipping_addresses", "shippingaddresses"),
            "coupons": _link(root, record.id, "coupons", "coupons"),
            "external_id": None,
            "external_merchant_id": f["external_merchant_id"],
            "external_order_id": f["external_order_id"],
            "tax_provider_id": "",
            "customer_locale": f["customer_locale"],
        }
    )
    return order


def _link(root: str, order_id: int, path: str, resource: str) -> dict[str, str]:
    # BigCommerce's own links spell the shipping addresses resource without the underscore.
    return {"url": f"{root}/orders/{order_id}/{path}", "resource": f"/orders/{order_id}/{resource}"}


def render_lines(record: OrderRecord) -> list[dict[str, Any]]:
    shares = discount_shares(record.lines, record.costs["discount_amount"])
    return [
        line.as_json(record.id, share) for line, share in zip(record.lines, shares, strict=True)
    ]


def render_shipping(record: OrderRecord, root: str) -> list[dict[str, Any]]:
    """``GET /v2/orders/{id}/shipping_addresses``: the order's shipping cost sits on the first."""
    m, c = money_str, record.costs
    result = []
    for index, addr in enumerate(record.shipping):
        first = index == 0
        ex = c["shipping_cost_ex_tax"] if first else ZERO
        inc = c["shipping_cost_inc_tax"] if first else ZERO
        h_ex = c["handling_cost_ex_tax"] if first else ZERO
        h_inc = c["handling_cost_inc_tax"] if first else ZERO
        quotes = f"orders/{record.id}/shipping_addresses/{addr['id']}/shipping_quotes"
        result.append(
            {
                "id": addr["id"],
                "order_id": record.id,
                **{k: addr[k] for k in ADDRESS_FIELDS},
                "items_total": sum(
                    ln.quantity for ln in record.lines if ln.address_id == addr["id"]
                ),
                "items_shipped": 0,
                "shipping_method": addr["shipping_method"],
                "base_cost": m(c["base_shipping_cost"] if first else ZERO),
                "cost_ex_tax": m(ex),
                "cost_inc_tax": m(inc),
                "cost_tax": m(inc - ex),
                "cost_tax_class_id": 0,
                "base_handling_cost": m(c["base_handling_cost"] if first else ZERO),
                "handling_cost_ex_tax": m(h_ex),
                "handling_cost_inc_tax": m(h_inc),
                "handling_cost_tax": m(h_inc - h_ex),
                "handling_cost_tax_class_id": 0,
                "shipping_zone_id": 1,
                "shipping_zone_name": "United States",
                "shipping_quotes": {"url": f"{root}/{quotes}", "resource": f"/{quotes}"},
                "form_fields": copy.deepcopy(addr["form_fields"]),
            }
        )
    return result


# ---------------------------------------------------------------------------------------------
# Fees and consignments, on their own endpoints and side-loaded with ``include=`` (reference §5.5)

INCLUDES = frozenset({"consignments", "consignments.line_items", "fees"})


def with_includes(
    order: dict[str, Any], record: OrderRecord, root: str, includes: set[str]
) -> dict[str, Any]:
    """``order`` with what ``include=`` asks for: ``fees`` as a list, ``consignments`` as the
    object ``GET /v2/orders/{id}/consignments`` returns (``consignments.line_items``: with full
    lines). Without ``include`` neither key is present (reference §5.3)."""
    if "consignments" in includes or "consignments.line_items" in includes:
        full = "consignments.line_items" in includes
        order["consignments"] = render_consignments(record, root, full_lines=full)
    if "fees" in includes:
        order["fees"] = render_fees(record)
    return order


def render_fees(record: OrderRecord) -> list[dict[str, Any]]:
    return [fee.as_json() for fee in record.fees]


def render_consignments(record: OrderRecord, root: str, full_lines: bool) -> dict[str, Any]:
    """``orderConsignment_Get``: the pickup, or one shipping consignment per shipping address
    that carries lines, each with its ``line_items`` as links or (``full_lines``) full lines.

    UNCONFIRMED: a shipping address without lines is not a consignment; shipping consignment
    money is sent as JSON numbers, as its schema (unlike the rest of v2) declares.
    """
    lines = render_lines(record)
    by_pickup: dict[int, list[dict[str, Any]]] = {}
    by_address: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        if line["order_pickup_method_id"]:
            by_pickup.setdefault(line["order_pickup_method_id"], []).append(line)
        else:
            by_address.setdefault(line["order_address_id"], []).append(line)

    def items(group: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if full_lines:
            return group
        return [
            _link(root, record.id, f"products/{ln['id']}", f"products/{ln['id']}") for ln in group
        ]

    pickups = []
    if record.pickup is not None and record.pickup.id in by_pickup:
        pickups.append(record.pickup.as_json(items(by_pickup[record.pickup.id])))
    shipping = [
        _shipping_consignment(address, items(by_address[address["id"]]), root)
        for address in render_shipping(record, root)
        if address["id"] in by_address
    ]
    return {
        "pickups": pickups,
        "shipping": shipping,
        "downloads": [],
        "email": {"gift_certificates": []},
    }


_CONSIGNMENT_MONEY = (
    "base_cost",
    "cost_ex_tax",
    "cost_inc_tax",
    "cost_tax",
    "base_handling_cost",
    "handling_cost_ex_tax",
    "handling_cost_inc_tax",
    "handling_cost_tax",
)


def _shipping_consignment(
    address: dict[str, Any], line_items: list[dict[str, Any]], root: str
) -> dict[str, Any]:
    """A ``shippingConsignment_Get`` from a rendered shipping address."""
    consignment = {k: v for k, v in address.items() if k not in ("order_id", "shipping_quotes")}
    consignment["line_items"] = line_items
    for key in _CONSIGNMENT_MONEY:
        consignment[key] = float(address[key])
    quotes = f"orders/{address['order_id']}/consignments/shipping/{address['id']}/shipping_quotes"
    consignment["shipping_quotes"] = {"url": f"{root}/{quotes}", "resource": f"/{quotes}"}
    return consignment
