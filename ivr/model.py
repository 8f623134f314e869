"""IVR menu data: flows of nodes, business-hours schedules and prompts (all frozen).

A `Flow` is what one entry (a DID, or "default") runs. Its nodes are:
- `MenuNode`: play prompts, collect DTMF, go to the option's target; retries on invalid input
  or no input, then `on_exhausted` (a route or a hangup node);
- `RouteNode`: into the unified queue with a skill, a priority boost and an `ivr_path` label;
- `HoursNode`: open -> node, closed -> node, by a `Schedule` (weekday hours, holidays,
  make-up working days) in the flow's time zone;
- `AnnounceNode`: play prompts (not interruptible), then go on;
- `HangupNode`: play prompts (e.g. goodbye), then hang up with a reason.
Prompts are ids; `IvrConfig.prompts` maps each to its Mandarin text (synthesized by a build
step) and optionally a recorded file that replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import NamedTuple

from ivr.workdays import HOLIDAY, MAKEUP, DayCalendar

DEFAULT_ENTRY = "default"
DTMF_DIGITS = "0123456789*#"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class Issue(NamedTuple):
    """One problem of a configuration: the file, the dotted key and what is wrong."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.key}: {self.message}"
            if self.key
            else f"{self.file}: {self.message}"
        )


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    file: str = ""  # a recorded file that replaces the synthesized text ("" = synthesize)


@dataclass(frozen=True)
class TimeRange:
    """Minutes of the local day, start included, end excluded (end may be 24:00 = 1440)."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


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


@dataclass(frozen=True)
class Schedule:
    """Business hours: ranges per weekday (Monday first), dates closed or with their own hours
    (`holiday_hours`, empty = closed all day), and make-up working days (调休上班) that use
    `makeup_hours` even on a weekend."""

    id: str
    week: tuple[tuple[TimeRange, ...], ...]  # 7 entries, Monday = 0
    days: DayCalendar = DayCalendar()  # the schedule's holidays and make-up working days
    holiday_hours: tuple[TimeRange, ...] = ()
    makeup_hours: tuple[TimeRange, ...] = ()

    def hours_on(self, day: date) -> tuple[TimeRange, ...]:
        kind = self.days.kind(day)
        if kind == HOLIDAY:
            return self.holiday_hours
        if kind == MAKEUP:
            return self.makeup_hours
        return self.week[day.weekday()]

    def is_open(self, local: datetime) -> bool:
        """Whether `local` (a wall-clock time in the schedule's zone) is within the hours."""
        minute = local.hour * 60 + local.minute
        return any(r.contains(minute) for r in self.hours_on(local.date()))


@dataclass(frozen=True)
class MenuOption:
    digits: str
    target: str
    label: str = ""  # e.g. 投诉举报, for listings and `callcenter ivr test`


@dataclass(frozen=True)
class MenuNode:
    id: str
    prompts: tuple[str, ...]
    options: tuple[MenuOption, ...]
    on_exhausted: str
    allowed: str = ""  # digits the collect accepts; others are invalid at once
    max_digits: int = 1
    timeout: float = 5.0
    retries: int = 2  # re-prompts after the first attempt
    invalid_prompts: tuple[str, ...] = ()
    timeout_prompts: tuple[str, ...] = ()
    operator: bool = True  # the flow's operator digit (0 人工) works here
    label: str = ""

    def option(self, digits: str) -> MenuOption | None:
        for o in self.options:
            if o.digits == digits:
                return o
        return None


@dataclass(frozen=True)
class RouteNode:
    id: str
    skill: str  # "" = the DID's own skill (numbers.toml), given to the session
    priority: int = 0  # added to the caller's priority (the number's own and list boosts)
    ivr_path: str = ""  # label stored with the call, e.g. "complaint/report"
    prompts: tuple[str, ...] = ()  # played before joining the queue


@dataclass(frozen=True)
class HoursNode:
    id: str
    schedule: str
    open: str
    closed: str


@dataclass(frozen=True)
class AnnounceNode:
    id: str
    prompts: tuple[str, ...]
    next: str


@dataclass(frozen=True)
class HangupNode:
    id: str
    prompts: tuple[str, ...] = ()
    reason: str = "ivr_hangup"


Node = MenuNode | RouteNode | HoursNode | AnnounceNode | HangupNode
TERMINAL = (RouteNode, HangupNode)


def targets(node: Node, flow: Flow | None = None) -> list[tuple[str, str]]:
    """(field, node id) pairs a node can go to; with `flow`, a menu's operator target too."""
    if isinstance(node, MenuNode):
        out = [(f"options[{i}].target", o.target) for i, o in enumerate(node.options)]
        out.append(("on_exhausted", node.on_exhausted))
        if flow is not None and node.operator and flow.operator:
            out.append(("operator", flow.operator))
        return out
    if isinstance(node, HoursNode):
        return [("open", node.open), ("closed", node.closed)]
    if isinstance(node, AnnounceNode):
        return [("next", node.next)]
    return []


def prompt_refs(node: Node) -> list[tuple[str, str]]:
    """(field, prompt id) pairs a node plays."""
    out: list[tuple[str, str]] = []
    fields: list[tuple[str, tuple[str, ...]]] = []
    if isinstance(node, MenuNode):
        fields = [
            ("prompts", node.prompts),
            ("invalid_prompts", node.invalid_prompts),
            ("timeout_prompts", node.timeout_prompts),
        ]
    elif isinstance(node, (RouteNode, AnnounceNode, HangupNode)):
        fields = [("prompts", node.prompts)]
    for name, ids in fields:
        out.extend((f"{name}[{i}]", p) for i, p in enumerate(ids))
    return out


@dataclass(frozen=True)
class Flow:
    """What one entry runs. `operator` is the node (a route) that `operator_digit` reaches from
    every menu whose `operator` is true; "" = no operator digit in this flow."""

    id: str
    start: str
    nodes: Mapping[str, Node]
    tz: tzinfo
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    operator: str = ""
    operator_digit: str = "0"
    label: str = ""

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def local(self, now: datetime) -> datetime:
        if now.tzinfo is None or now.tzinfo.utcoffset(now) is None:
            raise ValueError(f"IVR time must be timezone-aware, got {now!r}")
        return now.astimezone(self.tz)


@dataclass(frozen=True)
class IvrConfig:
    timezone: str
    prompts: Mapping[str, Prompt]
    schedules: Mapping[str, Schedule]
    flows: Mapping[str, Flow]
    entries: Mapping[str, str]  # DID or "default" -> flow id
    warnings: tuple[Issue, ...] = ()

    def entry_for(self, did: str) -> tuple[str, Flow]:
        """The entry key that applies to `did` (the DID itself, or "default") and its flow."""
        key = did if did in self.entries else DEFAULT_ENTRY
        return key, self.flows[self.entries[key]]

    def flow_for(self, did: str) -> Flow:
        return self.entry_for(did)[1]

    def prompt_text(self, prompt_id: str) -> str:
        return self.prompts[prompt_id].text
