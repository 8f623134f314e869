"""Query parameters of the API, checked one way: a bad value is a 400 with error_id
`api.bad_parameter` naming the parameter."""

from __future__ import annotations

from aiohttp import web

from callcenter.api.errors import ApiError


def query_int(
    request: web.Request, name: str, default: int, low: int = 0, high: int = 10**9
) -> int:
    """An integer query parameter within [low, high]; `default` when it is absent."""
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "api.bad_parameter", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "api.bad_parameter", f"{name} must be between {low} and {high}")
    return value
