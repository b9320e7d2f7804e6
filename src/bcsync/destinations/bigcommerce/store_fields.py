"""Every field a mapping can name for one store: the native catalogue and the store's own fields.

For the mapping form: native fields (``catalog``, with their types), the store's customer
attributes (``GET /v3/customers/attributes``), its customer form fields and the metafields in
use. BigCommerce's API has no list of form-field *definitions*, so the form fields listed are
the names some customer already has a value for (``/v3/customers/form-field-values``, first
page); metafields likewise are the namespace and key pairs found on the first page of
``/v3/{customers|orders}/metafields`` (a mapping may name any other one). Each field says which
column types (Arrow families, ``arrow_family``) can fill it, for the form's type check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bcsync.config.project import DestinationConfig
from bcsync.destinations.bigcommerce.catalog import OBJECTS, PREFIXED
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.customer_consent import CATEGORIES
from bcsync.errors import ApiError

FAMILIES = ("string", "integer", "number", "boolean", "date", "timestamp", "json")
SCALARS = ("string", "integer", "number", "boolean", "date", "timestamp")
# Which column families can become a value of each field kind (fields._COMPATIBLE, with a
# date column split into date and timestamp).
KIND_ACCEPTS: dict[str, tuple[str, ...]] = {
    "string": SCALARS,
    "integer": ("integer", "number", "string"),
    "number": ("integer", "number", "string"),
    "money": ("integer", "number", "string"),
    "boolean": ("boolean", "integer", "string"),
    "int_list": ("json", "string"),
    "json": ("json", "string"),
    "date": ("date", "timestamp", "string"),
    "rfc2822": ("date", "timestamp", "string"),
}
ATTRIBUTE_ACCEPTS: dict[str, tuple[str, ...]] = {
    "string": SCALARS,
    "number": ("integer", "number"),  # as CustomerExtras.load_attributes checks them
    "date": ("date", "timestamp", "string"),
}
ATTRIBUTE_TYPES = tuple(ATTRIBUTE_ACCEPTS)
FIRST_PAGE = {"limit": "250"}
TIMEOUT = 15.0


@dataclass(frozen=True)
class StoreField:
    field: str  # as a mapping writes it
    kind: str  # native | attribute | form_field | metafield
    type: str
    accepts: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "kind": self.kind,
            "type": self.type,
            "accepts": list(self.accepts),
        }


@dataclass
class FieldList:
    fields: list[StoreField]
    metafield_namespaces: list[str] = field(default_factory=list)
    not_listed: list[str] = field(default_factory=list)  # what the list cannot show, and why
    store_read: bool = False  # the store's own fields are in the list

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": [item.to_json() for item in self.fields],
            "metafield_namespaces": self.metafield_namespaces,
            "not_listed": self.not_listed,
        }


def arrow_family(arrow_type: str) -> str:
    """The family of an Arrow type's text (``int64`` → integer, ``timestamp[us]`` → timestamp)."""
    lowered = arrow_type.lower()
    if "vendor_name=bcsync" in lowered or lowered.startswith(("decimal", "double", "float")):
        return "number"
    if lowered.startswith(("int", "uint")):
        return "integer"
    if lowered.startswith("halffloat"):
        return "number"
    if lowered in ("bool", "boolean"):
        return "boolean"
    if lowered.startswith("timestamp"):
        return "timestamp"
    if lowered.startswith(("date", "time")):
        return "date"
    if lowered.startswith(("list", "large_list", "struct", "map", "extension<arrow.json")):
        return "json"
    return "string"


def native_fields(obj: str) -> list[StoreField]:
    """The object's native fields, as ``bcsync fields`` lists them."""
    found = [
        StoreField(spec.name, "native", spec.kind, KIND_ACCEPTS[spec.kind])
        for spec in OBJECTS[obj].values()
    ]
    for prefix, specs in PREFIXED.get(obj, {}).items():
        found.extend(
            StoreField(f"{prefix}.{spec.name}", "native", spec.kind, KIND_ACCEPTS[spec.kind])
            for spec in specs.values()
        )
    if obj == "customers":
        found.extend(
            StoreField(f"consent.{category}", "native", "boolean", KIND_ACCEPTS["boolean"])
            for category in CATEGORIES
        )
        found.append(StoreField("consent", "native", "json", KIND_ACCEPTS["json"]))
        found.append(StoreField("addresses", "native", "json", KIND_ACCEPTS["json"]))
    return found


