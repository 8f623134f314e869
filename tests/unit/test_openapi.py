"""The OpenAPI document is built from the route table and each handler's description: a body
model is both the check and the schema, and a route nobody described is an error."""

from __future__ import annotations

from typing import Literal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import Field

from callcenter.api.described import Body, body, described
from callcenter.api.errors import errors_middleware
from callcenter.api.openapi import document


class Ring(Body):
    tone: Literal["soft", "loud"] = "soft"
    times: int = Field(1, ge=1, le=5)


@described("Ring a bell", roles="supervisor", ok=202, body=Ring, query=(("why", "string"),))
async def ring(request: web.Request) -> web.Response:
    asked = await body(request, Ring)
    return web.json_response({"tone": asked.tone, "times": asked.times}, status=202)


@described("Pong", public=True, path={"name": {"enum": ["a", "b"]}})
async def pong(request: web.Request) -> web.Response:
    return web.json_response({})


async def undescribed(request: web.Request) -> web.Response:
    return web.json_response({})


def app_with(*routes: web.RouteDef) -> web.Application:
    app = web.Application(middlewares=[errors_middleware])
    app.add_routes(list(routes))
    return app


def test_the_document_is_built_from_the_routes_and_the_models() -> None:
    doc = document(app_with(web.post(r"/bells/{id:\d+}/ring", ring), web.get("/ping/{name}", pong)))
    assert set(doc["paths"]) == {"/bells/{id}/ring", "/ping/{name}"}
    op = doc["paths"]["/bells/{id}/ring"]["post"]
    assert op["summary"] == "Ring a bell (roles: supervisor)"
    assert set(op["responses"]) == {"202", "4XX"}
    assert [(p["name"], p["in"], p["schema"].get("type")) for p in op["parameters"]] == [
        ("id", "path", "integer"),
        ("why", "query", "string"),
    ]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"]["tone"]["enum"] == ["soft", "loud"]
    assert (schema["properties"]["times"]["minimum"], schema["properties"]["times"]["maximum"]) == (
        1,
        5,
    )
    public = doc["paths"]["/ping/{name}"]["get"]
    assert public["security"] == [] and public["parameters"][0]["schema"] == {"enum": ["a", "b"]}
    assert "details" in doc["components"]["schemas"]["Error"]["properties"]


def test_a_route_nobody_described_is_an_error() -> None:
    with pytest.raises(KeyError, match="/quiet"):
        document(app_with(web.get("/quiet", undescribed)))


async def test_the_model_that_gives_the_schema_is_the_check() -> None:
    async with TestClient(TestServer(app_with(web.post(r"/bells/{id:\d+}/ring", ring)))) as c:
        ok = await c.post("/bells/1/ring", json={"tone": "loud", "times": 3})
        assert (ok.status, await ok.json()) == (202, {"tone": "loud", "times": 3})
        bad = await c.post("/bells/1/ring", json={"tone": "shrill", "times": 9})
        answer = await bad.json()
    assert (bad.status, answer["error_id"]) == (400, "api.invalid")
    assert [d["field"] for d in answer["details"]] == ["tone", "times"]
