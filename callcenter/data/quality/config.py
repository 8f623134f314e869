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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from callcenter.tomlreader import ConfigErrors, TableReader

FILE = "quality.toml"
TABLE = "tickets"
SOURCES = ("tickets.request_types", "tickets.channels", "tickets.statuses", "tickets.ratings")
CHINA = timezone(timedelta(hours=8))
COLUMNS = frozenset(c.name for c in Ticket.__table__.columns)

_COMMON = ("id", "dimension", "kind", "field", "severity", "enabled", "description", "unless")
_PARAMS: dict[str, tuple[str, ...]] = {
    "phone": ("allow_empty",),
    "id_card": (),
    "uscc": (),
    "dictionary": ("values", "source", "allow_empty"),
    "required": ("fields", "statuses"),
    "reference": ("table", "column"),
    "order": ("not_before",),
    "duplicate": ("keys", "time", "window"),
    "lag": ("since", "max"),
    "json_requires": ("key", "requires"),
    "decryptable": (),
    "date": ("earliest", "not_after", "ahead"),
}


@dataclass(frozen=True)
class QualityConfig:
    rules: tuple[Rule, ...]
    schedule: Schedule = field(default_factory=Schedule)

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)


def load_quality(config_dir: str | Path) -> QualityConfig:
    src = Path(config_dir)
    r = TableReader()
    r.file = f"{src.name}/{FILE}"
    path = src / FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigErrors([_error(r, "", "required file is missing")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigErrors([_error(r, "", f"cannot be read: {exc}")]) from None
    config = parse_quality(data, r.file, lambda: request_types(src))
    return config


def _error(r: TableReader, key: str, message: str) -> Any:
    r.error(key, message)
    return r.errors[-1]


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
    r = TableReader()
    r.file = file
    r.table(data, "", ("schedule", "rule"))
    schedule = _schedule(r, data.get("schedule"))
    rules: list[Rule] = []
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for i, table in enumerate(r.tables(data.get("rule"), "rule")):
        rule = _rule(r, table, f"rule[{i}]", request_types)
        if rule is None:
            continue
        ident = (rule.id, rule.checked_fields)
        if ident in seen:
            r.error(f"rule[{i}].id", f"{rule.id!r} on the same field(s) as {seen[ident]}")
        seen[ident] = f"rule[{i}]"
        rules.append(rule)
    ids = {rule.id for rule in rules}
    declared = data.get("rule")
    for i, table in enumerate(declared if isinstance(declared, list) else []):
        unless = table.get("unless", []) if isinstance(table, dict) else []
        for j, name in enumerate(unless if isinstance(unless, list) else []):
            if name not in ids:
                r.error(f"rule[{i}].unless[{j}]", f"no rule with id {name!r} in this file")
    if "rule" not in data:
        r.error("rule", "is required: at least one [[rule]]")
    if r.errors:
        raise ConfigErrors(r.errors)
    return QualityConfig(tuple(rules), schedule)


def _schedule(r: TableReader, data: Any) -> Schedule:
    t = r.table(data, "schedule", ("enabled", "incremental_every", "full_at", "timezone"))
    enabled = r.get(t, "schedule", "enabled", bool, True)
    every = r.get(t, "schedule", "incremental_every", str, "15m", check=_duration)
    at = r.get(t, "schedule", "full_at", str, "02:30", check=_hhmm)
    zone_name = r.get(t, "schedule", "timezone", str, "Asia/Shanghai")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.error("schedule.timezone", f"unknown time zone {zone_name!r}")
        zone = ZoneInfo("Asia/Shanghai")
    return Schedule(
        parse_duration(every) or 900.0,
        parse_hhmm(at) or Schedule().full_at,
        zone,
        enabled is not False,
    )


def _duration(value: Any) -> str | None:
    return None if parse_duration(value) else "must be a duration like 30s, 15m, 2h or 1d"


def _hhmm(value: Any) -> str | None:
    return None if parse_hhmm(value) else "must be a local time HH:MM, e.g. 02:30"


def _one_of(allowed: tuple[str, ...] | frozenset[str]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value in allowed:
            return None
        return f"unknown {value!r} (allowed: {', '.join(sorted(allowed))})"

    return check


def _column(value: Any) -> str | None:
    return None if value in COLUMNS else f"no column {value!r} in table {TABLE}"


def _time(value: Any) -> str | None:
    """A column, or a time the runner derives per ticket."""
    if value in COLUMNS or value in DERIVED:
        return None
    derived = ", ".join(sorted(DERIVED))
    return f"no column {value!r} in table {TABLE} (nor a derived time: {derived})"


def _field(value: Any) -> str | None:
    """A column, a derived time, or a key of a JSON column ("state.rating")."""
    column, dot, key = str(value).partition(".")
    if dot:
        if column in JSON_COLUMNS and key:
            return None
        return f"only a JSON column ({', '.join(sorted(JSON_COLUMNS))}) takes a .key"
    return _time(value)


def _column_or_now(value: Any) -> str | None:
    return None if value == NOW else _column(value)


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be more than zero"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be zero or more"


def _iso_date(value: Any) -> str | None:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return "must be a date YYYY-MM-DD"
    return None


def _epoch(value: str) -> float:
    """Local midnight (UTC+8, the hotline's zone) of an ISO date, as epoch seconds."""
    return datetime.combine(date.fromisoformat(value), time(), CHINA).timestamp()


def _strings(r: TableReader, t: Mapping[str, Any], key: str, name: str) -> list[str]:
    value = r.get(t, key, name, list, [])
    if not all(isinstance(v, str) and v for v in value):
        r.error(f"{key}.{name}", "must be an array of non-empty strings")
        return []
    return list(value)


def _rule(
    r: TableReader, t: dict[str, Any], key: str, request_types: Callable[[], frozenset[str]]
) -> Rule | None:
    kind = r.get(t, key, "kind", str, required=True, check=_one_of(KINDS))
    every_param = tuple(p for v in _PARAMS.values() for p in v)
    r.table(t, key, _COMMON + (_PARAMS[kind] if kind else every_param))
    ident = r.get(t, key, "id", str, required=True, check=lambda v: None if v else "is empty")
    dimension = r.get(t, key, "dimension", str, required=True, check=_one_of(DIMENSIONS))
    check = {"order": _time, "dictionary": _field}.get(kind or "", _column)
    column = r.get(t, key, "field", str, required=kind != "required", check=check)
    severity = r.get(t, key, "severity", str, "error", check=_one_of(SEVERITIES))
    enabled = r.get(t, key, "enabled", bool, True)
    description = r.get(t, key, "description", str, "")
    unless = _strings(r, t, key, "unless")
    if kind is None or ident is None or dimension is None:
        return None
    rule = Rule(ident, dimension, kind, column or "", severity, enabled, description)
    rule = replace(rule, unless=frozenset(unless))
    params: dict[str, Any] = {}
    if kind in ("phone", "dictionary"):
        params["allow_empty"] = r.get(t, key, "allow_empty", bool, False)
    if kind == "dictionary":
        values = _strings(r, t, key, "values")
        source = r.get(t, key, "source", str, "", check=_one_of(SOURCES))
        if bool(values) == bool(source):
            r.error(key, "a dictionary rule needs exactly one of values or source")
        elif source == "tickets.channels":
            values = list(CHANNELS)
        elif source == "tickets.statuses":
            values = [status.value for status in Status]
        elif source == "tickets.ratings":
            values = [rating.value for rating in Rating]
        elif source:
            try:
                values = sorted(request_types())
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                r.error(f"{key}.source", f"cannot read the request types: {exc}")
            if not values:
                r.error(f"{key}.source", "the source has no codes")
        params["values"] = frozenset(values)
    elif kind == "required":
        fields = _strings(r, t, key, "fields") or ([column] if column else [])
        for j, name in enumerate(fields):
            column_name, dot, json_key = name.partition(".")
            if column_name not in COLUMNS:
                r.error(f"{key}.fields[{j}]", f"no column {column_name!r} in table {TABLE}")
            elif dot and (column_name not in JSON_COLUMNS or not json_key):
                json_columns = ", ".join(sorted(JSON_COLUMNS))
                r.error(f"{key}.fields[{j}]", f"only a JSON column ({json_columns}) takes a .key")
        if not fields:
            r.error(f"{key}.fields", "is required: the fields that must be filled")
        statuses = _strings(r, t, key, "statuses")
        known = {s.value for s in Status}
        for j, status in enumerate(statuses):
            if status not in known:
                r.error(f"{key}.statuses[{j}]", f"unknown status {status!r}")
        params["fields"] = tuple(fields)
        params["statuses"] = frozenset(statuses)
        rule = replace(rule, field=fields[0] if fields else "")
    elif kind == "reference":
        table = r.get(t, key, "table", str, required=True)
        ref_column = r.get(t, key, "column", str, "code")
        found = Base.metadata.tables.get(table) if table else None
        if table and found is None:
            r.error(f"{key}.table", f"no table {table!r} in the schema")
        elif found is not None and ref_column not in found.columns:
            r.error(f"{key}.column", f"no column {ref_column!r} in table {table}")
        params["table"], params["column"] = table or "", ref_column
    elif kind in ("order", "lag", "duplicate"):
        name = {"order": "not_before", "lag": "since", "duplicate": "time"}[kind]
        default = "created_at" if kind == "duplicate" else None
        check = _time if kind == "order" else _column
        other = r.get(t, key, name, str, default, required=kind != "duplicate", check=check)
        params["other"] = other or ""
        if kind == "lag":
            params["seconds"] = r.get(t, key, "max", float, 0.0, required=True, check=_positive)
        if kind == "duplicate":
            keys = _strings(r, t, key, "keys")
            for j, name in enumerate(keys):
                if name not in COLUMNS:
                    r.error(f"{key}.keys[{j}]", f"no column {name!r} in table {TABLE}")
            if not keys:
                r.error(f"{key}.keys", "is required: the fields that identify the same party")
            params["keys"] = tuple(keys)
            params["seconds"] = r.get(t, key, "window", float, 0.0, required=True, check=_positive)
    elif kind == "date":
        earliest = r.get(t, key, "earliest", str, "2000-01-01", check=_iso_date)
        params["earliest"] = _epoch(earliest) if earliest and not _iso_date(earliest) else 0.0
        not_after = r.get(t, key, "not_after", str, "", check=_column_or_now)
        params["other"] = not_after or ""
        params["seconds"] = r.get(t, key, "ahead", float, 0.0, check=_not_negative)
    elif kind == "json_requires":
        params["key"] = r.get(t, key, "key", str, "", required=True)
        params["requires"] = r.get(t, key, "requires", str, "", required=True)
    return replace(rule, **params)
