"""Validate an already-parsed IVR configuration (config/ivr.toml) into an `IvrConfig`.

`parse_menus(data, file, known_skills)` reads nothing from disk: the caller parses the TOML
and passes the file name used in messages. Every mistake is collected and reported at once,
as (file, key, message) with a dotted key such as `flow.main_menu.node.main.options[2].digits`:
unknown keys, wrong types, unknown node targets, unknown skills, unknown schedules, duplicate
digits (including an option on the flow's operator digit), digits outside 0-9 * #, prompts
referenced but not defined, cycles that need no caller input, a bad time zone.
Warnings (the load still succeeds): nodes no path from the flow's start reaches, prompts
defined but never played. They are in `IvrConfig.warnings`.
"""

from __future__ import annotations

import contextlib
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import date, tzinfo
from typing import Any

from ivr.announce import SYSTEM_PROMPTS
from ivr.model import (
    DEFAULT_ENTRY,
    DTMF_DIGITS,
    TERMINAL,
    WEEKDAYS,
    AnnounceNode,
    Flow,
    HangupNode,
    HoursNode,
    Issue,
    IvrConfig,
    MenuNode,
    MenuOption,
    Node,
    Prompt,
    RouteNode,
    Schedule,
    TimeRange,
    prompt_refs,
    targets,
)
from ivr.workdays import DayCalendar

NODE_TYPES = ("menu", "route", "hours", "announce", "hangup")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
MAX_DIGITS = 20
MAX_RETRIES = 9
MAX_TIMEOUT = 60.0


class IvrConfigError(Exception):
    """Every mistake of one load: `.errors` is a list of (file, key, message) tuples."""

    error_id = "config.invalid"

    def __init__(self, errors: list[Issue], warnings: list[Issue] | None = None) -> None:
        self.errors = errors
        self.warnings = warnings or []
        super().__init__("\n".join(str(e) for e in errors))


