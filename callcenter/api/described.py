"""Each handler describes its own operation next to its code: `@described(...)` gives the
summary, the roles, the success status, the query parameters (a `Query` model, see
`callcenter.api.params`) and the request body model. The
OpenAPI document (`callcenter.api.openapi`) is built from the application's route table and
these descriptions, the body models giving their JSON Schemas, so it cannot drift from the
routes or from the checks.

A request body is read with `await body(request, Model)`: the JSON object validated by the
pydantic model, or a 400 naming every bad field (in `details`, one entry a field).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from callcenter.api.errors import ApiError, json_body
from callcenter.api.params import Query

H = TypeVar("H", bound=Callable[[web.Request], Awaitable[web.StreamResponse]])
M = TypeVar("M", bound="Body")

ANY_OBJECT: dict[str, Any] = {"type": "object"}
"""A request body schema: any JSON object (the handler reads its fields)."""


class Body(BaseModel):
    """A JSON request body: strict types (no "5" for 5, no true for 1), unknown keys ignored
    (as the hand checks did). `error_id` is the error a bad body answers with."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    error_id: ClassVar[str] = "api.invalid"
    field_error_ids: ClassVar[dict[str, str]] = {}
    """A field whose mistakes have an error_id of their own (the first bad field decides)."""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is required")
    return value


NOT_BLANK = AfterValidator(_not_blank)
"""Annotate a required string field with it: blank text is refused ("is required")."""


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(part) for part in e["loc"]) or "(body)",
            "message": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


async def body(request: web.Request, model: type[M]) -> M:
    """The request's JSON object as `model`; a 400 with `model.error_id` naming every bad
    field otherwise (the message lists them, `details` has one entry a field)."""
    return validated(model, await json_body(request))


def validated(model: type[M], raw: object) -> M:
    """`raw` (parsed JSON) as `model`, or the 400 of `body`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        details = _field_errors(exc)
        message = "; ".join(f"'{d['field']}': {d['message']}" for d in details)
        error_id = model.field_error_ids.get(details[0]["field"], model.error_id)
        raise ApiError(400, error_id, message, details=details) from None


Param = tuple[str, str] | dict[str, Any]
"""A query parameter the handler reads by hand: (name, JSON type) when optional and plain,
else its OpenAPI object. Prefer a `Query` model: it is read and described in one place."""


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about one handler."""

    summary: str
    roles: str = ""
    ok: int = 200
    body: type[Body] | dict[str, Any] | None = None
    body_required: bool = True
    query: type[Query] | Sequence[Param] = ()
    # path parameter schemas, or a PathParams model declaring them
    path: dict[str, dict[str, Any]] | type[Query] = field(default_factory=dict)
    public: bool = False  # no token needed (health, metrics, signed webhooks)
    extra: dict[str, Any] = field(default_factory=dict)  # merged into the operation as is


OPERATIONS: dict[Callable[..., Any], Operation] = {}


def described(
    summary: str,
    *,
    roles: str = "",
    ok: int = 200,
    body: type[Body] | dict[str, Any] | None = None,
    body_required: bool = True,
    query: type[Query] | Sequence[Param] = (),
    path: dict[str, dict[str, Any]] | type[Query] | None = None,
    public: bool = False,
    extra: dict[str, Any] | None = None,
) -> Callable[[H], H]:
    """Describe the decorated handler in the OpenAPI document (see `Operation`)."""

    def mark(handler: H) -> H:
        OPERATIONS[handler] = Operation(
            summary, roles, ok, body, body_required, query, path or {}, public, extra or {}
        )
        return handler

    return mark


def operation_of(handler: Callable[..., Any]) -> Operation | None:
    return OPERATIONS.get(handler)


__all__ = [
    "ANY_OBJECT",
    "Body",
    "Operation",
    "body",
    "described",
    "operation_of",
    "validated",
    "NOT_BLANK",
]
