"""``GET /v2/time`` and ``GET /v2/store``: the cheap credential checks (Information scope)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.responses import json_response


def store_information(store_hash: str) -> dict[str, Any]:
    """The store object of the reference §1.5, for a Standard-plan test store."""
    return {
        "id": store_hash,
        "account_uuid": "8d4d492f-17a1-4d95-b396-e1c5720815a5",
        "domain": f"{store_hash}.example.com",
        "secure_url": f"https://{store_hash}.example.com",
        "control_panel_base_url": f"https://store-{store_hash}.mybigcommerce.com",
        "status": "live",
        "name": "bcsync emulator store",
        "first_name": "Emu",
        "last_name": "Lator",
        "address": "1 Local Street, Localhost",
        "country": "United States",
        "country_code": "US",
        "phone": "555-0100",
        "admin_email": "admin@example.com",
        "order_email": "orders@example.com",
        "favicon_url": f"https://{store_hash}.example.com/favicon.ico",
        "timezone": {
            "name": "Etc/UTC",
            "raw_offset": 0,
            "dst_offset": 0,
            "dst_correction": False,
            "date_format": {
                "display": "M jS Y",
                "export": "M jS Y",
                "extended_display": "M jS Y @ g:i A",
            },
        },
        "language": "en",
        "currency": "USD",
        "currency_symbol": "$",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "decimal_places": 2,
        "currency_symbol_location": "left",
        "weight_units": "Ounces",
        "dimension_units": "Inches",
        "dimension_decimal_places": 2,
        "dimension_decimal_token": ".",
        "dimension_thousands_token": ",",
        "plan_name": "Standard",
        "plan_level": "Standard",
        "plan_is_trial": False,
        "industry": "Technology",
        "logo": {"url": ""},
        "is_price_entered_with_tax": False,
        "store_id": 1000001,
        "default_channel_id": 1,
        "default_site_id": 1000,
        "active_comparison_modules": [],
        "features": {
            "stencil_enabled": True,
            "sitewidehttps_enabled": True,
            "facebook_catalog_id": "",
            "checkout_type": "optimized",
            "wishlists_enabled": False,
            "graphql_storefront_api_enabled": True,
            "shopper_consent_tracking_enabled": False,
            "multi_storefront_enabled": True,
            "storefront_limits": {"active": 1, "total_including_inactive": 1},
        },
    }


def routes(emu: Emulator) -> list[Route]:
    async def get_time(request: Request) -> Response:
        return json_response({"time": int(time.time())})

    async def get_store(request: Request) -> Response:
        return json_response(store_information(emu.settings.store_hash))

    return [
        Route("/v2/time", get_time, methods=["GET"]),
        Route("/v2/store", get_store, methods=["GET"]),
    ]
