"""Typed config files (pydantic v2): each TOML file is a model, validated in one pass, and
every mistake comes back as one ConfigErrors report naming the file, the dotted key
(`agent[2].skills.general`) and what is allowed, as the hand-written readers said it.

- `FileModel` / `STRICT`: the base of a file's model and the config of the pydantic
  dataclasses the rest of the code uses (no unknown key). `Str`, `Int`, `Float`, `Bool`:
  TOML's own types, nothing coerced (no string read as a number, no boolean as an integer;
  an integer is a number); arrays may be read into tuples.
- `Checked(check, **schema)`: a rule that says what is wrong (`check` returns a problem or
  None), with the JSON Schema keywords it implies; `Known(name)`: a value must be one of a
  list the loader passes in the validation context (skills, DIDs), the cross-file checks.
- `validate(Model, data, file, context)`: the model, or ConfigErrors with every mistake;
  `load_model(Model, path, file)` the same from a TOML file.
- `Report`: the mistakes of one load, from models and from cross-field checks alike.
- `json_schema(Model)`: the file's JSON Schema, for editors (`callcenter config schema`).
"""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Strict,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError, core_schema

from callcenter.tomlreader import ConfigError, ConfigErrors, read_toml

__all__ = [
    "STRICT",
    "Bool",
    "Checked",
    "ConfigError",
    "ConfigErrors",
    "FieldTag",
    "FileModel",
    "Float",
    "Int",
    "Known",
    "NonNegative",
    "OneOrMore",
    "Positive",
    "Report",
    "Str",
    "json_schema",
    "load_model",
    "one_of",
    "validate",
]

# Unknown keys are mistakes. Not pydantic's strict mode, which refuses a TOML array for a
# tuple and a table for a dataclass: the scalars are strict one by one (Str, Int, ...).
STRICT = ConfigDict(extra="forbid")
M = TypeVar("M")
Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # an integer is a number too
Bool = Annotated[bool, Strict()]


class FileModel(BaseModel):
    """One config file (or one table of it): unknown keys are mistakes, types are TOML's."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- rules -----------------------------------------------------------------------------------


def problem(message: str) -> PydanticCustomError:
    """A mistake whose message is said as is (no pydantic prefix)."""
    return PydanticCustomError("config", message)


@dataclass(frozen=True, eq=False)  # hashed by identity: typing hashes Annotated metadata
class Checked:
    """`Annotated[float, Checked(positive, exclusiveMinimum=0)]`: after the type, `check`
    says what is wrong with the value (None: nothing); `schema` adds JSON Schema keywords."""

    check: Callable[[Any], str | None]
    schema: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, check: Callable[[Any], str | None], **schema: Any) -> None:
        object.__setattr__(self, "check", check)
        object.__setattr__(self, "schema", schema)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], core_schema.CoreSchema]
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._run, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: Callable[[Any], dict[str, Any]]
    ) -> dict[str, Any]:
        return {**handler(schema), **self.schema}

    def _run(self, value: Any) -> Any:
        found = self.check(value)
        if found:
            raise problem(found)
        return value


def one_of(*choices: str) -> Checked:
    """A string that must be one of `choices`, said with the value that was given."""
    return Checked(
        lambda v: None if v in choices else f"must be one of {', '.join(choices)}, got {v!r}",
        enum=list(choices),
    )


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be more than zero"


def _non_negative(v: float) -> str | None:
    return None if v >= 0 else "must be zero or more"


def _one_or_more(v: int) -> str | None:
    return None if v >= 1 else "must be 1 or more"


Positive = Annotated[Float, Checked(_positive, exclusiveMinimum=0)]
NonNegative = Annotated[Float, Checked(_non_negative, minimum=0)]
OneOrMore = Annotated[Int, Checked(_one_or_more, minimum=1)]


@dataclass(frozen=True)
class Known:
    """A value (or every key of a table) that must be in the list the loader passes as
    `context[name]` (e.g. "skills"); without a context (code building the object) any value
    passes. `what`: the word in the message, e.g. "skill" -> "unknown skill 'x' (known: ...)"."""

    name: str
    what: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], core_schema.CoreSchema]
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_after_validator_function(self._run, handler(source))

    def _run(self, value: Any, info: ValidationInfo) -> Any:
        known = (info.context or {}).get(self.name)
        if known is not None and value not in known:
            raise problem(f"unknown {self.what} {value!r} (known: {', '.join(known)})")
        return value


@dataclass(frozen=True)
class FieldTag:
    """The tag of a union told apart by one key of the table (`kind`), `default` when the
    table leaves it out: `Discriminator(FieldTag("kind", "asterisk"))`; without a default
    the key is required."""

    field: str
    default: str | None = None

    @property
    def __name__(self) -> str:  # pydantic names the union after it
        return self.field

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return value.get(self.field, self.default)
        return getattr(value, self.field, self.default)


# --- validation and its report ---------------------------------------------------------------


class Report:
    """The mistakes of one load: a model's, the cross-field checks' (`error`), and the
    files' own (missing, not TOML); `raise_if_any` ends the load with all of them."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def error(self, file: str, key: str, message: str) -> None:
        self.errors.append(ConfigError(file, key, message))

    def validate(
        self, model: type[M], data: Any, file: str, context: Mapping[str, Any] | None = None
    ) -> M | None:
        """`data` as `model` (a FileModel or a pydantic dataclass); None when it has
        mistakes, which are added here."""
        try:
            found: M = _adapter(model).validate_python(data, context=dict(context or {}))
            return found
        except ValidationError as exc:
            self.errors += errors_of(exc, model, file)
            return None

    def read(self, path: Path, file: str, required: bool = True) -> dict[str, Any] | None:
        """The tables of the TOML file at `path` (named `file` in messages); None when it is
        absent or not TOML, a mistake here when it is required or unreadable."""
        if not path.exists():
            if required:
                self.error(file, "", "required file is missing")
            return None
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            self.error(file, "", f"TOML syntax error: {exc}")
        except UnicodeDecodeError as exc:
            self.error(file, "", f"not UTF-8 text: {exc}")
        return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors)


