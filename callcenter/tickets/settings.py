"""Loads and validates config/tickets.toml, knowledge.toml and departments.toml.

Every mistake names its file and key (e.g. `deadline[2].working_days`) and what is allowed;
one load reports all mistakes at once as `ConfigErrors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, Strict

from callcenter.config_models import (
    Bool,
    Checked,
    FileModel,
    Float,
    Int,
    Known,
    Positive,
    Report,
    Str,
    one_of,
)
from callcenter.tickets.calendar import DeadlinePolicy, DeadlineRule, WorkingCalendar
from callcenter.tickets.knowledge import REQUEST_TYPES, Department, KnowledgeBase, Topic, TypeCues
from callcenter.tickets.lifecycle import LifecyclePolicy
from callcenter.tickets.similarity import RepeatPolicy
from ivr.workdays import DayCalendar, official_china

FILES = ("tickets.toml", "knowledge.toml", "departments.toml")
HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
ID = re.compile(r"^[a-z][a-z0-9_]*$")


MIB = 1024 * 1024


@dataclass(frozen=True)
class AttachmentLimits:
    """`[attachments]` of tickets.toml: the largest file stored (`max_bytes`; a larger upload
    is refused whole with 413) and what one API user may store in all (`quota_bytes_per_user`,
    the sum of the sizes of their attachment rows)."""

    max_bytes: int = 20 * MIB
    quota_bytes_per_user: int = 2048 * MIB


@dataclass(frozen=True)
class TicketSettings:
    calendar: WorkingCalendar
    deadlines: DeadlinePolicy
    repeat: RepeatPolicy
    lifecycle: LifecyclePolicy
    knowledge: KnowledgeBase
    attachments: AttachmentLimits = AttachmentLimits()


def _read(src: Path, report: Report) -> dict[str, dict[str, Any] | None]:
    """Each file's tables; None for a file that is missing or not TOML (its own mistake)."""
    return {name: report.read(src / name, f"{src.name}/{name}") for name in FILES}


def load_ticket_settings(directory: str | Path) -> TicketSettings:
    """tickets.toml, knowledge.toml and departments.toml of `directory`; ConfigErrors with
    every mistake of the three (file, dotted key, what is allowed)."""
    src = Path(directory)
    report = Report()
    data = _read(src, report)

    def file(name: str) -> str:
        return f"{src.name}/{name}"

    departments = _departments(report, file("departments.toml"), data["departments.toml"])
    knowledge = _knowledge(
        report, file("knowledge.toml"), data["knowledge.toml"], data["departments.toml"]
    )
    tickets = _tickets(report, file("tickets.toml"), data["tickets.toml"])
    report.raise_if_any()
    assert departments is not None and knowledge is not None and tickets is not None
    t = tickets
    kb = KnowledgeBase(
        topics=tuple(
            Topic(x.id, x.name or x.id, x.department, _terms(x), x.type_hint)
            for x in knowledge.topic
        ),
        types=tuple(TypeCues(x.name, _terms(x)) for x in knowledge.type),
        departments={
            d.id: Department(d.id, d.name or d.id, d.skill) for d in departments.department
        },
        fallback_department=departments.fallback,
        default_type=knowledge.classifier.default_type,
        type_hint_weight=knowledge.classifier.type_hint_weight,
        stop_words=frozenset(knowledge.text.stop_words),
    )
    return TicketSettings(
        calendar=_calendar(t.calendar),
        deadlines=DeadlinePolicy(
            rules={
                d.type: DeadlineRule(d.type, d.working_days, d.working_hours, d.urgent_hours)
                for d in t.deadline
            },
            due_soon_share=t.warning.due_soon_share,
            due_soon_hours=t.warning.due_soon_hours,
        ),
        repeat=RepeatPolicy(
            window_days=t.repeat.window_days,
            threshold=t.repeat.threshold,
            stop_words=kb.stop_words,
        ),
        lifecycle=LifecyclePolicy(reopen_on_unsatisfied=t.lifecycle.reopen_on_unsatisfied),
        knowledge=kb,
        attachments=AttachmentLimits(t.attachments.max_bytes, t.attachments.quota_bytes_per_user),
    )