def _client(destination: DestinationConfig) -> BigCommerceClient:
    return BigCommerceClient(
        api_url=destination.api_url,
        store_hash=destination.store_hash,
        access_token=destination.access_token.get_secret_value(),
        timeout=TIMEOUT,
        max_attempts=2,
    )


def list_fields(destination: DestinationConfig | None, obj: str) -> FieldList:
    """Native fields, then what the store defines (blocking). With no usable destination, or
    when the store cannot be read, the native ones and a word on what is missing."""
    listed = FieldList(native_fields(obj))
    if destination is None:
        listed.not_listed.append("the store's own fields: the destination is not set up yet")
        return listed
    try:
        asyncio.run(_store_fields(_client(destination), obj, listed))
        listed.store_read = True
    except ApiError as exc:
        listed.not_listed.append(f"the store's own fields: {exc}")
    return listed


async def _store_fields(client: BigCommerceClient, obj: str, listed: FieldList) -> None:
    async with client:
        if obj == "customers":
            listed.fields.extend(await _attributes(client))
            listed.fields.extend(await _form_fields(client))
            listed.not_listed.append(
                "form fields no customer has a value for yet (BigCommerce's API does not list "
                "form-field definitions): a mapping may still name form_fields.<name>"
            )
        pairs = await _metafields(client, obj)
        listed.metafield_namespaces = sorted({namespace for namespace, _ in pairs})
        listed.fields.extend(
            StoreField(f"metafields.{namespace}.{key}", "metafield", "string", (*SCALARS, "json"))
            for namespace, key in sorted(pairs)
        )
        listed.not_listed.append(
            "metafields beyond the first 250 found: a mapping may name any "
            "metafields.<namespace>.<key>"
        )


async def _attributes(client: BigCommerceClient) -> list[StoreField]:
    found = []
    async for page in client.get_all("/v3/customers/attributes", params=FIRST_PAGE, v=3):
        for attribute in page:
            kind = str(attribute.get("type", "string"))
            accepts = ATTRIBUTE_ACCEPTS.get(kind, SCALARS)
            found.append(StoreField(f"attributes.{attribute['name']}", "attribute", kind, accepts))
    return found


async def _form_fields(client: BigCommerceClient) -> list[StoreField]:
    response = await client.request("GET", "/v3/customers/form-field-values", params=FIRST_PAGE)
    names = {str(item["name"]) for item in _data(response.body) if item.get("name")}
    return [
        StoreField(f"form_fields.{name}", "form_field", "string", SCALARS) for name in sorted(names)
    ]


async def _metafields(client: BigCommerceClient, obj: str) -> set[tuple[str, str]]:
    response = await client.request("GET", f"/v3/{obj}/metafields", params=FIRST_PAGE)
    return {
        (str(item["namespace"]), str(item["key"]))
        for item in _data(response.body)
        if item.get("namespace") and item.get("key")
    }


def _data(body: Any) -> Sequence[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    return [item for item in data or [] if isinstance(item, dict)]


def create_attribute(destination: DestinationConfig, name: str, kind: str) -> dict[str, Any]:
    """Create a customer attribute (``POST /v3/customers/attributes``); returns it as created.
    Raises ValueError for a type BigCommerce does not have, ApiError for its refusal."""
    if kind not in ATTRIBUTE_TYPES:
        raise ValueError(f"an attribute's type is one of {', '.join(ATTRIBUTE_TYPES)}")
    if not name.strip():
        raise ValueError("an attribute needs a name")

    async def create() -> dict[str, Any]:
        async with _client(destination) as client:
            response = await client.request(
                "POST",
                "/v3/customers/attributes",
                json=[{"name": name.strip(), "type": kind}],
                write_kind="create",
            )
        created = _data(response.body)
        return dict(created[0]) if created else {"name": name.strip(), "type": kind}

    return asyncio.run(create())
