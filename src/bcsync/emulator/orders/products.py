"""Order line items (reference §5.2 products, §5.4 PUT semantics, §5.7 response shape)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bcsync.emulator.orders.values import (
    ZERO,
    V2InputError,
    integer,
    invalid,
    money,
    money_str,
    read_only,
    required,
    text,
)

# Fields a client may send on a product line; everything else on a line is read-only.
WRITABLE = frozenset(
    {
        "id",
        "product_id",
        "variant_id",
        "product_options",
        "name",
        "name_customer",
        "name_merchant",
        "quantity",
        "price_inc_tax",
        "price_ex_tax",
        "sku",
        "upc",
        "wrapping_id",
        "wrapping_name",
        "wrapping_message",
        "wrapping_cost_ex_tax",
        "wrapping_cost_inc_tax",
    }
)


@dataclass
class OrderLine:
    id: int
    product_id: int
    variant_id: int
    name: str
    name_merchant: str
    sku: str
    upc: str
    quantity: int
    price_ex_tax: Decimal
    price_inc_tax: Decimal
    address_id: int = 0
    pickup_id: int = 0  # the pickup consignment that fulfils the line (consignments.py)

    @property
    def total_ex_tax(self) -> Decimal:
        return self.price_ex_tax * self.quantity

    @property
    def total_inc_tax(self) -> Decimal:
        return self.price_inc_tax * self.quantity

    def as_json(self, order_id: int, discount: Decimal = ZERO) -> dict[str, Any]:
        """The line as ``GET /v2/orders/{id}/products`` returns it (``orderProducts``)."""
        m = money_str
        applied = (
            [
                {
                    "id": "manual-discount",
                    "amount": m(discount),
                    "name": "Manual Discount",
                    "code": None,
                    "target": "order",
                }
            ]
            if discount > 0
            else []
        )
        return {
            "id": self.id,
            "order_id": order_id,
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "order_pickup_method_id": self.pickup_id,
            "order_address_id": self.address_id,
            "name": self.name,
            "name_customer": self.name,
            "name_merchant": self.name_merchant,
            "sku": self.sku,
            "upc": self.upc,
            "type": "physical",
            "base_price": m(self.price_ex_tax),
            "price_ex_tax": m(self.price_ex_tax),
            "price_inc_tax": m(self.price_inc_tax),
            "price_tax": m(self.price_inc_tax - self.price_ex_tax),
            "base_total": m(self.total_ex_tax),
            "total_ex_tax": m(self.total_ex_tax),
            "total_inc_tax": m(self.total_inc_tax),
            "total_tax": m(self.total_inc_tax - self.total_ex_tax),
            "quantity": self.quantity,
            "base_cost_price": m(ZERO),
            "cost_price_inc_tax": m(ZERO),
            "cost_price_ex_tax": m(ZERO),
            "cost_price_tax": m(ZERO),
            "weight": m(ZERO),
            "width": m(ZERO),
            "height": m(ZERO),
            "depth": m(ZERO),
            "is_refunded": False,
            "quantity_refunded": 0,
            "refund_amount": m(ZERO),
            "return_id": 0,
            "wrapping_id": 0,
            "wrapping_name": "",
            "base_wrapping_cost": m(ZERO),
            "wrapping_cost_ex_tax": m(ZERO),
            "wrapping_cost_inc_tax": m(ZERO),
            "wrapping_cost_tax": m(ZERO),
            "wrapping_message": "",
            "quantity_shipped": 0,
            "event_name": None,
            "event_date": None,
            "fixed_shipping_cost": m(ZERO),
            "ebay_item_id": "",
            "ebay_transaction_id": "",
            "option_set_id": None,
            "parent_order_product_id": None,
            "is_bundled_product": False,
            "bin_picking_number": "",
            "external_id": None,
            "brand": "",
            "applied_discounts": applied,
            "product_options": [],
            "configurable_fields": [],
            "gift_certificate_id": None,
            "discounted_total_inc_tax": m(self.total_inc_tax - discount),
        }


def _check_keys(item: dict[str, Any], where: str) -> None:
    for key in item:
        if key not in WRITABLE:
            raise read_only(f"{where}.{key}")


def _names(item: dict[str, Any], where: str) -> tuple[str | None, str | None]:
    """(name shared with name_customer, name_merchant) as sent, validated."""
    for key in ("name", "name_customer", "name_merchant"):
        if key in item:
            value = text(item[key], f"{where}.{key}", 250)
            if not value:
                raise invalid(f"{where}.{key}", "It must not be empty.")
    name, customer = item.get("name"), item.get("name_customer")
    if name is not None and customer is not None and name != customer:
        raise invalid(f"{where}.name_customer", "It must equal 'name' when both are sent.")
    return name if name is not None else customer, item.get("name_merchant")


def _prices(item: dict[str, Any], where: str) -> tuple[Decimal, Decimal] | None:
    has_ex, has_inc = "price_ex_tax" in item, "price_inc_tax" in item
    if has_ex != has_inc:
        missing = "price_inc_tax" if has_ex else "price_ex_tax"
        raise V2InputError(
            f"The field '{where}.{missing}' must be sent together with "
            f"'{where}.{'price_ex_tax' if has_ex else 'price_inc_tax'}'."
        )
    if not has_ex:
        return None
    for key in ("price_ex_tax", "price_inc_tax"):
        # Unlike order-level money, line prices are JSON numbers (orderCustomProduct_Post).
        if isinstance(item[key], str):
            raise invalid(f"{where}.{key}", "Expected a number.")
    return (
        money(item["price_ex_tax"], f"{where}.price_ex_tax"),
        money(item["price_inc_tax"], f"{where}.price_inc_tax"),
    )


def new_line(item: Any, where: str, line_id: int) -> OrderLine:
    """A line from a POST product, or a PUT product without ``id`` (an added line)."""
    if not isinstance(item, dict):
        raise invalid(where, "Expected an object.")
    _check_keys(item, where)
    if "id" in item:
        raise read_only(f"{where}.id")
    product_id = integer(item.get("product_id", 0), f"{where}.product_id")
    name, merchant = _names(item, where)
    prices = _prices(item, where)
    if "quantity" not in item:
        raise required(f"{where}.quantity")
    quantity = integer(item["quantity"], f"{where}.quantity", minimum=1)
    if product_id == 0:  # a custom product: name and both prices are required
        if name is None and merchant is None:
            raise required(f"{where}.name")
        if prices is None:
            raise required(f"{where}.price_ex_tax")
    else:  # the emulator has no catalog: a catalog product gets a generic name and price 0
        name = name or merchant or f"Product {product_id}"
        prices = prices or (ZERO, ZERO)
    shared = name if name is not None else merchant
    assert shared is not None
    return OrderLine(
        id=line_id,
        product_id=product_id,
        variant_id=integer(item.get("variant_id", 0), f"{where}.variant_id"),
        name=shared,
        name_merchant=merchant or shared,
        sku=str(text(item.get("sku", ""), f"{where}.sku", 255)),
        upc=str(text(item.get("upc", ""), f"{where}.upc", 255)),
        quantity=quantity,
        price_ex_tax=prices[0],
        price_inc_tax=prices[1],
    )


def patch_line(line: OrderLine, item: dict[str, Any], where: str) -> None:
    """Apply a PUT product that carries ``id`` (quantity 0 is handled by the caller)."""
    _check_keys(item, where)
    name, merchant = _names(item, where)
    prices = _prices(item, where)
    if "quantity" in item:
        line.quantity = integer(item["quantity"], f"{where}.quantity", minimum=1)
    if name is not None:
        line.name = name
    if merchant is not None:
        line.name_merchant = merchant
    if prices is not None:
        line.price_ex_tax, line.price_inc_tax = prices
    for key in ("sku", "upc"):
        if key in item:
            setattr(line, key, str(text(item[key], f"{where}.{key}", 255)))
    if "product_id" in item:
        line.product_id = integer(item["product_id"], f"{where}.product_id")
    if "variant_id" in item:
        line.variant_id = integer(item["variant_id"], f"{where}.variant_id")


def apply_lines(
    lines: list[OrderLine],
    items: Any,
    where: str,
    creating: bool,
    next_id: Callable[[], int],
) -> None:
    """Apply the ``products`` of a POST or PUT (or a pickup's ``line_items``) to ``lines``:
    on PUT an item without ``id`` is added, one with ``id`` patches that line, and one with
    ``id`` and ``quantity: 0`` removes it (reference §5.4)."""
    if not isinstance(items, list) or (creating and not items):
        raise invalid(where, "Expected a non-empty list of products.")
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        if creating or not isinstance(item, dict) or "id" not in item:
            lines.append(new_line(item, at, next_id()))
            continue
        line = next((ln for ln in lines if ln.id == item["id"]), None)
        if line is None:
            raise invalid(f"{at}.id", f"The order has no product line {item['id']}.")
        if item.get("quantity") == 0:  # quantity 0 removes the line
            lines.remove(line)
        else:
            patch_line(line, item, at)


def discount_shares(lines: list[OrderLine], discount: Decimal) -> list[Decimal]:
    """A manual discount spread over lines in proportion to their ``price_ex_tax`` totals."""
    subtotal = sum((line.total_ex_tax for line in lines), ZERO)
    if discount <= 0 or subtotal <= 0:
        return [ZERO] * len(lines)
    return [discount * line.total_ex_tax / subtotal for line in lines]
