"""Value rules of orders v2: money, dates, addresses and the v2 error messages (reference §5, §7).

Everything here is pure: it turns request values into stored values and stored values into the
strings BigCommerce sends back, or raises :class:`V2InputError` with the v2 message.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

FOUR_PLACES = Decimal("0.0001")
ZERO = Decimal(0)
EXCHANGE_RATE_ONE = "1.0000000000"

ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip",
    "country",
    "country_iso2",
    "phone",
    "email",
)


class V2InputError(Exception):
    """A request the v2 API refuses; ``message`` is what goes into ``[{"status", "message"}]``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def read_only(field: str) -> V2InputError:
    return V2InputError(
        f"The field '{field}' cannot be written to. "
        "Please remove it from your request before trying again."
    )


def required(field: str) -> V2InputError:
    return V2InputError(f"The required field '{field}' was not supplied.")


def invalid(field: str, why: str = "") -> V2InputError:
    return V2InputError(f"The field '{field}' is invalid." + (f" {why}" if why else ""))


def money(value: Any, field: str) -> Decimal:
    """A non-negative amount from a number or numeric string (``12``, ``12.5``, ``"12.5000"``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(field, "Expected a number.")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(field, "Expected a number.") from None
    if not amount.is_finite() or amount < 0:
        raise invalid(field, "The value can't be negative.")
    return amount


def money_str(amount: Decimal) -> str:
    """Money as BigCommerce v2 returns it: a string with 4 decimals."""
    return str(amount.quantize(FOUR_PLACES))


def integer(value: Any, field: str, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise invalid(field, "Expected an integer.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise invalid(field, "Expected an integer.")
    if value < minimum:
        raise invalid(field, f"The value must be at least {minimum}.")
    return value


def text(value: Any, field: str, max_len: int | None = None, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise invalid(field, "Expected a string.")
    if max_len is not None and len(value) > max_len:
        raise invalid(field, f"It must be at most {max_len} characters long.")
    return value


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(field, "Expected true or false.")
    return value


def parse_date(value: str) -> datetime | None:
    """An RFC 2822 or ISO 8601 timestamp as an aware UTC datetime; ``None`` if it is neither."""
    value = value.strip()
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def rfc2822(moment: datetime) -> str:
    """``Tue, 05 Mar 2019 21:40:11 +0000``: how every v2 date comes back."""
    return email.utils.format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def address(value: Any, field: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """An order address with every field present (``""`` when unset), patched onto ``base``."""
    if not isinstance(value, dict):
        raise invalid(field, "Expected an object.")
    result: dict[str, Any] = dict(base) if base else dict.fromkeys(ADDRESS_FIELDS, "")
    result.setdefault("form_fields", [])
    for key, item in value.items():
        if key in ADDRESS_FIELDS:
            result[key] = "" if item is None else text(item, f"{field}.{key}", 255)
        elif key == "form_fields":
            if not isinstance(item, list) or not all(
                isinstance(f, dict) and "name" in f for f in item
            ):
                raise invalid(f"{field}.form_fields", "Expected a list of {name, value}.")
            result["form_fields"] = [{"name": f["name"], "value": f.get("value")} for f in item]
        elif key not in ("id", "shipping_method"):
            raise invalid(f"{field}.{key}", "Unknown address field.")
    return result
