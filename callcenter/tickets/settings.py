"""Loads and validates config/tickets.toml, knowledge.toml and departments.toml.

Every mistake names its file and key (e.g. `deadline[2].working_days`) and what is allowed;
one load reports all mistakes at once as `ConfigErrors`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.config import ConfigErrors
from callcenter.tickets.calendar import DeadlinePolicy, DeadlineRule, WorkingCalendar
from callcenter.tickets.knowledge import REQUEST_TYPES, Department, KnowledgeBase, Topic, TypeCues
from callcenter.tickets.lifecycle import LifecyclePolicy
from callcenter.tickets.similarity import RepeatPolicy
from callcenter.tomlreader import TableReader
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


class _Reader(TableReader):
    """The shared config reader, plus the shapes ticket settings need."""

    def number(
        self, table: Mapping[str, Any], key: str, name: str, default: float, low: float, high: float
    ) -> float:
        value: float = self.get(table, key, name, float, default)
        if not low <= value <= high:
            self.error(f"{key}.{name}", f"must be from {low:g} to {high:g}, got {value:g}")
            return default
        return value

    def words(self, table: Mapping[str, Any], key: str, name: str) -> list[str]:
        value = self.get(table, key, name, list, [])
        if not all(isinstance(w, str) and w.strip() for w in value):
            self.error(f"{key}.{name}", "must be an array of non-empty strings")
            return []
        return [w.strip() for w in value]


def load_ticket_settings(directory: str | Path) -> TicketSettings:
    src = Path(directory)
    r = _Reader()
    data: dict[str, dict[str, Any]] = {}
    for name in FILES:
        path = src / name
        r.file = f"{src.name}/{name}"
        data[name] = {}
        if not path.exists():
            r.error("", "required file is missing")
            continue
        try:
            data[name] = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            r.error("", f"TOML syntax error: {exc}")
        except UnicodeDecodeError as exc:
            r.error("", f"not UTF-8 text: {exc}")

    r.file = f"{src.name}/departments.toml"
    departments, fallback = _departments(r, data["departments.toml"])
    r.file = f"{src.name}/knowledge.toml"
    knowledge = _knowledge(r, data["knowledge.toml"], departments, fallback)
    r.file = f"{src.name}/tickets.toml"
    t = data["tickets.toml"]
    r.table(t, "", ("calendar", "deadline", "warning", "repeat", "lifecycle", "attachments"))
    calendar = _calendar(r, r.table(t.get("calendar"), "calendar", _CALENDAR_KEYS))
    deadlines = _deadlines(r, t)
    rp = r.table(t.get("repeat"), "repeat", ("window_days", "threshold"))
    repeat = RepeatPolicy(
        window_days=r.number(rp, "repeat", "window_days", 30.0, 0.0, 3660.0),
        threshold=r.number(rp, "repeat", "threshold", 0.5, 0.0, 1.0),
        stop_words=knowledge.stop_words,
    )
    lc = r.table(t.get("lifecycle"), "lifecycle", ("reopen_on_unsatisfied",))
    lifecycle = LifecyclePolicy(
        reopen_on_unsatisfied=r.get(lc, "lifecycle", "reopen_on_unsatisfied", bool, False)
    )
    attachments = _attachments(
        r, r.table(t.get("attachments"), "attachments", ("max_bytes", "quota_bytes_per_user"))
    )
    if r.errors:
        raise ConfigErrors(r.errors)
    return TicketSettings(calendar, deadlines, repeat, lifecycle, knowledge, attachments)


def _attachments(r: _Reader, a: dict[str, Any]) -> AttachmentLimits:
    def positive(v: int) -> str | None:
        return None if v >= 1 else "must be at least 1 byte"

    limits = AttachmentLimits(
        max_bytes=r.get(
            a, "attachments", "max_bytes", int, AttachmentLimits.max_bytes, check=positive
        ),
        quota_bytes_per_user=r.get(
            a,
            "attachments",
            "quota_bytes_per_user",
            int,
            AttachmentLimits.quota_bytes_per_user,
            check=positive,
        ),
    )
    if limits.quota_bytes_per_user < limits.max_bytes:
        r.error("attachments.quota_bytes_per_user", "must be at least attachments.max_bytes")
    return limits


_CALENDAR_KEYS = (
    "timezone",
    "working_hours",
    "weekend",
    "official_days",
    "makeup_workdays",
    "holiday",
)


def _calendar(r: _Reader, c: dict[str, Any]) -> WorkingCalendar:
    zone_name = r.get(c, "calendar", "timezone", str, "Asia/Shanghai")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.error("calendar.timezone", f"unknown time zone {zone_name!r} (e.g. Asia/Shanghai)")
        zone = ZoneInfo("Asia/Shanghai")
    periods: list[tuple[time, time]] = []
    raw = r.get(c, "calendar", "working_hours", list, [["09:00", "12:00"], ["13:30", "17:30"]])
    for i, pair in enumerate(raw):
        key = f"calendar.working_hours[{i}]"
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(x, str) and HHMM.match(x) for x in pair)
        ):
            r.error(key, f'must be a pair of "HH:MM" times, got {pair!r}')
            continue
        start, end = (time.fromisoformat(x) for x in pair)
        if end <= start or (periods and start < periods[-1][1]):
            r.error(key, "periods must be in order, each ending after it starts, not overlapping")
            continue
        periods.append((start, end))
    if not periods:
        r.error("calendar.working_hours", "needs at least one working period")
        periods = [(time(9), time(17))]
    weekend = r.get(c, "calendar", "weekend", list, [6, 7])
    if not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in weekend):
        r.error("calendar.weekend", f"must be days of the week 1 (Monday) to 7, got {weekend!r}")
        weekend = [6, 7]
    makeup: set[date] = set()
    for i, d in enumerate(r.get(c, "calendar", "makeup_workdays", list, [])):
        if not isinstance(d, date) or isinstance(d, time):
            r.error(f"calendar.makeup_workdays[{i}]", f"must be a date (2026-01-04), got {d!r}")
        else:
            makeup.add(d)
    holidays: set[date] = set()
    festivals: dict[date, str] = {}
    for i, h in enumerate(r.tables(c.get("holiday"), "calendar.holiday")):
        key = f"calendar.holiday[{i}]"
        r.table(h, key, ("name", "from", "to"))
        name = r.get(h, key, "name", str, required=True)
        first = r.get(h, key, "from", date, required=True)
        last = r.get(h, key, "to", date, first)
        if first is None or last is None:
            continue
        if last < first:
            r.error(f"{key}.to", f"must not be before from ({first})")
            continue
        if (last - first).days > 31:
            r.error(f"{key}.to", "a holiday spans at most 31 days")
            continue
        span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        holidays.update(span)
        festivals.update((d, name) for d in span if name)
    for d in sorted(makeup & holidays):
        r.error("calendar.makeup_workdays", f"{d} is also listed as a holiday")
    # the published days (chinesecalendar) by default; the lists above add to and override them
    official = r.get(c, "calendar", "official_days", bool, True)
    base = official_china() if official else DayCalendar()
    days = base.overridden_by(frozenset(holidays), frozenset(makeup), festivals)
    return WorkingCalendar(
        zone=zone,
        periods=tuple(periods),
        days=days.with_weekend(frozenset(d - 1 for d in weekend)),
    )


def _deadlines(r: _Reader, t: dict[str, Any]) -> DeadlinePolicy:
    rules: dict[str, DeadlineRule] = {}
    items = r.tables(t.get("deadline"), "deadline")
    if "deadline" not in t:
        r.error("deadline", "is required: one [[deadline]] per request type")
    for i, d in enumerate(items):
        key = f"deadline[{i}]"
        r.table(d, key, ("type", "working_days", "working_hours", "urgent_hours"))
        kind = r.get(d, key, "type", str, required=True)
        days = r.get(d, key, "working_days", int)
        hours = r.get(d, key, "working_hours", float)
        urgent = r.get(d, key, "urgent_hours", float)
        if (days is None) == (hours is None):
            r.error(key, "needs exactly one of working_days or working_hours")
        for name, value in (("working_days", days), ("working_hours", hours)):
            if value is not None and value <= 0:
                r.error(f"{key}.{name}", "must be more than zero")
        if urgent is not None and urgent <= 0:
            r.error(f"{key}.urgent_hours", "must be more than zero")
        if kind is None:
            continue
        if kind in rules:
            r.error(f"{key}.type", f"duplicate request type {kind!r}")
        rules[kind] = DeadlineRule(kind, days, hours, urgent)
    missing = [k for k in REQUEST_TYPES if k not in rules]
    if items and missing:
        r.error("deadline", f"missing request types: {', '.join(missing)}")
    w = r.table(t.get("warning"), "warning", ("due_soon_share", "due_soon_hours"))
    return DeadlinePolicy(
        rules=rules,
        due_soon_share=r.number(w, "warning", "due_soon_share", 0.2, 0.0, 1.0),
        due_soon_hours=r.number(w, "warning", "due_soon_hours", 0.0, 0.0, 24.0 * 365),
    )


def _departments(r: _Reader, data: dict[str, Any]) -> tuple[dict[str, Department], str]:
    r.table(data, "", ("fallback", "department"))
    departments: dict[str, Department] = {}
    for i, d in enumerate(r.tables(data.get("department"), "department")):
        key = f"department[{i}]"
        r.table(d, key, ("id", "name", "skill"))
        did = r.get(d, key, "id", str, required=True)
        name = r.get(d, key, "name", str, required=True)
        if did is None:
            continue
        if not ID.match(did):
            r.error(f"{key}.id", f"must be lower-case letters, digits and _, got {did!r}")
        if did in departments:
            r.error(f"{key}.id", f"duplicate department {did!r}")
        departments[did] = Department(did, name or did, r.get(d, key, "skill", str, ""))
    if not departments and not r.errors:
        r.error("department", "at least one [[department]] is required")
    fallback = r.get(data, "", "fallback", str, required=True)
    if fallback is not None and departments and fallback not in departments:
        r.error("fallback", f"unknown department {fallback!r} (known: {', '.join(departments)})")
    return departments, fallback or ""


def _weighted(r: _Reader, table: Mapping[str, Any], key: str) -> dict[str, float]:
    terms = dict.fromkeys(r.words(table, key, "terms"), 1.0)
    weights = r.get(table, key, "weights", dict, {})
    for term, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            r.error(f"{key}.weights.{term}", f"must be a number more than zero, got {weight!r}")
            continue
        terms[term] = float(weight)
    if not terms:
        r.error(f"{key}.terms", "needs at least one term")
    return terms


def _knowledge(
    r: _Reader, data: dict[str, Any], departments: Mapping[str, Department], fallback: str
) -> KnowledgeBase:
    r.table(data, "", ("classifier", "text", "type", "topic"))
    c = r.table(data.get("classifier"), "classifier", ("default_type", "type_hint_weight"))
    default_type = r.get(c, "classifier", "default_type", str, "咨询")
    if default_type not in REQUEST_TYPES:
        r.error("classifier.default_type", f"must be one of {', '.join(REQUEST_TYPES)}")
    hint = r.number(c, "classifier", "type_hint_weight", 2.0, 0.0, 100.0)
    text = r.table(data.get("text"), "text", ("stop_words",))
    stop_words = frozenset(r.words(text, "text", "stop_words"))

    types: list[TypeCues] = []
    for i, t in enumerate(r.tables(data.get("type"), "type")):
        key = f"type[{i}]"
        r.table(t, key, ("name", "terms", "weights"))
        name = r.get(t, key, "name", str, required=True)
        if name is not None and name not in REQUEST_TYPES:
            r.error(f"{key}.name", f"must be one of {', '.join(REQUEST_TYPES)}, got {name!r}")
        elif name is not None and any(x.request_type == name for x in types):
            r.error(f"{key}.name", f"duplicate request type {name!r}")
        terms = _weighted(r, t, key)
        if name is not None:
            types.append(TypeCues(name, terms))

    topics: list[Topic] = []
    for i, t in enumerate(r.tables(data.get("topic"), "topic")):
        key = f"topic[{i}]"
        r.table(t, key, ("id", "name", "department", "type_hint", "terms", "weights"))
        tid = r.get(t, key, "id", str, required=True)
        name = r.get(t, key, "name", str, tid)
        dept = r.get(t, key, "department", str, required=True)
        type_hint = r.get(t, key, "type_hint", str, "")
        if dept is not None and departments and dept not in departments:
            r.error(f"{key}.department", f"unknown department {dept!r} (see departments.toml)")
        if type_hint and type_hint not in REQUEST_TYPES:
            r.error(f"{key}.type_hint", f"must be one of {', '.join(REQUEST_TYPES)}")
        if tid is not None and any(x.id == tid for x in topics):
            r.error(f"{key}.id", f"duplicate topic {tid!r}")
        terms = _weighted(r, t, key)
        if tid is not None and dept is not None:
            topics.append(Topic(tid, name or tid, dept, terms, type_hint))
    if not topics and "topic" not in data:
        r.error("topic", "at least one [[topic]] is required")
    return KnowledgeBase(
        topics=tuple(topics),
        types=tuple(types),
        departments=dict(departments),
        fallback_department=fallback,
        default_type=default_type,
        type_hint_weight=hint,
        stop_words=stop_words,
    )