def _required(
    report: Report, file: str, data: dict[str, Any], key: str, message: str
) -> dict[str, Any]:
    """`data` with the array of tables `key`: when it is left out, the mistake is said with
    `message` (what the array is for) and the model reads it empty."""
    if key in data:
        return data
    report.error(file, key, message)
    return {**data, key: []}


# --- the rules of single values ----------------------------------------------------------------


def _between(low: float, high: float) -> Checked:
    return Checked(
        lambda v: None if low <= v <= high else f"must be from {low:g} to {high:g}, got {v:g}",
        minimum=low,
        maximum=high,
    )


def _words(value: tuple[Any, ...]) -> str | None:
    if all(isinstance(w, str) and w.strip() for w in value):
        return None
    return "must be an array of non-empty strings"


def _zone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (e.g. Asia/Shanghai)"
    return None


def _period(pair: Any) -> str | None:
    if (
        isinstance(pair, list)
        and len(pair) == 2
        and all(isinstance(x, str) and HHMM.match(x) for x in pair)
    ):
        return None
    return f'must be a pair of "HH:MM" times, got {pair!r}'


def _weekend(days: tuple[Any, ...]) -> str | None:
    if all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days):
        return None
    return f"must be days of the week 1 (Monday) to 7, got {list(days)!r}"


def _more_than_zero(v: float) -> str | None:
    return None if v > 0 else "must be more than zero"


def _a_byte(v: int) -> str | None:
    return None if v >= 1 else "must be at least 1 byte"


def _weight(v: float) -> str | None:
    return None if v > 0 else f"must be a number more than zero, got {v!r}"


def _id(v: str) -> str | None:
    return None if ID.match(v) else f"must be lower-case letters, digits and _, got {v!r}"


def _type_hint(v: str) -> str | None:
    return None if v in ("", *REQUEST_TYPES) else f"must be one of {', '.join(REQUEST_TYPES)}"


Date = Annotated[date, Strict()]
Words = Annotated[
    tuple[Any, ...],
    Checked(_words, items={"type": "string", "minLength": 1}),
    AfterValidator(lambda v: tuple(w.strip() for w in v)),
]
Period = Annotated[
    Any,
    Checked(
        _period,
        type="array",
        items={"type": "string", "pattern": HHMM.pattern},
        minItems=2,
        maxItems=2,
    ),
]
Days = Annotated[Int, Checked(_more_than_zero, exclusiveMinimum=0)]
Bytes = Annotated[Int, Checked(_a_byte, minimum=1)]
Weights = dict[Str, Annotated[Float, Checked(_weight, exclusiveMinimum=0)]]


# --- tickets.toml ------------------------------------------------------------------------------


class HolidayKeys(FileModel):
    name: Str  # the festival (春节, 国庆节, ...)
    first: Date = Field(alias="from")
    to: Date | None = None  # default: the same day as `from`

    @property
    def last(self) -> date:
        return self.to or self.first

    def days(self) -> list[date]:
        """Its days; none when it ends before it starts or spans over 31 days."""
        n = (self.last - self.first).days
        return [] if not 0 <= n <= 31 else [self.first + timedelta(days=d) for d in range(n + 1)]


class CalendarKeys(FileModel):
    timezone: Annotated[Str, Checked(_zone)] = "Asia/Shanghai"
    # the working periods of a working day, in order and not overlapping
    working_hours: tuple[Period, ...] = (["09:00", "12:00"], ["13:30", "17:30"])
    weekend: Annotated[
        tuple[Any, ...], Checked(_weekend, items={"type": "integer", "minimum": 1, "maximum": 7})
    ] = (6, 7)
    official_days: Bool = True  # the published days (chinesecalendar); the lists override them
    makeup_workdays: tuple[Date, ...] = ()
    holiday: tuple[HolidayKeys, ...] = ()


class DeadlineKeys(FileModel):
    type: Str  # a request type (REQUEST_TYPES)
    working_days: Days | None = None  # exactly one of working_days / working_hours
    working_hours: Positive | None = None
    urgent_hours: Positive | None = None  # clock hours when the request is urgent


