"""One place that maps typed errors to HTTP responses: JSON with a stable `error_id`, a
message and, when the error has them, `details`. Every `CallcenterError` carries its own
status; handlers raise and never catch to translate."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from acd.errors import AcdError, AgentUnavailable, InvalidTransition, UnknownAgent, UnknownCaller
from callcenter.errors import CallcenterError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(CallcenterError):
    """An error the API itself raises (a bad parameter, a forbidden action): its status and
    error_id given where it is raised."""

    def __init__(self, status: int, error_id: str, message: str, details: Any = None) -> None:
        super().__init__(message, status=status, error_id=error_id, details=details)
        self.message = message


# The routing core stays free of the package (acd/ imports nothing of callcenter): its errors
# get their HTTP status here.
STATUS_OF: dict[type[AcdError], int] = {
    UnknownAgent: 404,
    UnknownCaller: 404,
    InvalidTransition: 409,
    AgentUnavailable: 409,
}


def error_response(status: int, error_id: str, message: str, details: Any = None) -> web.Response:
    body: dict[str, Any] = {"error_id": error_id, "message": message}
    if details is not None:
        body["details"] = details
    return web.json_response(body, status=status)


def bad_text(text: str) -> bool:
    """Text no column can store: a NUL character (PostgreSQL refuses it) or a lone surrogate
    (no UTF-8 encoding exists for it)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_url(request: web.Request) -> None:
    """Path and query parameters are text a column can hold, or the request is a 400."""
    for name, value in (*request.match_info.items(), *request.query.items()):
        if bad_text(name) or bad_text(value):
            raise ApiError(
                400,
                "api.bad_parameter",
                f"parameter {name!r} holds a NUL character or a lone surrogate",
            )


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        _check_url(request)
        return await handler(request)
    except CallcenterError as exc:
        if exc.status >= 500:
            log.error("%s %s: %s: %s", request.method, request.path, exc.error_id, exc)
        return web.json_response(exc.body(), status=exc.status)
    except AcdError as exc:
        return error_response(STATUS_OF.get(type(exc), 400), exc.error_id, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error_id = {404: "api.not_found", 405: "api.method_not_allowed"}.get(
            exc.status, f"api.http_{exc.status}"
        )
        return error_response(exc.status, error_id, exc.reason)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "api.internal", "internal error (logged)")


async def json_body(request: web.Request) -> dict[str, object]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "api.bad_json", f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "api.bad_json", "request body must be a JSON object")
    if _holds_bad_text(body):
        raise ApiError(
            400, "api.bad_json", "a string in the body holds a NUL character or a lone surrogate"
        )
    return body


def _holds_bad_text(value: object) -> bool:
    if isinstance(value, str):
        return bad_text(value)
    if isinstance(value, dict):
        return any(bad_text(k) or _holds_bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_bad_text(v) for v in value)
    return False
