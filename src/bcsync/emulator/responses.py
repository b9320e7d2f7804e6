"""Response builders in BigCommerce's shapes: v3 envelopes and errors, v2 bare bodies and errors."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"

MISSING_SCOPE_TITLE = "You don't have a required scope to access the endpoint"

# Titles/messages for generic errors. v3 titles follow the documented examples where one exists.
_TITLES = {
    400: "Input is invalid",
    401: "Unauthorized",
    403: MISSING_SCOPE_TITLE,
    404: "The resource at that URL is not found.",
    405: "The requested method is not allowed for this resource.",
    406: "The requested content type is not acceptable.",
    409: "Conflict",
    413: "The request payload is too large.",
    415: "The request must be sent with Content-Type: application/json.",
    422: "The request was not valid.",
    429: "Too many requests",
    500: "Internal Server Error",
    501: "The requested method is not implemented.",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_V2_MESSAGES = {404: "The requested resource was not found."}


def json_response(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


def no_content() -> Response:
    """204 with an empty body and no Content-Type, as BigCommerce sends it."""
    return Response(status_code=204)


def v3_error(
    status: int, title: str | None = None, errors: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {
            "status": status,
            "title": title or _TITLES.get(status, "Error"),
            "type": ERROR_TYPE,
            "errors": errors or {},
        },
        status_code=status,
    )


def v2_error(status: int, message: str | None = None) -> Response:
    text = message or _V2_MESSAGES.get(status) or _TITLES.get(status, "Error")
    return JSONResponse([{"status": status, "message": text}], status_code=status)


def api_error(path: str, status: int, text: str | None = None) -> Response:
    """A generic error in the shape of the API version ``path`` belongs to."""
    if path.startswith("/v2/"):
        return v2_error(status, text)
    return v3_error(status, text)


def v3_data(data: Any, meta: dict[str, Any] | None = None, status: int = 200) -> Response:
    return JSONResponse(
        {"data": data, "meta": meta if meta is not None else {}}, status_code=status
    )
