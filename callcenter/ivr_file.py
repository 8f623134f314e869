"""config/ivr.toml: the IVR menus as a typed model (`IvrFile`, its JSON Schema for editors),
loaded into the pure engine's `ivr.model.IvrConfig`.

The model holds the file's shape: tables and keys, types, ranges, names, DTMF digits,
"HH:MM-HH:MM" hours and dates. What spans several values (targets, skills, schedules,
prompts, duplicate digits, loops, entries, and the warnings) is `ivr.checks`, pure code over
the typed values; its mistakes join the model's in one report. A file with shape mistakes
still gets those checks on what is sound in it: each table with a mistake (a prompt, a
schedule, a flow's key or node, an entry) is left out and named as broken, so the references
to it are not reported twice.
"""

from __future__ import annotations

import contextlib
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    WithJsonSchema,
)

from callcenter.config_models import (
    Bool,
    Checked,
    FieldTag,
    FileModel,
    Float,
    Int,
    Report,
    Str,
    errors_of,
    problem,
)
from ivr.checks import check_menus
from ivr.model import (
    DEFAULT_ENTRY,
    DTMF_DIGITS,
    WEEKDAYS,
    AnnounceNode,
    Flow,
    HangupNode,
    HoursNode,
    IvrConfig,
    MenuNode,
    MenuOption,
    Node,
    Prompt,
    RouteNode,
    Schedule,
    TimeRange,
    time_range,
)
from ivr.workdays import DayCalendar

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"
MAX_DIGITS = 20
MAX_RETRIES = 9
MAX_TIMEOUT = 60.0
STRINGS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


# --- the rules of single values --------------------------------------------------------------


def _name(what: str) -> Checked:
    """A table's name (flow, node, prompt id): letters, digits, _ and -, a letter first."""
    pattern = re.compile(NAME_PATTERN)
    message = f"{what} are letters, digits, _ and -, starting with a letter"
    return Checked(lambda v: None if pattern.match(v) else message, pattern=NAME_PATTERN)


def _dtmf(value: str) -> str | None:
    if not value:
        return "must not be empty"
    bad = sorted({c for c in value if c not in DTMF_DIGITS})
    return f"digits must be 0-9, * or #, got {''.join(bad)!r} in {value!r}" if bad else None


def _within(lo: float, hi: float) -> Checked:
    return Checked(
        lambda v: None if lo <= v <= hi else f"must be from {lo:g} to {hi:g}, got {v!r}",
        minimum=lo,
        maximum=hi,
    )


def _zone(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (e.g. Asia/Shanghai)"
    return None


def _entry(did: str) -> str | None:
    if did == DEFAULT_ENTRY or did.isdigit():
        return None
    return f'must be a DID (digits only) or "{DEFAULT_ENTRY}", got {did!r}'


def _ids(needed: str = "") -> BeforeValidator:
    """Prompt ids: a string or an array of strings; `needed`: the message when none."""

    def ids(value: Any) -> Any:
        if value is None or value == []:
            if needed:
                raise problem(needed)
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise problem("must be a string or an array of strings")

    return BeforeValidator(ids)


def _prompt(value: Any) -> Any:
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, Mapping):
        return value
    raise problem("must be the prompt's text, or a table { text = ..., file = ... }")


