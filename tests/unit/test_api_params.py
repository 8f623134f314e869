"""Query and path parameters declared as models: one check, the 400 naming the parameter, and
the same declaration in the OpenAPI document."""

from __future__ import annotations

from typing import Annotated

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import Field

from callcenter.api.described import described
from callcenter.api.errors import ApiError
from callcenter.api.openapi import document
from callcenter.api.params import (
    MAX_ID,
    ROW_ID,
    Int,
    Number,
    OneOf,
    PathParams,
    Query,
    parse_query,
    path_id,
    path_params,
    query,
)


class Listing(Query):
    insists = ("q",)
    keeps_empty = ("key",)
    state: Annotated[str, OneOf(("open", "closed"))] = ""
    limit: Annotated[int, Int(1, 500)] = 50
    top: Annotated[int, Int(1, 10, clamp=True)] = 5
    since: Annotated[float | None, Number()] = Field(None, alias="from", description="epoch s")
    q: str = ""
    key: str | None = None


class Bell(PathParams):
    tone: Annotated[str, OneOf(("loud", "soft"))]
    id: Annotated[int, ROW_ID]


def bad(raw: dict[str, str], model: type[Query] = Listing) -> tuple[int, str, str]:
    with pytest.raises(ApiError) as caught:
        parse_query(model, raw)
    return caught.value.status, caught.value.error_id, caught.value.message


def test_values_are_read_and_defaults_fill_in() -> None:
    got = parse_query(Listing, {"state": "open", "limit": "7", "top": "99", "from": "1.5"})
    assert (got.state, got.limit, got.top, got.since, got.q) == ("open", 7, 10, 1.5, "")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"limit": "x"}, "limit must be an integer"),
        ({"limit": "0"}, "limit must be between 1 and 500"),
        ({"top": "1.5"}, "top must be an integer"),
        ({"state": "lost"}, "state must be one of open, closed"),
        ({"from": "soon"}, "from must be a number"),
        ({"limit": "x", "state": "lost"}, "state must be one of open, closed"),  # field order
    ],
)
def test_a_bad_value_is_a_400_naming_the_parameter(raw: dict[str, str], message: str) -> None:
    assert bad(raw) == (400, "api.bad_parameter", message)


def test_an_empty_value_is_absent_unless_the_model_keeps_it() -> None:
    request = make_mocked_request("GET", "/x?limit=&state=&key=")
    got = query(request, Listing)
    assert (got.limit, got.state, got.key) == (50, "", "")


def test_path_ids_and_declared_path_parameters() -> None:
    request = make_mocked_request("GET", "/bells/5/loud", match_info={"id": "5", "tone": "loud"})
    assert path_id(request) == 5
    assert path_params(request, Bell) == Bell(tone="loud", id=5)
    huge = make_mocked_request("GET", "/", match_info={"id": str(MAX_ID + 1), "tone": "loud"})
    with pytest.raises(ApiError, match=f"id must be between 1 and {MAX_ID}"):
        path_id(huge)
    assert bad({"id": "1", "tone": "shrill"}, Bell)[2] == "tone must be one of loud, soft"


@described("List", query=Listing, path=Bell)
async def listing(request: web.Request) -> web.Response:
    return web.json_response({})


def test_the_document_lists_the_declared_parameters() -> None:
    app = web.Application()
    app.add_routes([web.get(r"/bells/{id:\d+}/{tone}", listing)])
    params = document(app)["paths"]["/bells/{id}/{tone}"]["get"]["parameters"]
    by_name = {p["name"]: p for p in params}
    assert [p["in"] for p in params] == ["path", "path", *["query"] * 6]
    assert by_name["id"]["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    assert by_name["tone"]["schema"]["enum"] == ["loud", "soft"]
    assert by_name["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
        "default": 50,
    }
    assert by_name["from"]["description"] == "epoch s" and "default" not in by_name["from"]
    assert by_name["q"].get("required") is True and "required" not in by_name["state"]
    assert "clamped" in by_name["top"]["description"]
