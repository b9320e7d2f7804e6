"""Order ``fees`` and pickup ``consignments`` from JSON columns, checked before sending.

Fees (OpenAPI ``orderFees_Post``/``_Put``): a list of ``{type, display_name_customer,
display_name_merchant, source, cost_ex_tax, cost_inc_tax, cost_tax, tax_class_id}``. ``type`` is
``custom_fee`` (filled in when left out); at least one display name; at least two of the three
costs, each a non-negative amount of at most 4 decimals (sent as BigCommerce's 4-decimal string);
when all three are given they must agree, and ``cost_inc_tax`` is never below ``cost_ex_tax``. A
fee's ``id`` is BigCommerce's, never the model's: an update re-sends the full set without ids,
which BigCommerce's full-replace semantics (reference §5.4) turn into exactly the model's fees.

Pickup consignments (``orderConsignment_Post``/``_Put``): ``{"pickups": [one pickup]}`` with
``pickup_method_id`` and ``line_items`` required; the line items follow the ``products`` rules
(``order_lines``). A pickup's ``id`` is BigCommerce's too: on update bcsync reads it from the
order's ``/consignments`` (``pin_pickup``), and sends only the line items that changed.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Mapping, Sequence
from typing import Any

from bcsync.destinations.bigcommerce.fields import FieldSpec, ValueProblem, convert, non_finite
from bcsync.destinations.bigcommerce.order_lines import products_payload

FEE_COSTS = ("cost_ex_tax", "cost_inc_tax", "cost_tax")
FEE_NAMES = ("display_name_customer", "display_name_merchant")
FEE_FIELDS = ("type", *FEE_NAMES, "source", *FEE_COSTS, "tax_class_id")
_MONEY = FieldSpec("cost", "money")
_TEXT_MAX = 255

# pickupConsignment_Base text fields with their maximum lengths (None: none documented).
PICKUP_TEXTS: Mapping[str, int | None] = {
    "pickup_method_display_name": 250,
    "collection_instructions": None,
    "collection_time_description": 250,
}
# pickupConsignmentLocation_Base fields with their maximum lengths.
LOCATION_FIELDS: Mapping[str, int] = {
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
PICKUP_FIELDS = ("pickup_method_id", *PICKUP_TEXTS, "location", "line_items")
# The order-line fields a model's line item is compared on with the store's (``line_changes``).
_COMPARED = (
    "product_id", "variant_id", "name", "name_customer", "name_merchant", "sku", "upc",
    "quantity", "price_ex_tax", "price_inc_tax",
)  # fmt: skip


def _loaded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueProblem(f"not valid JSON ({exc.msg})") from exc
    problem = non_finite(value)
    if problem:
        raise ValueProblem(problem)
    return value


def _text(value: Any, where: str, max_len: int | None) -> str:
    if not isinstance(value, (str, int, float, decimal.Decimal)) or isinstance(value, bool):
        raise ValueProblem(f"{where} must be text")
    text = value if isinstance(value, str) else str(value)
    if max_len is not None and len(text) > max_len:
        raise ValueProblem(f"{where} is {len(text)} characters long; the maximum is {max_len}")
    return text


def _unknown(item: Mapping[str, Any], known: Sequence[str], where: str, whose: str) -> None:
    if "id" in item:
        raise ValueProblem(
            f"{where}: leave 'id' out: {whose} ids are BigCommerce's, and bcsync finds them itself"
        )
    unknown = sorted(str(key) for key in item if key not in known)
    if unknown:
        raise ValueProblem(
            f"{where}: unknown field {', '.join(repr(k) for k in unknown)} "
            f"(known: {', '.join(known)})"
        )


# -- fees ------------------------------------------------------------------------------------


def fees_payload(value: Any) -> list[dict[str, Any]] | None:
    """The ``fees`` array for ``POST``/``PUT /v2/orders``; raises ValueProblem naming the fee.
    None stays None; an empty list is no fees."""
    if value is None:
        return None
    value = _loaded(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueProblem("expected a list of fees")
    return [_fee(raw, f"fee {position}") for position, raw in enumerate(value, start=1)]


def _fee(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueProblem(f"{where} is not an object")
    item = {key: v for key, v in raw.items() if v is not None}
    _unknown(item, FEE_FIELDS, where, "fee")
    kind = item.get("type", "custom_fee")
    if kind != "custom_fee":
        raise ValueProblem(f"{where}: type must be 'custom_fee', got {kind!r}")
    fee: dict[str, Any] = {"type": "custom_fee"}
    for key in FEE_NAMES:
        if key in item:
            name = _text(item[key], f"{where}: {key}", _TEXT_MAX)
            if name.strip():  # a blank one is left out: BigCommerce copies the other into it
                fee[key] = name
    if not any(key in fee for key in FEE_NAMES):
        raise ValueProblem(f"{where} needs display_name_customer or display_name_merchant")
    if "source" in item:
        fee["source"] = _text(item["source"], f"{where}: source", _TEXT_MAX)
    costs: dict[str, decimal.Decimal] = {}
    for key in FEE_COSTS:
        if key in item:
            try:
                fee[key] = convert(_MONEY, item[key])
            except ValueProblem as exc:
                raise ValueProblem(f"{where}: {key}: {exc}") from None
            costs[key] = decimal.Decimal(fee[key])
    if len(costs) < 2:
        raise ValueProblem(f"{where} needs at least two of cost_ex_tax, cost_inc_tax and cost_tax")
    ex, inc, tax = (costs.get(key) for key in FEE_COSTS)
    if ex is not None and inc is not None and inc < ex:
        raise ValueProblem(f"{where}: cost_inc_tax {inc} is less than cost_ex_tax {ex}")
    if ex is None and inc is not None and tax is not None and tax > inc:
        raise ValueProblem(f"{where}: cost_tax {tax} is more than cost_inc_tax {inc}")
    if ex is not None and inc is not None and tax is not None and inc - ex != tax:
        raise ValueProblem(f"{where}: cost_tax {tax} is not cost_inc_tax - cost_ex_tax")
    if "tax_class_id" in item:
        tax_class = item["tax_class_id"]
        if isinstance(tax_class, bool) or not _is_integer(tax_class):
            raise ValueProblem(f"{where}: tax_class_id must be an integer, got {tax_class!r}")
        fee["tax_class_id"] = int(tax_class)
    return fee


def _is_integer(value: Any) -> bool:
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        return False
    return number.is_finite() and number == number.to_integral_value()


# -- pickups ---------------------------------------------------------------------------------


def pickup_payload(value: Any) -> dict[str, Any] | None:
    """The ``consignments`` object for ``POST /v2/orders`` (``{"pickups": [one pickup]}``);
    raises ValueProblem naming what is wrong. None stays None."""
    if value is None:
        return None
    value = _loaded(value)
    if not isinstance(value, dict) or set(value) != {"pickups"}:
        raise ValueProblem('expected an object {"pickups": [one pickup consignment]}')
    pickups = value["pickups"]
    if not isinstance(pickups, (list, tuple)) or not pickups:
        raise ValueProblem("pickups must be a list holding one pickup consignment")
    if len(pickups) > 1:
        raise ValueProblem(
            f"an order has at most one pickup consignment, this one has {len(pickups)}"
        )
    raw = pickups[0]
    where = "pickup"
    if not isinstance(raw, dict):
        raise ValueProblem(f"{where} is not an object")
    item = {key: v for key, v in raw.items() if v is not None}
    _unknown(item, PICKUP_FIELDS, where, "pickup consignment")
    for key in ("pickup_method_id", "line_items"):
        if key not in item:
            raise ValueProblem(f"{where} needs {key}")
    method = item["pickup_method_id"]
    if isinstance(method, bool) or not _is_integer(method) or int(method) < 1:
        raise ValueProblem(f"{where}: pickup_method_id must be a positive integer, got {method!r}")
    pickup: dict[str, Any] = {"pickup_method_id": int(method)}
    for key, max_len in PICKUP_TEXTS.items():
        if key in item:
            pickup[key] = _text(item[key], f"{where}: {key}", max_len)
    if "location" in item:
        pickup["location"] = _location(item["location"], f"{where}: location")
    try:
        pickup["line_items"] = products_payload(item["line_items"])
    except ValueProblem as exc:
        raise ValueProblem(f"{where}: line_items: {exc}") from None
    return {"pickups": [pickup]}


def _location(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueProblem(f"{where} is not an object")
    location = {key: v for key, v in value.items() if v is not None}
    _unknown(location, tuple(LOCATION_FIELDS), where, "location")
    result = {key: _text(v, f"{where}.{key}", LOCATION_FIELDS[key]) for key, v in location.items()}
    country = result.get("country_alpha2")
    if country is not None and not (len(country) == 2 and country.isalpha()):
        raise ValueProblem(f"{where}.country_alpha2 must be a 2-letter ISO code, got {country!r}")
    return result


def pin_pickup(
    consignments: dict[str, Any], stored: Mapping[str, Any], order_id: str
) -> dict[str, Any]:
    """The ``consignments`` of a ``PUT`` for an order whose pickup BigCommerce answered as
    ``stored`` (``GET /v2/orders/{id}/consignments?include=consignments.line_items``): the
    pickup's ``id`` read from the store, and only the line items that changed (ValueProblem
    when the order has no pickup to update)."""
    found = stored.get("pickups") or []
    if not found:
        raise ValueProblem(
            f"order {order_id} has no pickup consignment to update: BigCommerce cannot turn a "
            "shipped order into a pickup"
        )
    (pickup,) = consignments["pickups"]
    pinned = {"id": int(found[0]["id"]), **pickup}
    lines = line_changes(pickup["line_items"], found[0].get("line_items") or [])
    if lines:
        pinned["line_items"] = lines
    else:
        del pinned["line_items"]
    return {"pickups": [pinned]}


def line_changes(
    wanted: Sequence[Mapping[str, Any]], held: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The ``line_items`` of a pickup ``PUT`` that make the order's lines ``held`` become
    ``wanted``: a held line equal to a wanted one (on the fields the model gives) is kept, a
    wanted line with no equal is added (no ``id``), a held line with no equal is removed
    (``id`` and ``quantity: 0``). Additions come first, so the pickup never has no line."""
    left = [line for line in held if isinstance(line, Mapping) and "id" in line]
    added = []
    for line in wanted:
        same = next((h for h in left if _same_line(line, h)), None)
        if same is None:
            added.append(dict(line))
        else:
            left.remove(same)
    return [*added, *({"id": int(h["id"]), "quantity": 0} for h in left)]


def _same_line(wanted: Mapping[str, Any], held: Mapping[str, Any]) -> bool:
    return all(_same_value(wanted[key], held.get(key)) for key in _COMPARED if key in wanted)


def _same_value(a: Any, b: Any) -> bool:
    try:
        return decimal.Decimal(str(a)) == decimal.Decimal(str(b))
    except decimal.InvalidOperation:
        return str(a) == str(b)