class WarningKeys(FileModel):
    due_soon_share: Annotated[Float, _between(0.0, 1.0)] = 0.2
    due_soon_hours: Annotated[Float, _between(0.0, 24.0 * 365)] = 0.0


class RepeatKeys(FileModel):
    window_days: Annotated[Float, _between(0.0, 3660.0)] = 30.0
    threshold: Annotated[Float, _between(0.0, 1.0)] = 0.5


class LifecycleKeys(FileModel):
    reopen_on_unsatisfied: Bool = False


class AttachmentKeys(FileModel):
    max_bytes: Bytes = AttachmentLimits.max_bytes
    quota_bytes_per_user: Bytes = AttachmentLimits.quota_bytes_per_user


class TicketsFile(FileModel):
    """tickets.toml: the working calendar, deadlines per request type, warnings, repeats,
    the lifecycle and the attachments' limits."""

    calendar: CalendarKeys = CalendarKeys()
    deadline: tuple[DeadlineKeys, ...]  # one per request type
    warning: WarningKeys = WarningKeys()
    repeat: RepeatKeys = RepeatKeys()
    lifecycle: LifecycleKeys = LifecycleKeys()
    attachments: AttachmentKeys = AttachmentKeys()


def _tickets(report: Report, file: str, data: dict[str, Any] | None) -> TicketsFile | None:
    if data is None:
        return None
    data = _required(
        report, file, data, "deadline", "is required: one [[deadline]] per request type"
    )
    found = report.validate(TicketsFile, data, file)
    if found is None:
        return None
    _check_calendar(report, file, found.calendar)
    seen: set[str] = set()
    for i, d in enumerate(found.deadline):
        key = f"deadline[{i}]"
        if (d.working_days is None) == (d.working_hours is None):
            report.error(file, key, "needs exactly one of working_days or working_hours")
        if d.type in seen:
            report.error(file, f"{key}.type", f"duplicate request type {d.type!r}")
        seen.add(d.type)
    missing = [k for k in REQUEST_TYPES if k not in seen]
    if found.deadline and missing:
        report.error(file, "deadline", f"missing request types: {', '.join(missing)}")
    a = found.attachments
    if a.quota_bytes_per_user < a.max_bytes:
        report.error(
            file, "attachments.quota_bytes_per_user", "must be at least attachments.max_bytes"
        )
    return found


def _check_calendar(report: Report, file: str, c: CalendarKeys) -> None:
    """The calendar's rules across keys: periods in order, holidays that end after they
    start, and no day both a holiday and a make-up working day."""
    last: time | None = None
    for i, pair in enumerate(c.working_hours):
        start, end = (time.fromisoformat(x) for x in pair)
        if end <= start or (last is not None and start < last):
            report.error(
                file,
                f"calendar.working_hours[{i}]",
                "periods must be in order, each ending after it starts, not overlapping",
            )
            continue
        last = end
    if last is None:
        report.error(file, "calendar.working_hours", "needs at least one working period")
    holidays: set[date] = set()
    for i, h in enumerate(c.holiday):
        if h.last < h.first:
            report.error(file, f"calendar.holiday[{i}].to", f"must not be before from ({h.first})")
        elif (h.last - h.first).days > 31:
            report.error(file, f"calendar.holiday[{i}].to", "a holiday spans at most 31 days")
        holidays.update(h.days())
    for d in sorted(set(c.makeup_workdays) & holidays):
        report.error(file, "calendar.makeup_workdays", f"{d} is also listed as a holiday")


def _calendar(c: CalendarKeys) -> WorkingCalendar:
    holidays: set[date] = set()
    festivals: dict[date, str] = {}
    for h in c.holiday:
        holidays.update(h.days())
        festivals.update((d, h.name) for d in h.days() if h.name)
    # the published days (chinesecalendar) by default; the lists above add to and override them
    base = official_china() if c.official_days else DayCalendar()
    days = base.overridden_by(frozenset(holidays), frozenset(c.makeup_workdays), festivals)
    return WorkingCalendar(
        zone=ZoneInfo(c.timezone),
        periods=tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in c.working_hours),
        days=days.with_weekend(frozenset(d - 1 for d in c.weekend)),
    )