def validate(model: type[M], data: Any, file: str, context: Mapping[str, Any] | None = None) -> M:
    """`data` as `model`, or ConfigErrors with every mistake."""
    report = Report()
    found = report.validate(model, data, file, context)
    report.raise_if_any()
    assert found is not None
    return found


def load_model(
    model: type[M],
    path: Path,
    file: str = "",
    context: Mapping[str, Any] | None = None,
    missing: M | None = None,
) -> M:
    """The TOML file at `path` as `model`; its mistakes named with `file` (default: the
    path). A missing file: `missing` when given, else "required file is missing"."""
    name = file or str(path)
    if not path.exists():
        if missing is not None:
            return missing
        raise ConfigErrors([ConfigError(name, "", "required file is missing")])
    try:
        data = read_toml(path)
    except ConfigErrors as exc:  # named by its path: say it with `file`
        raise ConfigErrors([ConfigError(name, "", e.message) for e in exc.errors]) from None
    return validate(model, data, name, context)


def _adapter(model: type[M]) -> Any:
    cached = _ADAPTERS.get(model)
    if cached is None:
        cached = _ADAPTERS[model] = TypeAdapter(model)
    return cached


_ADAPTERS: dict[Any, Any] = {}


def json_schema(model: type[Any]) -> dict[str, Any]:
    """The JSON Schema of a file's model, as an editor reads it."""
    return dict(_adapter(model).json_schema())


def errors_of(exc: ValidationError, model: type[Any], file: str) -> list[ConfigError]:
    """pydantic's errors as the loaders always said them: file, dotted key, message."""
    out: list[ConfigError] = []
    for e in exc.errors(include_url=False):
        where = _locate(model, e["loc"])
        key = where.key
        if e["type"] == "union_tag_invalid" or (
            e["type"] == "union_tag_not_found" and isinstance(e.get("input"), Mapping)
        ):
            key = union_tag_key(model, e["loc"], key)
        out.append(ConfigError(file, key, _message(e, where)))
    return out


@dataclass
class _Where:
    key: str = ""
    allowed: tuple[str, ...] = ()  # the keys of the table the last step is in
    last: Any = Any  # the type at the end of the path
    element: Any = Any  # for an array: its elements' type


