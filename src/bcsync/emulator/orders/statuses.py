"""Order statuses 0–14 (reference §5.6) and the ``/v2/order_statuses`` endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bcsync.emulator.responses import json_response, v2_error

NOT_FOUND = "The requested resource was not found."


@dataclass(frozen=True)
class OrderStatus:
    id: int
    name: str
    order: int  # the display order BigCommerce reports (``order`` / ``sort_order``)
    description: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "system_label": self.name,
            "custom_label": self.name,
            "system_description": self.description,
            "order": self.order,
        }


STATUSES: dict[int, OrderStatus] = {
    s.id: s
    for s in (
        OrderStatus(
            0,
            "Incomplete",
            0,
            "An incomplete order happens when a shopper reached the payment page, "
            "but did not complete the transaction.",
        ),
        OrderStatus(
            1, "Pending", 1, "Customer started the checkout process, but did not complete it."
        ),
        OrderStatus(
            2,
            "Shipped",
            8,
            "Order has been shipped, but receipt has not been confirmed; "
            "seller has used the Ship Items action.",
        ),
        OrderStatus(
            3,
            "Partially Shipped",
            6,
            "Only some items in the order have been shipped, due to some products being "
            "pre-order only or other reasons.",
        ),
        OrderStatus(4, "Refunded", 11, "Seller has used the Refund action."),
        OrderStatus(
            5,
            "Cancelled",
            9,
            "Seller has cancelled an order, due to a stock inconsistency or other reasons.",
        ),
        OrderStatus(
            6,
            "Declined",
            10,
            "Seller has marked the order as declined for lack of manual payment, or other reasons.",
        ),
        OrderStatus(
            7,
            "Awaiting Payment",
            2,
            "Customer has completed checkout process, but payment has yet to be confirmed.",
        ),
        OrderStatus(
            8,
            "Awaiting Pickup",
            5,
            "Order has been pulled, and is awaiting customer pickup from a "
            "seller-specified location.",
        ),
        OrderStatus(
            9,
            "Awaiting Shipment",
            4,
            "Order has been pulled and packaged, and is awaiting collection from a "
            "shipping provider.",
        ),
        OrderStatus(
            10,
            "Completed",
            7,
            "Client has paid for their digital product and their file(s) are available "
            "for download.",
        ),
        OrderStatus(
            11,
            "Awaiting Fulfillment",
            3,
            "Customer has completed the checkout process and payment has been confirmed.",
        ),
        OrderStatus(
            12,
            "Manual Verification Required",
            13,
            "Order is on hold while some aspect needs to be manually confirmed.",
        ),
        OrderStatus(
            13,
            "Disputed",
            12,
            "Customer has initiated a dispute resolution process for the PayPal transaction "
            "that paid for the order.",
        ),
        OrderStatus(14, "Partially Refunded", 14, "Seller has partially refunded the order."),
    )
}


async def list_statuses(request: Request) -> Response:
    return json_response([s.as_json() for s in STATUSES.values()])


async def get_status(request: Request) -> Response:
    status = STATUSES.get(request.path_params["status_id"])
    if status is None:
        return v2_error(404, NOT_FOUND)
    return json_response(status.as_json())


def routes() -> list[Route]:
    return [
        Route("/v2/order_statuses", list_statuses, methods=["GET"]),
        Route("/v2/order_statuses/{status_id:int}", get_status, methods=["GET"]),
    ]