# --- departments.toml and knowledge.toml --------------------------------------------------------


class DepartmentKeys(FileModel):
    id: Annotated[Str, Checked(_id, pattern=ID.pattern)]
    name: Str
    skill: Str = ""  # the seat skill (skills.toml) that knows the department's matters


class DepartmentsFile(FileModel):
    """departments.toml: the departments (承办单位) tickets are dispatched to."""

    fallback: Str  # the department that gets what the classifier cannot place
    department: tuple[DepartmentKeys, ...] = ()


def _departments(report: Report, file: str, data: dict[str, Any] | None) -> DepartmentsFile | None:
    if data is None:
        return None
    found = report.validate(DepartmentsFile, data, file)
    if found is None:
        return None
    ids: list[str] = []
    for i, d in enumerate(found.department):
        if d.id in ids:
            report.error(file, f"department[{i}].id", f"duplicate department {d.id!r}")
        ids.append(d.id)
    if not ids:
        report.error(file, "department", "at least one [[department]] is required")
    elif found.fallback not in ids:
        known = ", ".join(dict.fromkeys(ids))
        report.error(file, "fallback", f"unknown department {found.fallback!r} (known: {known})")
    return found


class ClassifierKeys(FileModel):
    default_type: Annotated[Str, one_of(*REQUEST_TYPES)] = "咨询"
    # how much a matched topic's usual type adds to the type scores
    type_hint_weight: Annotated[Float, _between(0.0, 100.0)] = 2.0


class TextKeys(FileModel):
    stop_words: Words = ()  # ignored when comparing requests for repeats


class TypeKeys(FileModel):
    name: Annotated[Str, one_of(*REQUEST_TYPES)]
    terms: Words = ()  # each weighs 1.0
    weights: Weights = {}  # a term's own weight (it is added if not in terms)


class TopicKeys(FileModel):
    id: Str
    name: Str | None = None  # default: the id
    department: Annotated[Str, Known("departments", "department")]
    type_hint: Annotated[Str, Checked(_type_hint, enum=["", *REQUEST_TYPES])] = ""
    terms: Words = ()
    weights: Weights = {}


class KnowledgeFile(FileModel):
    """knowledge.toml: the request classifier's request types and topics, and stop words."""

    classifier: ClassifierKeys = ClassifierKeys()
    text: TextKeys = TextKeys()
    type: tuple[TypeKeys, ...] = ()
    topic: tuple[TopicKeys, ...]


def _terms(cues: TypeKeys | TopicKeys) -> dict[str, float]:
    terms = dict.fromkeys(cues.terms, 1.0)
    terms.update(cues.weights)
    return terms


def _department_ids(data: dict[str, Any] | None) -> tuple[str, ...] | None:
    """The department ids departments.toml names, also when some of its entries are wrong
    (their own mistakes are said there); None (no check) when it names none."""
    rows = (data or {}).get("department")
    if not isinstance(rows, list):
        return None
    ids = (row.get("id") for row in rows if isinstance(row, dict))
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str))) or None


def _knowledge(
    report: Report, file: str, data: dict[str, Any] | None, departments: dict[str, Any] | None
) -> KnowledgeFile | None:
    if data is None:
        return None
    data = _required(report, file, data, "topic", "at least one [[topic]] is required")
    known = _department_ids(departments)
    context = {} if known is None else {"departments": known}
    found = report.validate(KnowledgeFile, data, file, context)
    if found is None:
        return None
    types: set[str] = set()
    for i, t in enumerate(found.type):
        if t.name in types:
            report.error(file, f"type[{i}].name", f"duplicate request type {t.name!r}")
        types.add(t.name)
        if not _terms(t):
            report.error(file, f"type[{i}].terms", "needs at least one term")
    topics: set[str] = set()
    for i, x in enumerate(found.topic):
        if x.id in topics:
            report.error(file, f"topic[{i}].id", f"duplicate topic {x.id!r}")
        topics.add(x.id)
        if not _terms(x):
            report.error(file, f"topic[{i}].terms", "needs at least one term")
    return found
