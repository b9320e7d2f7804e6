"""The native fields of each BigCommerce object a mapping may name, with their types and limits.

One ``FieldSpec`` per field (``bcsync.destinations.bigcommerce.fields``): the type a value is
converted to, its length limits, whether BigCommerce requires it, and whether it may only be set
when the record is created. Custom fields (attributes, form fields, metafields) are not listed
here: they are the store's own, read from it; ``CUSTOM_FORMS`` lists the forms a mapping names
them with, and ``NOTES`` what a field's type and limits do not say (``bcsync fields`` and the
README's field table show both).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bcsync.destinations.bigcommerce.customer_addresses import ADDRESS_FIELDS
from bcsync.destinations.bigcommerce.customer_consent import CATEGORIES as CONSENT_CATEGORIES
from bcsync.destinations.bigcommerce.fields import FieldSpec

CUSTOMER_FIELDS: Mapping[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("email", "string", 3, 250, required=True, email=True),
        FieldSpec("first_name", "string", 1, 100, required=True),
        FieldSpec("last_name", "string", 1, 100, required=True),
        FieldSpec("company", "string", 0, 255),
        FieldSpec("phone", "string", 0, 50),
        FieldSpec("notes", "string"),
        FieldSpec("tax_exempt_category", "string", 0, 255),
        FieldSpec("customer_group_id", "integer"),
        FieldSpec("accepts_product_review_abandoned_cart_emails", "boolean"),
        FieldSpec("origin_channel_id", "integer", create_only=True),
        FieldSpec("channel_ids", "int_list"),
        FieldSpec("store_credit_amount", "number"),
        FieldSpec("authentication.force_password_reset", "boolean"),
        FieldSpec("trigger_account_created_notification", "boolean", create_only=True),
    )
}


_ADDRESS_PARTS = (
    "first_name", "last_name", "company", "street_1", "street_2", "city", "state", "zip",
    "country", "country_iso2", "phone", "email",
)  # fmt: skip

ORDER_FIELDS: Mapping[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        *(FieldSpec(f"billing_address.{part}", "string") for part in _ADDRESS_PARTS),
        FieldSpec("products", "json", create_only=False),
        FieldSpec("shipping_addresses", "json"),
        FieldSpec("fees", "json"),
        FieldSpec("consignments", "json"),
        FieldSpec("customer_id", "integer"),
        FieldSpec("status_id", "integer", required=True),
        FieldSpec("date_created", "rfc2822", create_only=True),
        FieldSpec("base_shipping_cost", "money"),
        FieldSpec("shipping_cost_ex_tax", "money"),
        FieldSpec("shipping_cost_inc_tax", "money"),
        FieldSpec("base_handling_cost", "money"),
        FieldSpec("handling_cost_ex_tax", "money"),
        FieldSpec("handling_cost_inc_tax", "money"),
        FieldSpec("base_wrapping_cost", "money"),
        FieldSpec("wrapping_cost_ex_tax", "money"),
        FieldSpec("wrapping_cost_inc_tax", "money"),
        FieldSpec("subtotal_ex_tax", "money"),
        FieldSpec("subtotal_inc_tax", "money"),
        FieldSpec("total_ex_tax", "money"),
        FieldSpec("total_inc_tax", "money"),
        FieldSpec("discount_amount", "money"),
        FieldSpec("customer_message", "string"),
        FieldSpec("staff_notes", "string", 0, 65535),
        FieldSpec("payment_method", "string"),
        FieldSpec("payment_provider_id", "string"),
        FieldSpec("order_is_digital", "boolean"),
        FieldSpec("items_total", "integer"),
        FieldSpec("items_shipped", "integer"),
        FieldSpec("ip_address", "string", 0, 30),
        FieldSpec("ip_address_v6", "string", 0, 39),
        FieldSpec("geoip_country", "string"),
        FieldSpec("geoip_country_iso2", "string", 0, 2),
        FieldSpec("channel_id", "integer"),
        FieldSpec("customer_locale", "string"),
        FieldSpec("ebay_order_id", "string"),
        FieldSpec("external_source", "string"),
        FieldSpec("external_order_id", "string"),
        FieldSpec("external_merchant_id", "string", create_only=True),
        FieldSpec("default_currency_code", "string", 0, 3, create_only=True),
    )
}
# Money fields that BigCommerce only accepts in pairs.
ORDER_PAIRS = (
    ("shipping_cost_ex_tax", "shipping_cost_inc_tax"),
    ("handling_cost_ex_tax", "handling_cost_inc_tax"),
    ("wrapping_cost_ex_tax", "wrapping_cost_inc_tax"),
    ("subtotal_ex_tax", "subtotal_inc_tax"),
    ("total_ex_tax", "total_inc_tax"),
)


@dataclass(frozen=True)
class FieldForm:
    """A form of mapping target that names a field the store defines (or a group of fields)."""

    form: str  # as written in a mapping's ``field``
    kind: str  # what the column holds
    note: str


CUSTOM_FORMS: Mapping[str, tuple[FieldForm, ...]] = {
    "customers": (
        FieldForm(
            "attributes.<name>", "attribute's type", "a customer attribute the store defines"
        ),
        FieldForm("form_fields.<name>", "string", "a customer form field the store defines"),
        FieldForm("metafields.<namespace>.<key>", "string", "namespace and key 1-64 characters"),
        FieldForm(
            "consent.<category>",
            "boolean",
            f"true allows, false denies: {', '.join(CONSENT_CATEGORIES)} (essential is never "
            "denied)",
        ),
        FieldForm("consent", "JSON", "list of the allowed categories"),
        FieldForm(
            "addresses",
            "JSON",
            "list of address objects (the address.<field> names as keys): the full set bcsync "
            "writes; addresses the customer added are never touched",
        ),
    ),
    "orders": (
        FieldForm("metafields.<namespace>.<key>", "string", "namespace and key 1-64 characters"),
    ),
}

# What a field's type and limits do not say, for ``bcsync fields`` and the README.
NOTES: Mapping[str, Mapping[str, str]] = {
    "customers": {
        "email": "a valid email address",
        "channel_ids": "list of channel ids",
        "address.country_code": "ISO 3166-1 alpha-2 (US)",
        "address.state_or_province": "needed where the country has states (US, CA, AU, ...)",
        "address.address_type": "residential or commercial",
    },
    "orders": {
        "products": "list of line items: custom (name, quantity, price_inc_tax, price_ex_tax) "
        "or catalog (product_id, quantity); insert mode only",
        "shipping_addresses": "list of addresses (billing address fields + shipping_method)",
        "fees": "list of {type: custom_fee, display_name_customer and/or display_name_merchant, "
        "two or three of cost_ex_tax/cost_inc_tax/cost_tax (>= 0), source, tax_class_id}; "
        "an update replaces every fee",
        "consignments": '{"pickups": [one pickup: pickup_method_id, line_items, location, '
        "pickup_method_display_name, ...]}; not with products or shipping_addresses",
        "status_id": "a status id or name (Shipped, Awaiting Fulfillment, ...)",
        "date_created": "a date and time, sent in RFC 2822",
        "billing_address.zip": "at least 2 characters to create an order",
    },
}

# Each sync ``object`` and its native fields.
OBJECTS: Mapping[str, Mapping[str, FieldSpec]] = {
    "customers": CUSTOMER_FIELDS,
    "orders": ORDER_FIELDS,
}
# Native fields a mapping names under a prefix, per object: ``address.<field>`` is a field of the
# customer's one synced address (``customer_addresses``).
PREFIXED: Mapping[str, Mapping[str, Mapping[str, FieldSpec]]] = {
    "customers": {"address": ADDRESS_FIELDS},
}
