"""Order line items (``products``) from a JSON or list column, checked before sending.

A custom product (no ``product_id``) needs ``name`` (1–250 characters), ``quantity`` and both
``price_inc_tax`` and ``price_ex_tax``; a catalog product needs ``product_id`` and ``quantity``.
Prices go out as numbers, as the v2 order-product request schema wants them. A NaN or ±Infinity
anywhere in a line (a price, or deep in ``product_options``) makes the row invalid: it is not JSON.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

from bcsync.destinations.bigcommerce.fields import ValueProblem, non_finite

_NUMBER_KEYS = ("price_inc_tax", "price_ex_tax", "wrapping_cost_ex_tax", "wrapping_cost_inc_tax")
_INTEGER_KEYS = ("product_id", "quantity", "variant_id", "wrapping_id")


def _number(key: str, value: Any, position: int) -> float:
    if isinstance(value, bool):
        raise ValueProblem(f"product {position}: {key} must be a number")
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise ValueProblem(f"product {position}: {key} must be a number, got {value!r}") from exc
    if not number.is_finite() or number < 0:
        raise ValueProblem(f"product {position}: {key} must be a non-negative number")
    return float(number)


def _integer(key: str, value: Any, position: int) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueProblem(f"product {position}: {key} must be an integer")
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise ValueProblem(f"product {position}: {key} must be an integer, got {value!r}") from exc
    if number != number.to_integral_value():
        raise ValueProblem(f"product {position}: {key} must be an integer, got {value!r}")
    return int(number)


def products_payload(value: Any) -> list[dict[str, Any]] | None:
    """The ``products`` array for ``POST /v2/orders``; raises ValueProblem naming the line."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueProblem(f"not valid JSON ({exc.msg})") from exc
    scalar_problem = None if isinstance(value, (dict, list, tuple)) else non_finite(value)
    if scalar_problem:
        raise ValueProblem(scalar_problem)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueProblem("expected a non-empty list of products")
    lines = []
    for position, raw in enumerate(value, start=1):
        if not isinstance(raw, dict):
            raise ValueProblem(f"product {position} is not an object")
        problem = non_finite(raw)
        if problem:
            raise ValueProblem(f"product {position}: {problem}")
        line = {k: v for k, v in raw.items() if v is not None}
        for key in _NUMBER_KEYS:
            if key in line:
                line[key] = _number(key, line[key], position)
        for key in _INTEGER_KEYS:
            if key in line:
                line[key] = _integer(key, line[key], position)
        if line.get("quantity", 0) < 1:
            raise ValueProblem(f"product {position}: quantity must be at least 1")
        if "product_id" not in line:
            missing = [k for k in ("name", "price_inc_tax", "price_ex_tax") if k not in line]
            if missing:
                raise ValueProblem(
                    f"product {position} is a custom product and needs {', '.join(missing)}"
                )
            name = str(line["name"])
            if not 1 <= len(name) <= 250:
                raise ValueProblem(f"product {position}: name must be 1 to 250 characters")
        lines.append(line)
    return lines


def check_products(column: str, value: Any) -> list[str]:
    """Reasons the products column of a row to be created is unusable (empty when fine)."""
    try:
        if products_payload(value) is None:
            return [f"column '{column}' (products): an order needs at least one product"]
    except ValueProblem as exc:
        return [f"column '{column}' (products): {exc}"]
    return []
