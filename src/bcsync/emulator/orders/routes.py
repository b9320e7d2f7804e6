"""Orders v2: the order table with its indexes, and the ``/v2/orders`` endpoints (reference §5).

Orders are kept in id order, indexed by ``external_order_id``, ``customer_id`` and billing email, so
a store of 20 000 orders still answers lookups and the default id-sorted listing in milliseconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.orders import record as order_record
from bcsync.emulator.orders import render as order_render
from bcsync.emulator.orders import statuses as order_statuses
from bcsync.emulator.orders.record import OrderRecord
from bcsync.emulator.orders.statuses import NOT_FOUND, STATUSES
from bcsync.emulator.orders.values import V2InputError, invalid, now, parse_date
from bcsync.emulator.responses import json_response, no_content, v2_error

FIRST_ORDER_ID = 100  # BigCommerce's examples start around 100
SORT_FIELDS = ("id", "customer_id", "date_created", "date_modified", "status_id", "channel_id")
_Index = dict[Any, set[int]]


class OrdersTable:
    """Every order of the store, archived ones included."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        # Base of the sub-resource links; requests set it to the address they came in on.
        self.root = f"https://api.bigcommerce.com/stores/{emu.settings.store_hash}/v2"
        self.reset()

    def reset(self) -> None:
        self.orders: dict[int, OrderRecord] = {}
        self.by_external: _Index = {}
        self.by_customer: _Index = {}
        self.by_email: _Index = {}
        self.next_order_id = FIRST_ORDER_ID
        self.next_child = 1  # ids of order product lines and shipping addresses

    def next_child_id(self) -> int:
        self.next_child += 1
        return self.next_child - 1

    def exists(self, order_id: int) -> bool:
        """Whether the order exists (archived orders do); metafields use this."""
        return order_id in self.orders

    def add(self, record: OrderRecord) -> None:
        self.orders[record.id] = record
        self._index(record, add=True)

    def replace(self, record: OrderRecord) -> None:
        self._index(self.orders[record.id], add=False)
        self.orders[record.id] = record
        self._index(record, add=True)

    def _index(self, record: OrderRecord, add: bool) -> None:
        keys: list[tuple[_Index, Any]] = [
            (self.by_external, record.fields["external_order_id"]),
            (self.by_customer, record.fields["customer_id"]),
            (self.by_email, record.email.casefold()),
        ]
        for index, key in keys:
            if add:
                index.setdefault(key, set()).add(record.id)
            else:
                index.get(key, set()).discard(record.id)

    def new_id(self) -> int:
        self.next_order_id += 1
        return self.next_order_id - 1

    def export(self) -> dict[str, Any]:
        """Every order as JSON-safe data, for ``data_file`` persistence."""
        return {
            "orders": [order_record.to_plain(r) for r in self.orders.values()],
            "next_order_id": self.next_order_id,
            "next_child": self.next_child,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.reset()
        for plain in data.get("orders", []):
            self.add(order_record.from_plain(plain))
        self.next_order_id = data.get("next_order_id", self.next_order_id)
        self.next_child = data.get("next_child", self.next_child)

    def render(self, record: OrderRecord, includes: set[str] | None = None) -> dict[str, Any]:
        order = order_render.render(record, self.root)
        return order_render.with_includes(order, record, self.root, includes or set())

    def dump(self, emu: Emulator) -> list[dict[str, Any]]:
        """Each order as ``GET /v2/orders/{id}?include=consignments.line_items,fees`` returns
        it, archived ones too, with ``products`` and ``metafields`` lists in place of the
        products link."""
        result = []
        for record in self.orders.values():
            order = self.render(record, {"consignments.line_items", "fees"})
            order["products"] = order_render.render_lines(record)
            order["metafields"] = emu.metafields_for("order", record.id)
            result.append(order)
        return result


# ---------------------------------------------------------------------------------------------
# Query filters (reference §5.5)


class OrderQuery:
    """The parsed filters, sort and paging of ``GET /v2/orders`` and ``/v2/orders/count``."""

    def __init__(self, params: Any, max_limit: int, clamp: bool) -> None:
        self.ints = {
            k: _int_param(params, k)
            for k in ("min_id", "max_id", "customer_id", "status_id", "channel_id")
        }
        self.totals = {k: _decimal_param(params, k) for k in ("min_total", "max_total")}
        self.dates = {
            k: _date_param(params, k)
            for k in (
                "min_date_created",
                "max_date_created",
                "min_date_modified",
                "max_date_modified",
            )
        }
        self.email = params.get("email")
        self.external_order_id = params.get("external_order_id")
        self.payment_method = params.get("payment_method")
        self.cart_id = params.get("cart_id")
        deleted = params.get("is_deleted", "false").lower()
        if deleted not in ("true", "false"):
            raise invalid("is_deleted", "Use true or false.")
        self.is_deleted = deleted == "true"
        self.page = _int_param(params, "page") or 1
        limit = _int_param(params, "limit")
        self.limit = 50 if limit is None else limit
        if self.page < 1:
            raise invalid("page", "It must be at least 1.")
        if self.limit < 1:
            raise invalid("limit", "It must be at least 1.")
        if self.limit > max_limit:
            if not clamp:
                raise V2InputError(f"The maximum limit is {max_limit}.", status=413)
            self.limit = max_limit
        sort = params.get("sort", "id")
        field, _, direction = sort.partition(":")
        if field not in (*SORT_FIELDS, "external_id") or direction not in ("", "asc", "desc"):
            raise invalid("sort", f"Sort by one of {', '.join(SORT_FIELDS)}, with :asc or :desc.")
        self.sort_field = "id" if field == "external_id" else field  # external_id is always null
        self.descending = direction == "desc"

    def candidates(self, table: OrdersTable) -> Iterable[OrderRecord]:
        """Orders that may match, narrowed by an index when one of the indexed filters is set."""
        narrowed: set[int] | None = None
        lookups: list[tuple[_Index, Any]] = []
        if self.external_order_id is not None:
            lookups.append((table.by_external, self.external_order_id))
        if self.ints["customer_id"] is not None:
            lookups.append((table.by_customer, self.ints["customer_id"]))
        if self.email is not None:
            lookups.append((table.by_email, self.email.casefold()))
        for index, key in lookups:
            ids = index.get(key, set())
            narrowed = set(ids) if narrowed is None else narrowed & ids
        if narrowed is None:
            return table.orders.values()
        return (table.orders[i] for i in sorted(narrowed))

    def matches(self, record: OrderRecord) -> bool:
        i, f = self.ints, record.fields
        if record.is_deleted != self.is_deleted:
            return False
        checks: list[tuple[Any, Callable[[Any], bool]]] = [
            (i["min_id"], lambda v: record.id >= v),
            (i["max_id"], lambda v: record.id <= v),
            (i["status_id"], lambda v: f["status_id"] == v),
            (i["channel_id"], lambda v: f["channel_id"] == v),
            (self.payment_method, lambda v: f["payment_method"] == v),
            (self.cart_id, lambda v: v == ""),
            (self.dates["min_date_created"], lambda v: record.created >= v),
            (self.dates["max_date_created"], lambda v: record.created <= v),
            (self.dates["min_date_modified"], lambda v: record.modified >= v),
            (self.dates["max_date_modified"], lambda v: record.modified <= v),
        ]
        if self.totals["min_total"] is not None or self.totals["max_total"] is not None:
            total = record.totals()["total_inc"]
            checks.append((self.totals["min_total"], lambda v: total >= v))
            checks.append((self.totals["max_total"], lambda v: total <= v))
        return all(check(value) for value, check in checks if value is not None)

    def select(self, table: OrdersTable) -> Iterator[OrderRecord]:
        return (r for r in self.candidates(table) if self.matches(r))

    def page_of(self, table: OrdersTable) -> list[OrderRecord]:
        start = (self.page - 1) * self.limit
        matching: Iterable[OrderRecord] = self.select(table)
        if self.sort_field != "id" or self.descending:
            matching = sorted(matching, key=self._sort_key, reverse=self.descending)
        return list(itertools.islice(matching, start, start + self.limit))

    def _sort_key(self, record: OrderRecord) -> tuple[Any, int]:
        value: Any
        if self.sort_field == "date_created":
            value = record.created
        elif self.sort_field == "date_modified":
            value = record.modified
        elif self.sort_field == "id":
            value = record.id
        else:
            value = record.fields[self.sort_field]
        return (value, record.id)


def _int_param(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(name, "Expected an integer.") from None


def _decimal_param(params: Any, name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise invalid(name, "Expected a number.") from None


def _date_param(params: Any, name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    moment = parse_date(raw)
    if moment is None:
        raise invalid(name, "Use RFC 2822 or ISO 8601, e.g. 'Thu, 20 Apr 2017 11:32:00 -0400'.")
    return moment


# ---------------------------------------------------------------------------------------------
# Endpoints


def routes(emu: Emulator) -> list[Route]:
    table = OrdersTable(emu)
    emu.register_table("orders", table)
    settings = emu.settings

    def source_writable() -> bool:
        return bool(getattr(settings, "order_source_writable", False))

    def query(request: Request) -> OrderQuery:
        return OrderQuery(
            request.query_params, settings.max_limit, clamp=settings.over_limit == "clamp"
        )

    def found(request: Request) -> OrderRecord:
        record = table.orders.get(request.path_params["id"])
        if record is None:
            raise V2InputError(NOT_FOUND, status=404)
        table.root = _api_root(request, settings.store_hash)
        return record

    async def list_orders(request: Request) -> Response:
        table.root = _api_root(request, settings.store_hash)
        page = query(request).page_of(table)
        if not page:  # v2 answers an empty list (or a page past the end) with 204
            return no_content()
        includes = _includes(request)
        return json_response([table.render(r, includes) for r in page])

    async def count_orders(request: Request) -> Response:
        q = query(request)
        counts = dict.fromkeys(STATUSES, 0)
        for record in q.select(table):
            counts[record.fields["status_id"]] += 1
        statuses = [
            {**_count_status(s), "count": counts[s.id], "sort_order": s.order}
            for s in STATUSES.values()
        ]
        return json_response({"statuses": statuses, "count": sum(counts.values())})

    async def create_order(request: Request) -> Response:
        body = await _json_body(request)
        table.root = _api_root(request, settings.store_hash)
        includes = _includes(request)
        record = order_record.create(body, table.new_id(), table.next_child_id, source_writable())
        table.add(record)
        return json_response(table.render(record, includes), status=settings.create_status)

    async def get_order(request: Request) -> Response:
        return json_response(table.render(found(request), _includes(request)))

    async def update_order(request: Request) -> Response:
        record = found(request)
        body = await _json_body(request)
        includes = _includes(request)
        changed = order_record.update(record, body, table.next_child_id, source_writable())
        table.replace(changed)
        return json_response(table.render(changed, includes))

    async def archive_order(request: Request) -> Response:
        record = found(request)
        _archive(record)
        return no_content()

    async def archive_all(request: Request) -> Response:
        # Faithful on purpose: the real endpoint archives every order in the store, and tests
        # use this (and the stats key "DELETE /v2/orders") to catch anyone calling it.
        for record in table.orders.values():
            if not record.is_deleted:
                _archive(record)
        return no_content()

    async def order_products(request: Request) -> Response:
        lines = order_render.render_lines(found(request))
        return _v2_page(request, lines)

    async def order_product(request: Request) -> Response:
        lines = order_render.render_lines(found(request))
        return _one(lines, request.path_params["product_id"])

    async def shipping_addresses(request: Request) -> Response:
        record = found(request)
        return _v2_page(request, order_render.render_shipping(record, table.root))

    async def shipping_address(request: Request) -> Response:
        record = found(request)
        addresses = order_render.render_shipping(record, table.root)
        return _one(addresses, request.path_params["address_id"])

    async def order_fees(request: Request) -> Response:
        return json_response({"fees": order_render.render_fees(found(request))})

    async def order_consignments(request: Request) -> Response:
        record = found(request)
        full = "consignments.line_items" in _includes(request)
        return json_response(order_render.render_consignments(record, table.root, full))

    async def consignment_quotes(request: Request) -> Response:
        record = found(request)
        shipping = order_render.render_consignments(record, table.root, False)["shipping"]
        if not any(c["id"] == request.path_params["consignment_id"] for c in shipping):
            raise V2InputError(NOT_FOUND, status=404)
        return no_content()  # API-created orders have no shipping quotes (reference §5.1)

    async def coupons(request: Request) -> Response:
        found(request)
        return no_content()  # API orders cannot redeem coupons (reference §5.1)

    return [
        *order_statuses.routes(),
        Route("/v2/orders", _v2(list_orders), methods=["GET"]),
        Route("/v2/orders", _v2(create_order), methods=["POST"]),
        Route("/v2/orders", _v2(archive_all), methods=["DELETE"]),
        Route("/v2/orders/count", _v2(count_orders), methods=["GET"]),
        Route("/v2/orders/{id:int}", _v2(get_order), methods=["GET"]),
        Route("/v2/orders/{id:int}", _v2(update_order), methods=["PUT"]),
        Route("/v2/orders/{id:int}", _v2(archive_order), methods=["DELETE"]),
        Route("/v2/orders/{id:int}/products", _v2(order_products), methods=["GET"]),
        Route("/v2/orders/{id:int}/products/{product_id:int}", _v2(order_product), methods=["GET"]),
        Route("/v2/orders/{id:int}/shipping_addresses", _v2(shipping_addresses), methods=["GET"]),
        Route(
            "/v2/orders/{id:int}/shipping_addresses/{address_id:int}",
            _v2(shipping_address),
            methods=["GET"],
        ),
        Route("/v2/orders/{id:int}/coupons", _v2(coupons), methods=["GET"]),
        Route("/v2/orders/{id:int}/fees", _v2(order_fees), methods=["GET"]),
        Route("/v2/orders/{id:int}/consignments", _v2(order_consignments), methods=["GET"]),
        Route(
            "/v2/orders/{id:int}/consignments/shipping/{consignment_id:int}/shipping_quotes",
            _v2(consignment_quotes),
            methods=["GET"],
        ),
    ]


Handler = Callable[[Request], Any]


def _v2(handler: Handler) -> Handler:
    """Turn a :class:`V2InputError` raised anywhere in ``handler`` into the v2 error array."""

    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request)
        except V2InputError as error:
            return v2_error(error.status, error.message)
        return response

    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return endpoint


def _archive(record: OrderRecord) -> None:
    record.is_deleted = True
    record.modified = now()


def _count_status(status: order_statuses.OrderStatus) -> dict[str, Any]:
    body = status.as_json()
    del body["order"]
    return body


def _api_root(request: Request, store_hash: str) -> str:
    """``{scheme}://{host}/stores/{hash}/v2`` of this request, for the sub-resource links."""
    return f"{request.url.scheme}://{request.url.netloc}/stores/{store_hash}/v2"


def _includes(request: Request) -> set[str]:
    """The side-loads ``include=`` asks for (comma-separated or repeated; unknown ones ignored).

    Since 17 August 2025 BigCommerce answers consignments in the object structure whether or not
    ``consignment_structure=object`` is sent (its announcement of the change); the emulator
    accepts that parameter and refuses any other value (UNCONFIRMED).
    """
    structure = request.query_params.get("consignment_structure")
    if structure is not None and structure != "object":
        raise invalid("consignment_structure", "The only structure is 'object'.")
    values = request.query_params.getlist("include")
    return {v.strip() for raw in values for v in raw.split(",")} & order_render.INCLUDES


def _v2_page(request: Request, items: list[dict[str, Any]]) -> Response:
    page = _int_param(request.query_params, "page") or 1
    limit = _int_param(request.query_params, "limit") or 50
    if page < 1 or not 1 <= limit <= 250:
        raise invalid("page" if page < 1 else "limit")
    chunk = items[(page - 1) * limit : page * limit]
    return json_response(chunk) if chunk else no_content()


def _one(items: list[dict[str, Any]], item_id: int) -> Response:
    item = next((i for i in items if i["id"] == item_id), None)
    if item is None:
        raise V2InputError(NOT_FOUND, status=404)
    return json_response(item)


async def _json_body(request: Request) -> Any:
    """The request's JSON, ``None`` without a body (``app.py`` already answered 415 and 400)."""
    return await request.json() if await request.body() else None
