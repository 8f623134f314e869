"""Builders for OpenAPI operation objects, shared by openapi.py and the application modules
that describe their own routes (each module's OPENAPI). A module of its own because
openapi.py imports those modules, so they cannot import it."""

from __future__ import annotations

from typing import Any

ANY_OBJECT: dict[str, Any] = {"type": "object"}
"""A request body schema: any JSON object (the handler checks its fields)."""


def _ref(name: str) -> dict[str, str]:
    """A reference to a schema in the document's components."""
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def query_params(*names: tuple[str, str]) -> list[dict[str, Any]]:
    """Optional query parameters, each given as (name, JSON type)."""
    return [{"name": n, "in": "query", "schema": {"type": t}} for n, t in names]


def operation(
    summary: str,
    *,
    roles: str = "",
    ok: int = 200,
    body: str | dict[str, Any] | None = None,
    body_required: bool = True,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An operation: its summary (with the roles allowed, if given), the success status `ok`
    and errors as the Error schema. `body` is the JSON request body: the name of a component
    schema, or an inline schema (ANY_OBJECT for any object)."""
    op: dict[str, Any] = {
        "summary": summary + (f" (roles: {roles})" if roles else ""),
        "responses": {
            str(ok): {"description": "OK"},
            "4XX": {"description": "Error", **_json(_ref("Error"))},
        },
    }
    if parameters is not None:
        op["parameters"] = parameters
    if body is not None:
        schema = _ref(body) if isinstance(body, str) else body
        op["requestBody"] = {"required": body_required, **_json(schema)}
    return op


__all__ = ["ANY_OBJECT", "operation", "query_params"]