Check = Callable[[Any], str | None]


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []

    def error(self, key: str, message: str) -> None:
        self.errors.append(Issue(self.file, key, message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(Issue(self.file, key, message))

    def table(self, data: Any, key: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            self.error(key, f"must be a table, got {type(data).__name__}")
            return {}
        if allowed is not None:
            for name in data:
                if name not in allowed:
                    self.error(_join(key, name), f"unknown key (allowed: {', '.join(allowed)})")
        return dict(data)

    def get(
        self,
        table: Mapping[str, Any],
        prefix: str,
        name: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        required: bool = False,
        check: Check | None = None,
    ) -> Any:
        key = _join(prefix, name)
        if name not in table:
            if required:
                self.error(key, "is required")
            return default
        value = table[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            self.error(key, f"must be {_kind_names(kinds)}, got a boolean")
            return default
        if not isinstance(value, kinds):
            self.error(key, f"must be {_kind_names(kinds)}, got {type(value).__name__} {value!r}")
            return default
        if check is not None:
            problem = check(value)
            if problem:
                self.error(key, problem)
                return default
        return value

    def strings(self, table: Mapping[str, Any], prefix: str, name: str) -> tuple[str, ...]:
        """A string or an array of strings (prompt ids)."""
        value = table.get(name)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.error(_join(prefix, name), "must be a string or an array of strings")
        return ()


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "an array",
        dict: "a table",
        date: "a date (2026-01-01)",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _dtmf(value: str) -> str | None:
    if not value:
        return "must not be empty"
    bad = sorted({c for c in value if c not in DTMF_DIGITS})
    return f"digits must be 0-9, * or #, got {''.join(bad)!r} in {value!r}" if bad else None


def _range(lo: float, hi: float) -> Check:
    return lambda v: None if lo <= v <= hi else f"must be from {lo:g} to {hi:g}, got {v!r}"


# --- the whole file -------------------------------------------------------------------------


def parse_menus(data: Mapping[str, Any], file: str, known_skills: set[str]) -> IvrConfig:
    """Validate parsed ivr.toml data; raise `IvrConfigError` listing every mistake."""
    r = _Reader(file)
    top = r.table(data, "", ("ivr", "entries", "prompts", "schedule", "flow"))
    settings = r.table(top.get("ivr"), "ivr", ("timezone",))
    tz_name: str = r.get(settings, "ivr", "timezone", str, "Asia/Shanghai")
    tz = _zone(r, tz_name)

    prompts = _prompts(r, top.get("prompts"))
    schedules = _schedules(r, top.get("schedule"))

    flows: dict[str, Flow] = {}
    raw_flows = r.table(top.get("flow"), "flow", None)
    if not raw_flows:
        r.error("flow", "at least one flow is required ([flow.NAME])")
    for flow_id, raw in raw_flows.items():
        flow = _flow(r, flow_id, raw, tz, schedules, prompts, known_skills)
        if flow is not None:
            flows[flow_id] = flow

    entries: dict[str, str] = {}
    raw_entries = r.table(top.get("entries"), "entries", None)
    for did, flow_id in raw_entries.items():
        key = f"entries.{did}" if did.isalnum() else f'entries."{did}"'
        if did != DEFAULT_ENTRY and not did.isdigit():
            r.error(key, f'must be a DID (digits only) or "{DEFAULT_ENTRY}", got {did!r}')
        if not isinstance(flow_id, str):
            r.error(key, f"must be a flow name, got {type(flow_id).__name__}")
        elif flow_id not in raw_flows:
            r.error(key, f"unknown flow {flow_id!r} (flows: {', '.join(raw_flows) or 'none'})")
        else:
            entries[did] = flow_id
    if DEFAULT_ENTRY not in raw_entries:
        r.error(f"entries.{DEFAULT_ENTRY}", "is required: the flow of DIDs not listed")

    used = {p for f in flows.values() for n in f.nodes.values() for _, p in prompt_refs(n)}
    used.update(SYSTEM_PROMPTS)  # played by the engine: queue announcements, callback, survey
    for pid in prompts:
        if pid not in used:
            r.warn(f"prompts.{pid}", "defined but never played")

    if r.errors:
        raise IvrConfigError(r.errors, r.warnings)
    return IvrConfig(tz_name, prompts, schedules, flows, entries, tuple(r.warnings))


def _zone(r: _Reader, name: str) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.error("ivr.timezone", f"unknown time zone {name!r} (e.g. Asia/Shanghai)")
        return zoneinfo.ZoneInfo("UTC")


def _prompts(r: _Reader, data: Any) -> dict[str, Prompt]:
    out: dict[str, Prompt] = {}
    for pid, value in r.table(data, "prompts", None).items():
        key = f"prompts.{pid}"
        if not NAME.match(pid):
            r.error(key, "prompt ids are letters, digits, _ and -, starting with a letter")
        if isinstance(value, str):
            text, recorded = value, ""
        elif isinstance(value, Mapping):
            t = r.table(value, key, ("text", "file"))
            text = r.get(t, key, "text", str, "", required=True)
            recorded = r.get(t, key, "file", str, "")
        else:
            r.error(key, "must be the prompt's text, or a table { text = ..., file = ... }")
            continue
        if not text.strip():
            r.error(key, "the prompt text must not be empty")
        out[pid] = Prompt(pid, text, recorded)
    return out


# --- schedules -------------------------------------------------------------------------------


def _schedules(r: _Reader, data: Any) -> dict[str, Schedule]:
    out: dict[str, Schedule] = {}
    allowed = ("daily", *WEEKDAYS, "holidays", "holiday_hours", "makeup_days", "makeup_hours")
    for sid, raw in r.table(data, "schedule", None).items():
        key = f"schedule.{sid}"
        t = r.table(raw, key, allowed)
        daily = _ranges(r, t, key, "daily")
        week = tuple(_ranges(r, t, key, d) if d in t else daily for d in WEEKDAYS)
        makeup = _ranges(r, t, key, "makeup_hours") if "makeup_hours" in t else week[0]
        out[sid] = Schedule(
            sid,
            week,
            DayCalendar(_dates(r, t, key, "holidays"), _dates(r, t, key, "makeup_days")),
            _ranges(r, t, key, "holiday_hours"),
            makeup,
        )
    return out


def _ranges(r: _Reader, t: Mapping[str, Any], prefix: str, name: str) -> tuple[TimeRange, ...]:
    value = t.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    key = _join(prefix, name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        r.error(key, 'must be an array of "HH:MM-HH:MM" strings')
        return ()
    out: list[TimeRange] = []
    for i, text in enumerate(value):
        found = time_range(text)
        if isinstance(found, str):
            r.error(f"{key}[{i}]", found)
        else:
            out.append(found)
    return tuple(out)


def time_range(text: object) -> TimeRange | str:
    """ "HH:MM-HH:MM" within one day (end up to 24:00), or what is wrong with it."""
    m = RANGE.match(text) if isinstance(text, str) else None
    if m is None:
        return f'must be "HH:MM-HH:MM", got {text!r}'
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
        return f"not a range within one day (00:00-24:00): {text!r}"
    return TimeRange(start, end)


def _dates(r: _Reader, t: Mapping[str, Any], prefix: str, name: str) -> frozenset[date]:
    value = t.get(name)
    if value is None:
        return frozenset()
    key = _join(prefix, name)
    if not isinstance(value, list):
        r.error(key, "must be an array of dates (2026-02-16)")
        return frozenset()
    out: set[date] = set()
    for i, v in enumerate(value):
        if isinstance(v, str):
            with contextlib.suppress(ValueError):
                v = date.fromisoformat(v)
        if not isinstance(v, date) or hasattr(v, "hour"):
            r.error(f"{key}[{i}]", f"must be a date (2026-02-16), got {v!r}")
            continue
        out.add(v)
    return frozenset(out)


# --- flows -----------------------------------------------------------------------------------


def _flow(
    r: _Reader,
    flow_id: str,
    raw: Any,
    tz: tzinfo,
    schedules: Mapping[str, Schedule],
    prompts: Mapping[str, Prompt],
    skills: set[str],
) -> Flow | None:
    key = f"flow.{flow_id}"
    errors_before = len(r.errors)
    if not NAME.match(flow_id):
        r.error(key, "flow names are letters, digits, _ and -, starting with a letter")
    t = r.table(raw, key, ("label", "start", "operator", "operator_digit", "on_exhausted", "node"))
    label = r.get(t, key, "label", str, "")
    start = r.get(t, key, "start", str, "", required=True)
    operator = r.get(t, key, "operator", str, "")
    operator_digit = r.get(t, key, "operator_digit", str, "0", check=_dtmf)
    default_exhausted = r.get(t, key, "on_exhausted", str, "")

    nodes: dict[str, Node] = {}
    raw_nodes = r.table(t.get("node"), f"{key}.node", None)
    if not raw_nodes:
        r.error(f"{key}.node", f"a flow needs nodes ([{key}.node.NAME])")
    for node_id, raw_node in raw_nodes.items():
        node = _node(r, f"{key}.node.{node_id}", node_id, raw_node, default_exhausted, skills)
        if node is not None:
            nodes[node_id] = node

    def exists(field_key: str, target: str, kinds: tuple[type, ...] = ()) -> None:
        if target not in nodes:
            if target in raw_nodes:
                return  # the node itself is broken and already reported
            known = ", ".join(nodes) or "none"
            r.error(field_key, f"unknown node {target!r} (nodes of {flow_id}: {known})")
        elif kinds and not isinstance(nodes[target], kinds):
            r.error(field_key, f"must be a route or hangup node, {target!r} is not")

    if start:
        exists(f"{key}.start", start)
    if operator:
        exists(f"{key}.operator", operator, TERMINAL)
    for node_id, node in nodes.items():
        nkey = f"{key}.node.{node_id}"
        for field_name, target in targets(node):
            if field_name == "on_exhausted":
                if not target:
                    r.error(
                        f"{nkey}.on_exhausted",
                        f"is required (here or as {key}.on_exhausted): a route or hangup node",
                    )
                else:
                    exists(f"{nkey}.on_exhausted", target, TERMINAL)
            else:
                exists(f"{nkey}.{field_name}", target)
        for field_name, pid in prompt_refs(node):
            if pid not in prompts:
                r.error(f"{nkey}.{field_name}", f"prompt {pid!r} is not defined in [prompts]")
        if isinstance(node, HoursNode) and node.schedule not in schedules:
            known = ", ".join(schedules) or "none"
            r.error(f"{nkey}.schedule", f"unknown schedule {node.schedule!r} (known: {known})")
        if isinstance(node, MenuNode) and node.operator and operator:
            for i, o in enumerate(node.options):
                if o.digits == operator_digit:
                    r.error(
                        f"{nkey}.options[{i}].digits",
                        f"duplicate digit {o.digits!r}: it is the flow's operator digit "
                        f"({key}.operator_digit); set operator = false on this node to reuse it",
                    )

    if len(r.errors) > errors_before:
        return None
    flow = Flow(flow_id, start, nodes, tz, dict(schedules), operator, operator_digit, label)
    _check_graph(r, key, flow)
    return flow


def _check_graph(r: _Reader, key: str, flow: Flow) -> None:
    # Cycles without input: edges followed with no caller input (announce.next, hours.open,
    # hours.closed). Menu edges need a digit; on_exhausted and operator end at a route or
    # hangup, so they cannot close a loop.
    silent: dict[str, list[str]] = {}
    for node_id, node in flow.nodes.items():
        if isinstance(node, AnnounceNode | HoursNode):
            silent[node_id] = [t for _, t in targets(node)]
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset[str]] = set()

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        stack.append(n)
        for nxt in silent.get(n, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    loop = " -> ".join([*cycle, nxt])
                    r.error(f"{key}.node.{nxt}", f"loop without caller input: {loop}")
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[n] = 2

    for n in silent:
        if n not in state:
            visit(n, [])

    reachable: set[str] = set()
    todo = [flow.start]
    while todo:
        n = todo.pop()
        if n in reachable or n not in flow.nodes:
            continue
        reachable.add(n)
        todo.extend(t for _, t in targets(flow.nodes[n], flow))
    for node_id in flow.nodes:
        if node_id not in reachable:
            r.warn(f"{key}.node.{node_id}", f"unreachable from {key}.start ({flow.start!r})")


def _node(
    r: _Reader, key: str, node_id: str, raw: Any, default_exhausted: str, skills: set[str]
) -> Node | None:
    if not NAME.match(node_id):
        r.error(key, "node names are letters, digits, _ and -, starting with a letter")
    if not isinstance(raw, Mapping):
        r.error(key, f"must be a table, got {type(raw).__name__}")
        return None
    kind = r.get(raw, key, "type", str, None, required=True)
    if kind is None:
        return None
    if kind not in NODE_TYPES:
        r.error(f"{key}.type", f"must be one of {', '.join(NODE_TYPES)}, got {kind!r}")
        return None
    if kind == "menu":
        return _menu(r, key, node_id, raw, default_exhausted)
    if kind == "route":
        t = r.table(raw, key, ("type", "skill", "priority", "ivr_path", "prompts"))

        def known(v: str) -> str | None:
            listed = ", ".join(sorted(skills))
            return None if v in skills else f"unknown skill {v!r} (known: {listed})"

        return RouteNode(
            node_id,
            r.get(t, key, "skill", str, "", check=known),
            r.get(t, key, "priority", int, 0, check=_range(0, 100)),
            r.get(t, key, "ivr_path", str, node_id),
            r.strings(t, key, "prompts"),
        )
    if kind == "hours":
        t = r.table(raw, key, ("type", "schedule", "open", "closed"))
        return HoursNode(
            node_id,
            r.get(t, key, "schedule", str, "", required=True),
            r.get(t, key, "open", str, "", required=True),
            r.get(t, key, "closed", str, "", required=True),
        )
    if kind == "announce":
        t = r.table(raw, key, ("type", "prompts", "next"))
        prompts = r.strings(t, key, "prompts")
        if not prompts:
            r.error(f"{key}.prompts", "an announce node needs at least one prompt")
        return AnnounceNode(node_id, prompts, r.get(t, key, "next", str, "", required=True))
    t = r.table(raw, key, ("type", "prompts", "reason"))
    return HangupNode(
        node_id, r.strings(t, key, "prompts"), r.get(t, key, "reason", str, "ivr_hangup")
    )


def _menu(
    r: _Reader, key: str, node_id: str, raw: Mapping[str, Any], default_exhausted: str
) -> MenuNode:
    fields = (
        "type",
        "label",
        "prompts",
        "options",
        "allowed",
        "max_digits",
        "timeout",
        "retries",
        "invalid_prompts",
        "timeout_prompts",
        "on_exhausted",
        "operator",
    )
    t = r.table(raw, key, fields)
    max_digits = r.get(t, key, "max_digits", int, 1, check=_range(1, MAX_DIGITS))
    allowed = r.get(t, key, "allowed", str, "", check=_dtmf)
    prompts = r.strings(t, key, "prompts")
    if not prompts:
        r.error(f"{key}.prompts", "a menu needs at least one prompt")
    options: list[MenuOption] = []
    raw_options = t.get("options")
    if not isinstance(raw_options, list) or not all(isinstance(o, Mapping) for o in raw_options):
        r.error(f"{key}.options", 'must be an array of { digits = "1", target = "node" } tables')
        raw_options = []
    seen: dict[str, int] = {}
    for i, raw_option in enumerate(raw_options):
        okey = f"{key}.options[{i}]"
        o = r.table(raw_option, okey, ("digits", "target", "label"))
        digits = r.get(o, okey, "digits", str, "", required=True, check=_dtmf)
        target = r.get(o, okey, "target", str, "", required=True)
        if not digits:
            continue
        if digits in seen:
            r.error(f"{okey}.digits", f"duplicate digits {digits!r} (also options[{seen[digits]}])")
            continue
        seen[digits] = i
        if len(digits) > max_digits:
            r.error(f"{okey}.digits", f"{digits!r} is longer than max_digits ({max_digits})")
        if allowed and any(d not in allowed for d in digits):
            r.error(f"{okey}.digits", f"{digits!r} uses digits not in allowed ({allowed!r})")
        options.append(MenuOption(digits, target, r.get(o, okey, "label", str, "")))
    return MenuNode(
        node_id,
        prompts,
        tuple(options),
        r.get(t, key, "on_exhausted", str, default_exhausted),
        allowed,
        max_digits,
        r.get(t, key, "timeout", float, 5.0, check=_range(0.5, MAX_TIMEOUT)),
        r.get(t, key, "retries", int, 2, check=_range(0, MAX_RETRIES)),
        r.strings(t, key, "invalid_prompts"),
        r.strings(t, key, "timeout_prompts"),
        r.get(t, key, "operator", bool, True),
        r.get(t, key, "label", str, ""),
    )
