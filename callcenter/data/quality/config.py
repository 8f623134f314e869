"""Reads config/quality.toml: the declared rules and the run schedule. Every mistake names the
file and the dotted key (e.g. `rule[3].window`); one load reports all of them.

A `dictionary` rule takes its codes from `values`, or from `source = "tickets.request_types"`
(the request types of config/tickets.toml, one `[[deadline]]` per type),
`source = "tickets.channels"` (the intake channels the ticket store accepts),
`"tickets.statuses"` (the lifecycle's statuses) or `"tickets.ratings"` (the citizen's ratings).

An `order` rule may compare the times the runner derives per ticket (`first_stage_at`,
`call_arrived_at`, see rules.DERIVED); a `date` rule's `not_after = "now"` is the run's time.
`unless` names rule ids (declared in the file) that, when they find a problem in a row, make
this rule skip that row.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Discriminator, Tag, create_model
from pydantic.json_schema import SkipJsonSchema

from callcenter.config_models import (
    Bool,
    Checked,
    FieldTag,
    FileModel,
    NonNegative,
    Positive,
    Report,
    Str,
)
from callcenter.data.quality.rules import (
    DERIVED,
    DIMENSIONS,
    JSON_COLUMNS,
    KINDS,
    NOW,
    SEVERITIES,
    Rule,
)
from callcenter.data.quality.schedule import Schedule, parse_duration, parse_hhmm
from callcenter.storage.schema import Base, Ticket
from callcenter.tickets.model import Rating, Status
from callcenter.tickets.service import CHANNELS
from callcenter.tomlreader import ConfigError, ConfigErrors

FILE = "quality.toml"
TABLE = "tickets"
SOURCES = ("tickets.request_types", "tickets.channels", "tickets.statuses", "tickets.ratings")
CHINA = timezone(timedelta(hours=8))
COLUMNS = frozenset(c.name for c in Ticket.__table__.columns)
STATUSES = tuple(s.value for s in Status)


@dataclass(frozen=True)
class QualityConfig:
    rules: tuple[Rule, ...]
    schedule: Schedule = field(default_factory=Schedule)

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)


# --- the rules of a value ------------------------------------------------------------------


def _duration(value: str) -> str | None:
    return None if parse_duration(value) else "must be a duration like 30s, 15m, 2h or 1d"


def _hhmm(value: str) -> str | None:
    return None if parse_hhmm(value) else "must be a local time HH:MM, e.g. 02:30"


def _zone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}"
    return None


def _one_of(allowed: Collection[str]) -> Checked:
    def check(value: str) -> str | None:
        if value in allowed:
            return None
        return f"unknown {value!r} (allowed: {', '.join(sorted(allowed))})"

    return Checked(check, enum=sorted(allowed))


def _column(value: str) -> str | None:
    return None if value in COLUMNS else f"no column {value!r} in table {TABLE}"


def _time(value: str) -> str | None:
    """A column, or a time the runner derives per ticket."""
    if value in COLUMNS or value in DERIVED:
        return None
    derived = ", ".join(sorted(DERIVED))
    return f"no column {value!r} in table {TABLE} (nor a derived time: {derived})"


def _json_key(value: str, then: Callable[[str], str | None]) -> str | None:
    """A key of a JSON column ("state.rating"), or else what `then` says of the name."""
    column, dot, key = value.partition(".")
    if dot:
        if column in JSON_COLUMNS and key:
            return None
        return f"only a JSON column ({', '.join(sorted(JSON_COLUMNS))}) takes a .key"
    return then(value)


def _field(value: str) -> str | None:
    """A column, a derived time, or a key of a JSON column ("state.rating")."""
    return _json_key(value, _time)


def _required_field(value: str) -> str | None:
    """A column, or a key of a JSON column."""
    column = value.partition(".")[0]
    if column not in COLUMNS:
        return f"no column {column!r} in table {TABLE}"
    return _json_key(value, _column)


def _column_or_now(value: str) -> str | None:
    return None if value == NOW else _column(value)


def _iso_date(value: str) -> str | None:
    try:
        date.fromisoformat(value)
    except ValueError:
        return "must be a date YYYY-MM-DD"
    return None


def _table(value: str) -> str | None:
    return None if value in Base.metadata.tables else f"no table {value!r} in the schema"


def _filled(value: tuple[str, ...]) -> str | None:
    return None if value else "is required: the fields that identify the same party"


def _epoch(value: str) -> float:
    """Local midnight (UTC+8, the hotline's zone) of an ISO date, as epoch seconds."""
    return datetime.combine(date.fromisoformat(value), time(), CHINA).timestamp()


Column = Annotated[Str, Checked(_column)]
TimeName = Annotated[Str, Checked(_time)]
Word = Annotated[Str, Checked(lambda v: None if v else "must not be empty", minLength=1)]


# --- the file ------------------------------------------------------------------------------


class ScheduleKeys(FileModel):
    """[schedule]: when the service runs governance (and data retention)."""

    enabled: Bool = True
    incremental_every: Annotated[Str, Checked(_duration, examples=["15m"])] = "15m"
    full_at: Annotated[Str, Checked(_hhmm, examples=["02:30"])] = "02:30"  # local time
    timezone: Annotated[Str, Checked(_zone)] = "Asia/Shanghai"


class RuleKeys(FileModel):
    """The keys of every [[rule]]; each kind adds its parameters."""

    id: Annotated[Str, Checked(lambda v: None if v else "is empty", minLength=1)]
    dimension: Annotated[Str, _one_of(DIMENSIONS)]
    kind: Str
    field: Column
    severity: Annotated[Str, _one_of(SEVERITIES)] = "error"
    enabled: Bool = True
    description: Str = ""
    unless: tuple[Word, ...] = ()  # rule ids of this file


class PhoneRule(RuleKeys):
    kind: Literal["phone"]
    allow_empty: Bool = False


class IdCardRule(RuleKeys):
    kind: Literal["id_card"]


class UsccRule(RuleKeys):
    kind: Literal["uscc"]


class DictionaryRule(RuleKeys):
    """Exactly one of `values` and `source`."""

    kind: Literal["dictionary"]
    field: Annotated[Str, Checked(_field)]
    values: tuple[Word, ...] = ()
    source: Annotated[Str, _one_of(SOURCES)] = ""
    allow_empty: Bool = False


class RequiredRule(RuleKeys):
    """`fields` (or else `field`) must be filled at `statuses` (none: every stage)."""

    kind: Literal["required"]
    field: Column = ""
    fields: tuple[Annotated[Str, Checked(_required_field)], ...] = ()
    statuses: tuple[
        Annotated[
            Str,
            Checked(lambda v: None if v in STATUSES else f"unknown status {v!r}", enum=STATUSES),
        ],
        ...,
    ] = ()


class ReferenceRule(RuleKeys):
    kind: Literal["reference"]
    table: Annotated[Str, Checked(_table)]
    column: Str = "code"  # a column of that table


class OrderRule(RuleKeys):
    kind: Literal["order"]
    field: TimeName
    not_before: TimeName


class DuplicateRule(RuleKeys):
    kind: Literal["duplicate"]
    keys: Annotated[tuple[Column, ...], Checked(_filled, minItems=1)]
    time: Column = "created_at"
    window: Positive  # seconds


class LagRule(RuleKeys):
    kind: Literal["lag"]
    since: Column
    max: Positive  # seconds


class JsonRequiresRule(RuleKeys):
    kind: Literal["json_requires"]
    key: Str
    requires: Str


class DecryptableRule(RuleKeys):
    kind: Literal["decryptable"]


class DateRule(RuleKeys):
    kind: Literal["date"]
    earliest: Annotated[Str, Checked(_iso_date, format="date")] = "2000-01-01"
    not_after: Annotated[Str, Checked(_column_or_now)] = ""  # a time column or "now"
    ahead: NonNegative = 0.0  # seconds


KIND_MODELS: dict[str, type[RuleKeys]] = {
    "phone": PhoneRule,
    "id_card": IdCardRule,
    "uscc": UsccRule,
    "dictionary": DictionaryRule,
    "required": RequiredRule,
    "reference": ReferenceRule,
    "order": OrderRule,
    "duplicate": DuplicateRule,
    "lag": LagRule,
    "json_requires": JsonRequiresRule,
    "decryptable": DecryptableRule,
    "date": DateRule,
}
PARAMS = tuple(
    dict.fromkeys(
        n for m in KIND_MODELS.values() for n in m.model_fields if n not in RuleKeys.model_fields
    )
)
# A rule of no known kind: its kind is the mistake, its common keys are still checked and any
# kind's parameter is allowed (editors do not see it: SkipJsonSchema).
UnknownKindRule = create_model(
    "UnknownKindRule",
    __base__=RuleKeys,
    __module__=__name__,
    kind=(Annotated[Str, _one_of(KINDS)], ...),
    **{name: (Any, None) for name in PARAMS},
)  # type: ignore[call-overload]


class _KnownKind(FieldTag):
    """The rule's kind as its tag; the default tag when it is missing or not a kind."""

    def __call__(self, value: Any) -> Any:
        kind = super().__call__(value)
        return kind if isinstance(kind, str) and kind in KIND_MODELS else self.default


if TYPE_CHECKING:
    AnyRule = RuleKeys
else:  # one model per kind, told apart by `kind`
    AnyRule = Annotated[
        Union[  # noqa: UP007
            tuple(Annotated[m, Tag(k)] for k, m in KIND_MODELS.items())
            + (Annotated[SkipJsonSchema[UnknownKindRule], Tag("?")],)
        ],
        Discriminator(_KnownKind("kind", "?")),
    ]


class QualityFile(FileModel):
    """quality.toml: the data-quality rules (GB/T 44192 6.4) and when they run."""

    schedule: ScheduleKeys = ScheduleKeys()
    rule: Annotated[
        tuple[AnyRule, ...],
        Checked(lambda v: None if v else "is required: at least one [[rule]]", minItems=1),
    ]


class _OneRule(FileModel):
    rule: AnyRule


# --- loading -------------------------------------------------------------------------------


def load_quality(config_dir: str | Path) -> QualityConfig:
    src = Path(config_dir)
    file = f"{src.name}/{FILE}"
    try:
        data = tomllib.loads((src / FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigErrors([ConfigError(file, "", "required file is missing")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigErrors([ConfigError(file, "", f"cannot be read: {exc}")]) from None
    return parse_quality(data, file, lambda: request_types(src))


def request_types(config_dir: Path) -> frozenset[str]:
    """The request types of config/tickets.toml (its `[[deadline]] type`s)."""
    path = config_dir / "tickets.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return frozenset(
        d["type"] for d in data.get("deadline", []) if isinstance(d, dict) and "type" in d
    )


def parse_quality(
    data: Mapping[str, Any], file: str, request_types: Callable[[], frozenset[str]]
) -> QualityConfig:
    report = Report()
    found = report.validate(QualityFile, data, file)
    report.errors = [
        ConfigError(file, e.key, "is required: at least one [[rule]]")
        if (e.key, e.message) == ("rule", "is required")
        else e
        for e in report.errors
    ]
    declared = data.get("rule")
    tables = declared if isinstance(declared, list) else []
    if found is not None:
        models: list[tuple[int, RuleKeys]] = list(enumerate(found.rule))
    else:  # the cross-checks still look at the rules without a mistake of their own
        models = [(i, m) for i, t in enumerate(tables) if (m := _valid_rule(t)) is not None]
    rules: list[Rule] = []
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for i, model in models:
        rule = _rule(report, file, f"rule[{i}]", model, request_types)
        ident = (rule.id, rule.checked_fields)
        if ident in seen:
            report.error(
                file, f"rule[{i}].id", f"{rule.id!r} on the same field(s) as {seen[ident]}"
            )
        seen[ident] = f"rule[{i}]"
        rules.append(rule)
    ids = {t.get("id") for t in tables if isinstance(t, dict)}
    for i, table in enumerate(tables):
        unless = table.get("unless", []) if isinstance(table, dict) else []
        for j, name in enumerate(unless if isinstance(unless, list) else []):
            if isinstance(name, str) and name not in ids:
                report.error(
                    file, f"rule[{i}].unless[{j}]", f"no rule with id {name!r} in this file"
                )
    report.raise_if_any()
    assert found is not None
    t = found.schedule
    schedule = Schedule(
        parse_duration(t.incremental_every) or 900.0,
        parse_hhmm(t.full_at) or Schedule().full_at,
        ZoneInfo(t.timezone),
        t.enabled,
    )
    return QualityConfig(tuple(rules), schedule)


def _valid_rule(table: Any) -> RuleKeys | None:
    one = Report().validate(_OneRule, {"rule": table}, FILE)
    return one.rule if one is not None else None


def _rule(
    report: Report,
    file: str,
    key: str,
    m: RuleKeys,
    request_types: Callable[[], frozenset[str]],
) -> Rule:
    """The rule of a valid table, with the checks across its keys (said in `report`)."""
    rule = Rule(
        m.id,
        m.dimension,
        m.kind,
        m.field,
        m.severity,
        m.enabled,
        m.description,
        unless=frozenset(m.unless),
    )
    if isinstance(m, PhoneRule):
        return replace(rule, allow_empty=m.allow_empty)
    if isinstance(m, DictionaryRule):
        values = _codes(report, file, key, m, request_types)
        return replace(rule, allow_empty=m.allow_empty, values=frozenset(values))
    if isinstance(m, RequiredRule):
        fields = m.fields or ((m.field,) if m.field else ())
        if not fields:
            report.error(file, f"{key}.fields", "is required: the fields that must be filled")
        first = fields[0] if fields else ""
        return replace(rule, field=first, fields=fields, statuses=frozenset(m.statuses))
    if isinstance(m, ReferenceRule):
        if m.column not in Base.metadata.tables[m.table].columns:
            report.error(file, f"{key}.column", f"no column {m.column!r} in table {m.table}")
        return replace(rule, table=m.table, column=m.column)
    if isinstance(m, OrderRule):
        return replace(rule, other=m.not_before)
    if isinstance(m, LagRule):
        return replace(rule, other=m.since, seconds=m.max)
    if isinstance(m, DuplicateRule):
        return replace(rule, other=m.time, keys=m.keys, seconds=m.window)
    if isinstance(m, DateRule):
        return replace(rule, earliest=_epoch(m.earliest), other=m.not_after, seconds=m.ahead)
    if isinstance(m, JsonRequiresRule):
        return replace(rule, key=m.key, requires=m.requires)
    return rule


def _codes(
    report: Report,
    file: str,
    key: str,
    m: DictionaryRule,
    request_types: Callable[[], frozenset[str]],
) -> list[str]:
    """A dictionary rule's codes: its `values`, or those of its `source`."""
    values = list(m.values)
    if bool(values) == bool(m.source):
        report.error(file, key, "a dictionary rule needs exactly one of values or source")
    elif m.source == "tickets.channels":
        values = list(CHANNELS)
    elif m.source == "tickets.statuses":
        values = list(STATUSES)
    elif m.source == "tickets.ratings":
        values = [rating.value for rating in Rating]
    elif m.source:
        try:
            values = sorted(request_types())
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            report.error(file, f"{key}.source", f"cannot read the request types: {exc}")
        if not values:
            report.error(file, f"{key}.source", "the source has no codes")
    return values
