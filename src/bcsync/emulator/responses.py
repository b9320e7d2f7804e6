"""Response builders in BigCommerce's shapes: v3 envelopes and errors, v2 bare bodies and errors."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"


def json_response(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


def no_content() -> Response:
    """204 with an empty body and no Content-Type, as BigCommerce sends it."""
    return Response(status_code=204)


def v3_error(status: int, title: str, errors: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"status": status, "title": title, "type": ERROR_TYPE, "errors": errors or {}},
        status_code=status,
    )


def v2_error(status: int, message: str) -> Response:
    return JSONResponse([{"status": status, "message": message}], status_code=status)


def v3_data(data: Any, meta: dict[str, Any] | None = None, status: int = 200) -> Response:
    return JSONResponse({"data": data, "meta": meta if meta is not None else {}}, status_code=status)