def _locate(model: type[Any], loc: Sequence[int | str]) -> _Where:
    """Walk `loc` through the model's types: the dotted key as the config files name it
    (`pbx.nodes[0].ami_port`, a union's tag and a table key's marker left out) and the
    allowed keys of the table the last step is in."""
    where = _Where()
    tp: Any = model
    for step in loc:
        tp = _bare(tp)
        if isinstance(step, int):
            where.key += f"[{step}]"
            items = [a for a in get_args(tp) if a is not Ellipsis]
            tp = items[0] if items else Any
            continue
        if step == "[key]":
            continue
        tags = _tags(tp)
        if step in tags:
            tp = tags[step]
            continue
        fields = _fields(tp)
        if fields is not None:
            where.allowed = tuple(fields)
            tp = fields.get(step, Any)
        elif get_origin(tp) in (dict, Mapping, typing.Mapping):
            pair = get_args(tp)
            tp = pair[1] if len(pair) == 2 else Any
        else:
            tp = Any
        where.key += f".{step}" if where.key else step
    where.last = tp
    bare = _bare(tp)
    inner = [a for a in get_args(bare) if a is not Ellipsis]
    where.element = _bare(inner[0]) if inner and get_origin(bare) in (list, tuple) else Any
    return where


def _bare(tp: Any) -> Any:
    """`tp` without Annotated and without `| None`."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _tags(tp: Any) -> dict[str, Any]:
    if get_origin(tp) not in (Union, types.UnionType):
        return {}
    out = {}
    for arg in get_args(tp):
        if get_origin(arg) is Annotated:
            for meta in get_args(arg)[1:]:
                if isinstance(meta, Tag):
                    out[meta.tag] = arg
    return out


def _fields(tp: Any) -> dict[str, Any] | None:
    """A table's keys (a field's alias where it has one: `from`) and their types."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {f.alias or n: f.annotation for n, f in tp.model_fields.items()}
    if isinstance(tp, type) and is_dataclass(tp):
        found = getattr(tp, "__pydantic_fields__", None)
        if found is not None:
            return {f.alias or n: f.annotation for n, f in found.items()}
    return None


def _discriminator(model: type[Any], loc: Sequence[int | str]) -> FieldTag | None:
    tp: Any = model
    for step in loc:
        tp = _bare(tp)
        if isinstance(step, int):
            args = [a for a in get_args(tp) if a is not Ellipsis]
            tp = args[0] if args else Any
        elif step in _tags(tp):
            tp = _tags(tp)[step]
        elif get_origin(tp) in (dict, Mapping, typing.Mapping):
            pair = get_args(tp)
            tp = pair[1] if len(pair) == 2 else Any
        else:
            tp = (_fields(tp) or {}).get(step, Any)
    while get_origin(tp) is Annotated:
        for meta in get_args(tp)[1:]:
            if isinstance(meta, Discriminator) and isinstance(meta.discriminator, FieldTag):
                return meta.discriminator
        tp = get_args(tp)[0]
    return None


_KINDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "an array",
    "tuple_type": "an array",
    "set_type": "an array",
    "frozen_set_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dataclass_type": "a table",
    "dataclass_exact_type": "a table",
    "date_type": "a date (2026-01-01)",
}


def _message(e: Any, where: _Where) -> str:
    kind: str = e["type"]
    ctx = e.get("ctx") or {}
    value = e.get("input")
    if kind == "config":
        return str(e["msg"])
    if kind == "union_tag_not_found" and not isinstance(value, Mapping):
        return f"must be a table, got {type(value).__name__}"
    if kind in (
        "missing",
        "missing_argument",
        "missing_keyword_only_argument",
        "union_tag_not_found",
    ):
        return "is required"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return f"unknown key (allowed: {', '.join(where.allowed)})"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx['expected_tags'].replace(chr(39), '')}, got {ctx['tag']!r}"
    if kind in ("list_type", "tuple_type") and _fields(where.element) is not None:
        leaf = where.key.rsplit(".", 1)[-1]
        return f"must be an array of tables ([[{leaf}]])"
    if kind in _KINDS:
        got = "a boolean" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"
        if kind in ("dict_type", "model_type", "dataclass_type", "model_attributes_type"):
            got = type(value).__name__
        return f"must be {_KINDS[kind]}, got {got}"
    if kind == "greater_than":
        return "must be more than zero" if ctx.get("gt") == 0 else f"must be more than {ctx['gt']}"
    if kind == "greater_than_equal":
        return "must be zero or more" if ctx.get("ge") == 0 else f"must be {ctx['ge']} or more"
    if kind == "less_than_equal":
        return f"must be {ctx['le']} or less"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} entries"
    return str(e["msg"])


def union_tag_key(model: type[Any], loc: Sequence[int | str], key: str) -> str:
    """The key a union's bad tag is reported at: the tag's own key (pbx.nodes[0].kind)."""
    tag = _discriminator(model, loc)
    return f"{key}.{tag.field}" if tag is not None else key
