"""One place that maps typed errors to HTTP responses: JSON with a stable `error_id`."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from acd.errors import AcdError, AgentUnavailable, InvalidTransition, UnknownAgent, UnknownCaller
from callcenter.tickets.errors import IllegalTransition, NotAllowed, TicketError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message


STATUS_OF: dict[type[AcdError], int] = {
    UnknownAgent: 404,
    UnknownCaller: 404,
    InvalidTransition: 409,
    AgentUnavailable: 409,
}


def _ticket_status(exc: TicketError) -> int:
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, IllegalTransition) or exc.error_id == "ticket.conflict":
        return 409
    if exc.error_id == "ticket.not_found":
        return 404
    return 400


def error_response(status: int, error_id: str, message: str) -> web.Response:
    return web.json_response({"error_id": error_id, "message": message}, status=status)


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
    except ApiError as exc:
        return error_response(exc.status, exc.error_id, exc.message)
    except AcdError as exc:
        return error_response(STATUS_OF.get(type(exc), 400), exc.error_id, str(exc))
    except TicketError as exc:
        return error_response(_ticket_status(exc), exc.error_id, str(exc))
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