def _ranges(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise problem('must be an array of "HH:MM-HH:MM" strings')


def _dates(value: Any) -> Any:
    if isinstance(value, list):
        return value
    raise problem("must be an array of dates (2026-02-16)")


def _day(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    if not isinstance(value, date) or isinstance(value, datetime):
        raise problem(f"must be a date (2026-02-16), got {value!r}")
    return value


def _options(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(o, Mapping) for o in value):
        return value
    raise problem('must be an array of { digits = "1", target = "node" } tables')


def _given() -> Any:
    """A key whose absence its type reports in its own words: a default of None that is
    validated, left out of the schema (`_required` names the key there)."""
    return Field(default=None, validate_default=True, json_schema_extra=_no_default)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _required(*names: str) -> ConfigDict:
    """A table whose `names` are `_given()`: required in its schema."""

    def extra(schema: dict[str, Any]) -> None:
        schema["required"] = [*schema.get("required", []), *names]

    return ConfigDict(json_schema_extra=extra)


def _range_text(v: str) -> str | None:
    found = time_range(v)
    return found if isinstance(found, str) else None


Dtmf = Annotated[Str, Checked(_dtmf, pattern=r"^[0-9*#]+$")]
PromptIds = Annotated[tuple[Str, ...], _ids(), WithJsonSchema(STRINGS)]
RangeText = Annotated[Str, Checked(_range_text, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")]
Ranges = Annotated[tuple[RangeText, ...], BeforeValidator(_ranges)]
EntryKey = Annotated[Str, Checked(_entry, pattern=rf"^([0-9]+|{DEFAULT_ENTRY})$")]
Day = Annotated[date, BeforeValidator(_day)]
Dates = Annotated[tuple[Day, ...], BeforeValidator(_dates)]


# --- the tables ------------------------------------------------------------------------------


class IvrSettings(FileModel):
    timezone: Annotated[Str, Checked(_zone)] = "Asia/Shanghai"


class PromptTable(FileModel):
    text: Str
    file: Str = ""  # a recorded file that replaces the synthesized text


def _has_text(p: PromptTable) -> str | None:
    return None if p.text.strip() else "the prompt text must not be empty"


class _OrText:
    """In the schema: the table, or its text alone (a string)."""

    def __get_pydantic_json_schema__(
        self, schema: Any, handler: Callable[[Any], dict[str, Any]]
    ) -> dict[str, Any]:
        return {"anyOf": [{"type": "string"}, handler(schema)]}


PromptEntry = Annotated[
    PromptTable,
    BeforeValidator(_prompt),
    Checked(_has_text),
    _OrText(),
]


class ScheduleTable(FileModel):
    """Business hours: `daily`, a weekday's own (mon ... sun, [] = closed), holidays closed or
    with `holiday_hours`, make-up working days (调休上班) with `makeup_hours`."""

    daily: Ranges = ()
    mon: Ranges = ()
    tue: Ranges = ()
    wed: Ranges = ()
    thu: Ranges = ()
    fri: Ranges = ()
    sat: Ranges = ()
    sun: Ranges = ()
    holidays: Dates = ()
    holiday_hours: Ranges = ()
    makeup_days: Dates = ()
    makeup_hours: Ranges = ()  # left out: Monday's hours


class OptionTable(FileModel):
    digits: Dtmf
    target: Str
    label: Str = ""


class MenuTable(FileModel):
    model_config = _required("prompts", "options")

    type: Literal["menu"]
    label: Str = ""
    prompts: Annotated[
        tuple[Str, ...], _ids("a menu needs at least one prompt"), WithJsonSchema(STRINGS)
    ] = _given()
    options: Annotated[tuple[OptionTable, ...], BeforeValidator(_options)] = _given()
    allowed: Dtmf = ""  # the digits the collect accepts (left out: any)
    max_digits: Annotated[Int, _within(1, MAX_DIGITS)] = 1
    timeout: Annotated[Float, _within(0.5, MAX_TIMEOUT)] = 5.0
    retries: Annotated[Int, _within(0, MAX_RETRIES)] = 2
    invalid_prompts: PromptIds = ()
    timeout_prompts: PromptIds = ()
    on_exhausted: Str = ""  # left out: the flow's
    operator: Bool = True


class RouteTable(FileModel):
    type: Literal["route"]
    skill: Str = ""  # left out: the DID's own skill (numbers.toml)
    priority: Annotated[Int, _within(0, 100)] = 0
    ivr_path: Str = ""  # left out: the node's name
    prompts: PromptIds = ()


class HoursTable(FileModel):
    type: Literal["hours"]
    schedule: Str
    open: Str
    closed: Str


class AnnounceTable(FileModel):
    model_config = _required("prompts")

    type: Literal["announce"]
    prompts: Annotated[
        tuple[Str, ...], _ids("an announce node needs at least one prompt"), WithJsonSchema(STRINGS)
    ] = _given()
    next: Str


class HangupTable(FileModel):
    type: Literal["hangup"]
    prompts: PromptIds = ()
    reason: Str = "ivr_hangup"


NodeTable = Annotated[
    Union[  # noqa: UP007
        Annotated[MenuTable, Tag("menu")],
        Annotated[RouteTable, Tag("route")],
        Annotated[HoursTable, Tag("hours")],
        Annotated[AnnounceTable, Tag("announce")],
        Annotated[HangupTable, Tag("hangup")],
    ],
    Discriminator(FieldTag("type")),
]


class FlowTable(FileModel):
    label: Str = ""
    start: Str
    operator: Str = ""  # the route or hangup node operator_digit reaches ("" = none)
    operator_digit: Dtmf = "0"
    on_exhausted: Str = ""  # the default of the flow's menus
    node: dict[Annotated[Str, _name("node names")], NodeTable] = Field(default_factory=dict)


class IvrFile(FileModel):
    """ivr.toml: the menus the pure IVR engine runs, by DID."""

    ivr: IvrSettings = IvrSettings()
    entries: dict[EntryKey, Str] = Field(default_factory=dict)  # DID or "default" -> flow
    prompts: dict[Annotated[Str, _name("prompt ids")], PromptEntry] = Field(default_factory=dict)
    schedule: dict[Str, ScheduleTable] = Field(default_factory=dict)
    flow: dict[Annotated[Str, _name("flow names")], FlowTable] = Field(default_factory=dict)


# --- the load --------------------------------------------------------------------------------


def parse_menus(data: Mapping[str, Any], file: str, skills: set[str]) -> IvrConfig:
    """Parsed ivr.toml data as the engine's menus; ConfigErrors with every mistake."""
    report = Report()
    found = menus(data, file, skills, report)
    report.raise_if_any()
    assert found is not None
    return found


def menus(
    data: Mapping[str, Any], file: str, skills: set[str] | tuple[str, ...], report: Report
) -> IvrConfig | None:
    """Parsed ivr.toml data as the engine's menus, or None with its mistakes in `report`."""
    before = len(report.errors)
    try:
        found = IvrFile.model_validate(data)
        broken: dict[str, set[str]] = {}
    except ValidationError as exc:
        report.errors += errors_of(exc, IvrFile, file)
        sound, broken = _sound(data, exc)
        try:
            found = IvrFile.model_validate(sound)
        except ValidationError:
            return None
    raw = data if isinstance(data, Mapping) else {}
    declared = {k: _keys(raw.get(k)) for k in ("prompts", "schedule", "flow")}
    tz = zoneinfo.ZoneInfo(found.ivr.timezone)
    schedules = {sid: _schedule(sid, s) for sid, s in found.schedule.items()}
    flows: dict[str, Flow | None] = dict.fromkeys(declared["flow"])  # None: left out
    for flow_id, f in found.flow.items():
        nodes = {nid: _node(nid, n, f.on_exhausted) for nid, n in f.node.items()}
        flows[flow_id] = Flow(
            flow_id, f.start, nodes, tz, schedules, f.operator, f.operator_digit, f.label
        )
    errors, warnings = check_menus(
        file,
        declared["prompts"],
        declared["schedule"],
        flows,
        {**dict.fromkeys(_keys(raw.get("entries"))), **found.entries},
        set(skills),
        broken,
    )
    for issue in errors:
        report.error(*issue)
    if len(report.errors) > before:
        return None
    prompts = {pid: Prompt(pid, p.text, p.file) for pid, p in found.prompts.items()}
    usable = {fid: f for fid, f in flows.items() if f is not None}
    return IvrConfig(found.ivr.timezone, prompts, schedules, usable, found.entries, tuple(warnings))


def _keys(table: Any) -> list[str]:
    return list(table) if isinstance(table, Mapping) else []


def _sound(data: Any, exc: ValidationError) -> tuple[Any, dict[str, set[str]]]:
    """`data` without the tables and keys that have a mistake, and the flows that lost a
    key or a node (flow id -> its nodes left out); a flow left out whole is not there."""
    cuts: set[tuple[Any, ...]] = set()
    for e in exc.errors(include_url=False):
        loc = tuple(s for s in e["loc"] if s != "[key]")
        depth = 2
        if loc[:1] == ("flow",):
            depth = 4 if len(loc) > 3 and loc[2] == "node" else 3
        cut = loc[: min(len(loc) - (e["type"] == "missing"), depth)]
        cuts.add(cut if cut else loc[:1])
    broken: dict[str, set[str]] = {}
    for cut in cuts:
        if cut[:1] == ("flow",) and len(cut) >= 3:
            nodes = broken.setdefault(str(cut[1]), set())
            if len(cut) == 4:
                nodes.add(str(cut[3]))
    return _without(data, cuts), broken


def _without(data: Any, cuts: set[tuple[Any, ...]]) -> Any:
    """A copy of the tables of `data` with the keys at `cuts` removed."""
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        here = {c[1:] for c in cuts if c[:1] == (key,)}
        if () in here:
            continue
        out[key] = _without(value, here) if here else value
    return out


def _schedule(sid: str, s: ScheduleTable) -> Schedule:
    def ranges(texts: tuple[str, ...]) -> tuple[TimeRange, ...]:
        return tuple(r for r in map(time_range, texts) if isinstance(r, TimeRange))

    given = s.model_fields_set
    week = tuple(ranges(getattr(s, d)) if d in given else ranges(s.daily) for d in WEEKDAYS)
    return Schedule(
        sid,
        week,
        DayCalendar(frozenset(s.holidays), frozenset(s.makeup_days)),
        ranges(s.holiday_hours),
        ranges(s.makeup_hours) if "makeup_hours" in given else week[0],
    )


def _node(node_id: str, n: Any, default_exhausted: str) -> Node:
    if isinstance(n, MenuTable):
        return MenuNode(
            node_id,
            n.prompts,
            tuple(MenuOption(o.digits, o.target, o.label) for o in n.options),
            n.on_exhausted if "on_exhausted" in n.model_fields_set else default_exhausted,
            n.allowed,
            n.max_digits,
            n.timeout,
            n.retries,
            n.invalid_prompts,
            n.timeout_prompts,
            n.operator,
            n.label,
        )
    if isinstance(n, RouteTable):
        path = n.ivr_path if "ivr_path" in n.model_fields_set else node_id
        return RouteNode(node_id, n.skill, n.priority, path, n.prompts)
    if isinstance(n, HoursTable):
        return HoursNode(node_id, n.schedule, n.open, n.closed)
    if isinstance(n, AnnounceTable):
        return AnnounceNode(node_id, n.prompts, n.next)
    assert isinstance(n, HangupTable)
    return HangupNode(node_id, n.prompts, n.reason)
