"""The native fields of each BigCommerce object a mapping may name, with their types and limits.

One ``FieldSpec`` per field (``bcsync.destinations.bigcommerce.fields``): the type a value is
converted to, its length limits, whether BigCommerce requires it, and whether it may only be set
when the record is created. Custom fields (attributes, form fields, metafields) are not listed
here: they are the store's own, read from it.
"""

from __future__ import annotations

from collections.abc import Mapping

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
