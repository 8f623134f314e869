"""Path and query parameters of the API, declared and checked one way.

An endpoint's query parameters are one `Query` model: each field a parameter (its alias when
the name is a Python keyword, e.g. `from`), its type and bounds given by the markers below
(`Int`, `Number`, `OneOf`, `Parsed`). `query(request, Model)` validates the request's query
against it; the OpenAPI document (`callcenter.api.openapi`) lists the same fields as the
operation's parameters, so the document says what the checks do. A bad value is a 400 with
error_id `api.bad_parameter` (or the model's own) naming the parameter; an empty value is an
absent one (its default).

A path id is read with `path_id`: 1 to MAX_ID, what an integer column can hold.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic import ValidationError as _ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from callcenter.api.errors import ApiError

# The widest id the integer columns hold on every backend (PostgreSQL's `integer` is 32-bit).
MAX_ID = 2**31 - 1

Q = TypeVar("Q", bound="Query")


class Query(BaseModel):
    """The query parameters of one endpoint (see the module's docstring). Unknown parameters
    are ignored; `error_id` is the error a bad value answers with."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=False)
    error_id: ClassVar[str] = "api.bad_parameter"
    insists: ClassVar[tuple[str, ...]] = ()
    """Parameters the handler requires itself, with an error of its own when one is missing
    or blank: optional here, required in the document."""
    keeps_empty: ClassVar[tuple[str, ...]] = ()
    """Parameters whose empty value is a value (e.g. a blank key), not an absent one."""


class _Marker(ABC):
    """A parameter's parsing from its text and its JSON Schema, as one annotation."""

    @abstractmethod
    def parse(self, raw: Any) -> Any:
        """The value from the parameter's text; ValueError saying what is wrong."""

    @abstractmethod
    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.parse, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.schema()


@dataclass(frozen=True)
class Int(_Marker):
    """An integer within [low, high]; with `clamp`, one outside is brought to the nearer end."""

    low: int = 0
    high: int = 10**9
    clamp: bool = False

    def parse(self, raw: Any) -> int:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValueError("must be an integer") from None
        if self.clamp:
            return min(self.high, max(self.low, value))
        if not self.low <= value <= self.high:
            raise ValueError(f"must be between {self.low} and {self.high}")
        return value

    def schema(self) -> dict[str, Any]:
        if self.clamp:
            return {"type": "integer", "description": f"clamped to {self.low}..{self.high}"}
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Number(_Marker):
    """A finite number; within [low, high] when they are given."""

    low: float = -math.inf
    high: float = math.inf
    error: str = "must be a number"

    def parse(self, raw: Any) -> float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(self.error) from None
        bounded = math.isfinite(self.low) or math.isfinite(self.high)
        if bounded and not (math.isfinite(value) and self.low <= value <= self.high):
            raise ValueError(f"must be between {self.low:g} and {self.high:g}")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number"}
        if math.isfinite(self.low):
            out["minimum"] = self.low
        if math.isfinite(self.high):
            out["maximum"] = self.high
        return out


@dataclass(frozen=True)
class OneOf(_Marker):
    """One of the given words."""

    choices: tuple[str, ...]

    def parse(self, raw: Any) -> str:
        if raw not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}")
        return str(raw)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True)
class Parsed(_Marker):
    """Text read by `read` (a ValueError says what the text must be: "must be a date")."""

    read: Callable[[str], Any]
    json_schema: tuple[tuple[str, Any], ...] = (("type", "string"),)

    def parse(self, raw: Any) -> Any:
        return self.read(str(raw))

    def schema(self) -> dict[str, Any]:
        return dict(self.json_schema)


ROW_ID = Int(1, MAX_ID)
"""A row id in the URL path: 1 to MAX_ID, what an integer column can hold (a larger number
could only fail in the database). The document's schema of every `{id}` is its schema."""
ID_SCHEMA: dict[str, Any] = ROW_ID.schema()


def path_id(request: web.Request, name: str = "id") -> int:
    """The row id `name` of the URL path (see ROW_ID); else a 400 naming the parameter."""
    try:
        value: int = ROW_ID.parse(request.match_info[name])
    except ValueError as exc:
        raise ApiError(400, "api.bad_parameter", f"{name} {exc}") from None
    return value


class PathParams(Query):
    """The URL path parameters of one endpoint, declared like its query (see `Query`) and read
    with `path_params(request, Model)`: for a path parameter a bad value answers 400, not 404."""


def path_params(request: web.Request, model: type[Q]) -> Q:
    """The request's path parameters as `model`; the 400 of `query` otherwise."""
    return parse_query(model, dict(request.match_info))


def query(request: web.Request, model: type[Q]) -> Q:
    """The request's query parameters as `model`; a 400 naming the first bad parameter (in
    the model's field order) otherwise."""
    raw: dict[str, str] = {}
    for name, value in request.query.items():
        if value != "" or name in model.keeps_empty:
            raw.setdefault(name, value)
    return parse_query(model, raw)


def parse_query(model: type[Q], raw: dict[str, str]) -> Q:
    """`raw` (parameter name to its text, empty ones left out) as `model`, or the 400."""
    try:
        return model.model_validate(raw)
    except _ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        name = ".".join(str(part) for part in first["loc"])
        text = first["msg"].removeprefix("Value error, ")
        raise ApiError(400, model.error_id, f"{name} {text}") from None


def parameters(model: type[Query], where: str = "query") -> list[dict[str, Any]]:
    """The OpenAPI parameter objects of `model`'s fields (`where`: query or path), in field
    order."""
    properties = model.model_json_schema(by_alias=True, mode="validation")["properties"]
    out = []
    for name, info in model.model_fields.items():
        alias = info.alias or name
        schema = {k: v for k, v in properties[alias].items() if k != "title"}
        if schema.get("default", "") is None:
            del schema["default"]  # absent: the handler's default, which its description says
        description = schema.pop("description", "") or info.description
        param: dict[str, Any] = {"name": alias, "in": where}
        if description:
            param["description"] = description
        if info.is_required() or alias in model.insists:
            param["required"] = True
        param["schema"] = schema
        out.append(param)
    return out
