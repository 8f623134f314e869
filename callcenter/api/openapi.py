"""The OpenAPI 3.1 description of the HTTP API (served at /api/openapi.json), built from the
application's route table: each handler's `@described` operation (summary, roles, query and
path parameters) and its body model's JSON Schema as a component. A route without a
description is an error, so the document cannot drift from the routes, and a body schema
cannot drift from the checks (the model is both)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from callcenter.api.described import Operation, described, operation_of
from callcenter.api.params import ID_SCHEMA, Query, parameters

INFO: dict[str, Any] = {
    "title": "callcenter — 12345 hotline engine",
    "version": "0.1.0",
    "description": "Queue, agents, recordings and tickets (工单). Every /api call needs "
    "`Authorization: Bearer <token>`; errors are JSON with a stable `error_id`, a `message` "
    "and, where they help (a bad body: one entry a field), `details`.",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error_id", "message"],
    "properties": {
        "error_id": {"type": "string", "description": "stable, for programs"},
        "message": {"type": "string", "description": "for people"},
        "details": {
            "description": "when there is more to say, e.g. one entry a bad body field",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
_TYPED = re.compile(r"\{(\w+):[^}]*\}")  # {id:\d+} -> {id}
_PARAM = re.compile(r"\{(\w+)\}")
PAGES = "/console"  # the consoles' pages and files, not the API


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _parameters(op: Operation, path: str) -> list[dict[str, Any]]:
    """The path parameters (an `id` is a row id, the rest strings, unless the operation
    declares them), then the query parameters (from its Query model)."""
    params: list[dict[str, Any]] = []
    declared = (
        op.path
        if isinstance(op.path, dict)
        else {p["name"]: p["schema"] for p in parameters(op.path, "path")}
    )
    for name in _PARAM.findall(path):
        schema = declared.get(name) or (ID_SCHEMA if name == "id" else {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if isinstance(op.query, type) and issubclass(op.query, Query):
        return params + parameters(op.query)
    for q in op.query:
        if isinstance(q, tuple):
            params.append({"name": q[0], "in": "query", "schema": {"type": q[1]}})
        else:
            params.append({"in": "query", **q})
    return params


def _operation(op: Operation, path: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """One operation object; a body model's schema goes to `schemas`."""
    out: dict[str, Any] = {
        "summary": op.summary + (f" (roles: {op.roles})" if op.roles else ""),
        "responses": {
            str(op.ok): {"description": "OK"},
            "4XX": {"description": "Error", **_json({"$ref": "#/components/schemas/Error"})},
        },
    }
    params = _parameters(op, path)
    if params:
        out["parameters"] = params
    if isinstance(op.body, dict):
        out["requestBody"] = {"required": op.body_required, **_json(op.body)}
    elif op.body is not None:
        model = op.body
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(found.pop("$defs", {}))
        schemas[model.__name__] = found
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        out["requestBody"] = {"required": op.body_required, **_json(ref)}
    if op.public:
        out["security"] = []
    out.update(op.extra)
    return out


def document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI document of `app`: every route but the console pages, each described by
    its handler; KeyError naming a route whose handler is not described."""
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        if route.resource is None or route.method == "HEAD":
            continue
        path = _TYPED.sub(r"{\1}", route.resource.canonical)
        if path.startswith(PAGES):
            continue
        op = operation_of(route.handler)
        if op is None:
            raise KeyError(f"{route.method} {path}: its handler {route.handler} is not described")
        paths.setdefault(path, {})[route.method.lower()] = _operation(op, path, schemas)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(schemas.items())),
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }


@described("This description")
async def handler(request: web.Request) -> web.Response:
    return web.json_response(document(request.app))
