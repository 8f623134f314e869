"""Query parameters of the API, checked one way: a bad value is a 400 with error_id
`api.bad_parameter` naming the parameter."""

from __future__ import annotations

from aiohttp import web

from callcenter.api.errors import ApiError

# The widest id the integer columns hold on every backend (PostgreSQL's `integer` is 32-bit).
MAX_ID = 2**31 - 1


def path_id(request: web.Request, name: str = "id") -> int:
    """An integer id from the URL path, 1 to MAX_ID (what an integer column can hold); else a
    400 naming the parameter (a larger number could only fail in the database)."""
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "api.bad_parameter", f"{name} must be an integer") from None
    if not 1 <= value <= MAX_ID:
        raise ApiError(400, "api.bad_parameter", f"{name} must be between 1 and {MAX_ID}")
    return value


def query_int(
    request: web.Request,
    name: str,
    default: int,
    low: int = 0,
    high: int = 10**9,
    error_id: str = "api.bad_parameter",
) -> int:
    """An integer query parameter within [low, high]; `default` when it is absent."""
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, error_id, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, error_id, f"{name} must be between {low} and {high}")
    return value
