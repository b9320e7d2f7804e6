"""Order fees (reference §5.2, §5.4; OpenAPI orderFees_Post, orderFees_Put, orderFees_Resp).

A fee is an order-level charge such as a packaging or insurance fee:

- sent on ``POST /v2/orders`` as ``fees: [...]``, each without ``id``;
- replaced in full on ``PUT``: fees left out are deleted, fees with an ``id`` are updated, fees
  without one are created. The emulator validates an updated fee like a new one (all its fields
  are sent again); whether BigCommerce keeps the omitted fields of an updated fee is UNCONFIRMED;
- shown by ``GET /v2/orders/{id}/fees`` as ``{"fees": [...]}`` and in the order with
  ``include=fees`` as a list.

Rules from the OpenAPI file: ``type`` is ``custom_fee``; at least one of
``display_name_customer``/``display_name_merchant`` (the other takes its value, as the spec's
examples show); at least two of ``cost_ex_tax``/``cost_inc_tax``/``cost_tax`` (the third is
derived); money as a float, a float-as-string or an integer; ``tax_class_id`` an integer or null.

UNCONFIRMED choices of the emulator: ``type`` defaults to ``custom_fee`` when left out; ``source``
defaults to ``""``; costs can't be negative and all three must agree when all three are sent;
``base_cost`` equals ``cost_ex_tax``; fee ids come from the store-wide counter of order line and
address ids; a PUT ``id`` that is not one of the order's fees is a 400; ``cost_exc_tax`` (spelled so
in some of the spec's examples) is an unknown field and refused like any other.
"""

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
    text,
)

COSTS = ("cost_ex_tax", "cost_inc_tax", "cost_tax")
NAMES = ("display_name_customer", "display_name_merchant")
WRITABLE = frozenset({"type", *NAMES, "source", *COSTS, "tax_class_id"})


@dataclass
class Fee:
    id: int
    display_name_customer: str
    display_name_merchant: str
    source: str
    cost_ex_tax: Decimal
    cost_inc_tax: Decimal
    tax_class_id: int | None = None
    type: str = "custom_fee"

    def as_json(self) -> dict[str, Any]:
        """The fee as ``orderFees_Resp``: money as 4-decimal strings."""
        m = money_str
        return {
            "id": self.id,
            "type": self.type,
            "display_name_customer": self.display_name_customer,
            "display_name_merchant": self.display_name_merchant,
            "source": self.source,
            "base_cost": m(self.cost_ex_tax),
            "cost_ex_tax": m(self.cost_ex_tax),
            "cost_inc_tax": m(self.cost_inc_tax),
            "cost_tax": m(self.cost_inc_tax - self.cost_ex_tax),
            "tax_class_id": self.tax_class_id,
        }

    def to_plain(self) -> dict[str, Any]:
        return {
            **vars(self),
            "cost_ex_tax": str(self.cost_ex_tax),
            "cost_inc_tax": str(self.cost_inc_tax),
        }

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Fee:
        return cls(
            **{
                **data,
                "cost_ex_tax": Decimal(data["cost_ex_tax"]),
                "cost_inc_tax": Decimal(data["cost_inc_tax"]),
            }
        )


def create(items: Any, next_id: Callable[[], int]) -> list[Fee]:
    """The fees of a ``POST /v2/orders`` body."""
    _check_list(items)
    fees = []
    for index, item in enumerate(items):
        where = f"fees[{index}]"
        _check_object(item, where)
        if "id" in item:
            raise read_only(f"{where}.id")
        fees.append(_fee(item, where, next_id()))
    return fees


def replace(current: list[Fee], items: Any, next_id: Callable[[], int]) -> list[Fee]:
    """The fees after a ``PUT /v2/orders/{id}`` that sends ``fees`` (full replace)."""
    _check_list(items)
    known = {fee.id for fee in current}
    seen: set[int] = set()
    fees = []
    for index, item in enumerate(items):
        where = f"fees[{index}]"
        _check_object(item, where)
        if "id" in item:
            fee_id = integer(item["id"], f"{where}.id", minimum=1)
            if fee_id not in known:
                raise invalid(f"{where}.id", f"The order has no fee {fee_id}.")
            if fee_id in seen:
                raise invalid(f"{where}.id", f"Fee {fee_id} is sent twice.")
            seen.add(fee_id)
        else:
            fee_id = 0  # numbered below, once every fee is valid
        fees.append(_fee(item, where, fee_id))
    for fee in fees:
        if fee.id == 0:
            fee.id = next_id()
    return fees


def totals(fees: list[Fee]) -> tuple[Decimal, Decimal]:
    """The fees' sum, (ex tax, inc tax)."""
    return (
        sum((fee.cost_ex_tax for fee in fees), ZERO),
        sum((fee.cost_inc_tax for fee in fees), ZERO),
    )


def _check_list(items: Any) -> None:
    if not isinstance(items, list):
        raise invalid("fees", "Expected a list of fees.")


def _check_object(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise invalid(where, "Expected an object.")
    for key in item:
        if key != "id" and key not in WRITABLE:
            raise read_only(f"{where}.{key}")


def _fee(item: dict[str, Any], where: str, fee_id: int) -> Fee:
    kind = item.get("type", "custom_fee")
    if kind != "custom_fee":
        raise invalid(f"{where}.type", "The only fee type is 'custom_fee'.")
    names = {key: text(item[key], f"{where}.{key}", 255) for key in NAMES if key in item}
    given = {key: value for key, value in names.items() if value}
    if not given:
        raise V2InputError(
            f"The fee '{where}' needs 'display_name_customer' or 'display_name_merchant'."
        )
    customer = given.get("display_name_customer") or given["display_name_merchant"]
    merchant = given.get("display_name_merchant") or customer
    ex, inc = _costs(item, where)
    tax_class = item.get("tax_class_id")
    if tax_class is not None and (isinstance(tax_class, bool) or not isinstance(tax_class, int)):
        raise invalid(f"{where}.tax_class_id", "Expected an integer or null.")
    return Fee(
        id=fee_id,
        display_name_customer=str(customer),
        display_name_merchant=str(merchant),
        source=str(text(item.get("source", ""), f"{where}.source", 255)),
        cost_ex_tax=ex,
        cost_inc_tax=inc,
        tax_class_id=tax_class,
    )


def _costs(item: dict[str, Any], where: str) -> tuple[Decimal, Decimal]:
    """(ex tax, inc tax) from at least two of the three costs."""
    sent = {key: money(item[key], f"{where}.{key}") for key in COSTS if key in item}
    if len(sent) < 2:
        raise V2InputError(
            f"The fee '{where}' needs at least two of 'cost_ex_tax', 'cost_inc_tax' and 'cost_tax'."
        )
    ex = sent.get("cost_ex_tax")
    inc = sent.get("cost_inc_tax")
    tax = sent.get("cost_tax")
    if ex is None:
        assert inc is not None and tax is not None
        ex = inc - tax
        if ex < 0:
            raise invalid(f"{where}.cost_tax", "It can't be more than 'cost_inc_tax'.")
    elif inc is None:
        assert tax is not None
        inc = ex + tax
    elif inc < ex:
        raise invalid(f"{where}.cost_inc_tax", "It can't be less than 'cost_ex_tax'.")
    if tax is not None and inc - ex != tax:
        raise invalid(f"{where}.cost_tax", "It must equal 'cost_inc_tax' - 'cost_ex_tax'.")
    return ex, inc
