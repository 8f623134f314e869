"""The IVR state machine: `IvrSession.start(now)` and `handle(event, now)` -> actions.

Pure: no I/O and no clock; `now` is an aware datetime given by the caller (the runtime, or
`ivr.walk`). The runtime performs the actions in order and reports what happened:
- `Play(prompts, interruptible)`: an interruptible play belongs to a menu (DTMF stops it and
  counts as input); after a non-interruptible play the session waits for `PromptDone`, except
  when a `RouteToQueue` or `Hangup` follows in the same list (play it, then do that);
- `Collect(max_digits, timeout)`: read up to `max_digits` DTMF digits; report `Digits` with what
  was read (one entry) or `Timeout` when nothing came;
- `RouteToQueue` / `Hangup`: the session is over.
Events that do not fit the current state (digits during an announcement, a stray PromptDone)
are ignored and produce no actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from ivr.model import (
    DTMF_DIGITS,
    AnnounceNode,
    Flow,
    HangupNode,
    HoursNode,
    MenuNode,
    RouteNode,
)

# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    """One entry of DTMF digits (one or more) read by a `Collect`."""

    digits: str


@dataclass(frozen=True)
class Timeout:
    """No input before the `Collect` timed out."""


@dataclass(frozen=True)
class PromptDone:
    """A non-interruptible `Play` finished."""


IvrEvent = Digits | Timeout | PromptDone

# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    prompt_ids: tuple[str, ...]
    interruptible: bool


@dataclass(frozen=True)
class Collect:
    max_digits: int
    timeout: float
    allowed: str = DTMF_DIGITS  # digits that end the collect as input (others are invalid)


@dataclass(frozen=True)
class RouteToQueue:
    """Join the unified queue. `priority` is the route's boost (the runtime adds the number's own
    priority and list boosts); `path` is the route's `ivr_path` label; `trail` the whole path.
    `skill` is "" only when the route names none and the session was given no number skill."""

    skill: str
    priority: int
    path: str
    trail: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hangup:
    reason: str
    trail: tuple[str, ...] = ()


IvrAction = Play | Collect | RouteToQueue | Hangup
Outcome = RouteToQueue | Hangup

# --- session ---------------------------------------------------------------------------------


class Waiting(Enum):
    NOT_STARTED = "not_started"
    PROMPT = "prompt"  # for PromptDone
    INPUT = "input"  # for Digits or Timeout
    DONE = "done"


@dataclass(frozen=True)
class Choice:
    """One decision of the session. `outcome`: option, operator, invalid, timeout (menus);
    open, closed (hours)."""

    node: str
    outcome: str
    digits: str = ""
    target: str = ""


LOOP_REASON = "ivr_loop"


class IvrSession:
    """One caller in one flow. `path` is the menus visited and the digits accepted, e.g.
    ["main", "2", "complaint", "0"]; `choices` every decision including failed attempts."""

    def __init__(self, flow: Flow, started_at: datetime, number_skill: str = "") -> None:
        flow.local(started_at)  # refuses a naive datetime
        self.flow = flow
        self.number_skill = number_skill  # for routes without a skill: the DID's own skill
        self.started_at = started_at
        self.waiting = Waiting.NOT_STARTED
        self.current = ""
        self.failures = 0
        self.outcome: Outcome | None = None
        self.collect: Collect | None = None
        self._path: list[str] = []
        self._visited: list[str] = []
        self._choices: list[Choice] = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self._path)

    @property
    def visited(self) -> tuple[str, ...]:
        """Every node entered, in order."""
        return tuple(self._visited)

    @property
    def choices(self) -> tuple[Choice, ...]:
        return tuple(self._choices)

    @property
    def done(self) -> bool:
        return self.waiting is Waiting.DONE

    def start(self, now: datetime) -> list[IvrAction]:
        if self.waiting is not Waiting.NOT_STARTED:
            raise RuntimeError("IVR session already started")
        out: list[IvrAction] = []
        self._enter(self.flow.start, now, out)
        return out

    def handle(self, event: IvrEvent, now: datetime) -> list[IvrAction]:
        out: list[IvrAction] = []
        if self.waiting is Waiting.PROMPT and isinstance(event, PromptDone):
            node = self.flow.node(self.current)
            assert isinstance(node, AnnounceNode)
            self._enter(node.next, now, out)
        elif self.waiting is Waiting.INPUT and isinstance(event, Digits | Timeout):
            menu = self.flow.node(self.current)
            assert isinstance(menu, MenuNode)
            if isinstance(event, Timeout) or not event.digits:
                self._fail(menu, "timeout", "", now, out)
            else:
                self._input(menu, event.digits, now, out)
        return out

    # --- internals -------------------------------------------------------------------------

    def _input(self, menu: MenuNode, digits: str, now: datetime, out: list[IvrAction]) -> None:
        flow = self.flow
        if menu.operator and flow.operator and digits == flow.operator_digit:
            self._choices.append(Choice(menu.id, "operator", digits, flow.operator))
            self._path.append(digits)
            self._enter(flow.operator, now, out)
            return
        option = menu.option(digits)
        allowed = menu.allowed or DTMF_DIGITS
        if option is None or any(d not in allowed for d in digits):
            self._fail(menu, "invalid", digits, now, out)
            return
        self._choices.append(Choice(menu.id, "option", digits, option.target))
        self._path.append(digits)
        self._enter(option.target, now, out)

    def _fail(
        self, menu: MenuNode, kind: str, digits: str, now: datetime, out: list[IvrAction]
    ) -> None:
        self.failures += 1
        if self.failures > menu.retries:
            self._choices.append(Choice(menu.id, kind, digits, menu.on_exhausted))
            self._enter(menu.on_exhausted, now, out)
            return
        self._choices.append(Choice(menu.id, kind, digits, menu.id))
        notice = menu.invalid_prompts if kind == "invalid" else menu.timeout_prompts
        if notice:
            out.append(Play(notice, interruptible=True))
        self._prompt_menu(menu, out)

    def _prompt_menu(self, menu: MenuNode, out: list[IvrAction]) -> None:
        if menu.prompts:
            out.append(Play(menu.prompts, interruptible=True))
        self.collect = Collect(menu.max_digits, menu.timeout, self._accepted(menu))
        out.append(self.collect)
        self.waiting = Waiting.INPUT

    def _accepted(self, menu: MenuNode) -> str:
        if menu.allowed:
            digits = menu.allowed
            if menu.operator and self.flow.operator and self.flow.operator_digit not in digits:
                digits += self.flow.operator_digit
            return digits
        return DTMF_DIGITS

    def _enter(self, node_id: str, now: datetime, out: list[IvrAction]) -> None:
        """Follow nodes that need no input until one waits (menu, announcement) or ends."""
        self.collect = None
        for _ in range(len(self.flow.nodes) + 1):
            node = self.flow.node(node_id)
            self.current = node_id
            self._visited.append(node_id)
            if isinstance(node, HoursNode):
                schedule = self.flow.schedules[node.schedule]
                is_open = schedule.is_open(self.flow.local(now))
                node_id = node.open if is_open else node.closed
                self._choices.append(Choice(node.id, "open" if is_open else "closed", "", node_id))
                continue
            if isinstance(node, AnnounceNode):
                if not node.prompts:
                    node_id = node.next
                    continue
                out.append(Play(node.prompts, interruptible=False))
                self.waiting = Waiting.PROMPT
                return
            if isinstance(node, MenuNode):
                self.failures = 0
                self._path.append(node.id)
                self._prompt_menu(node, out)
                return
            if node.prompts:
                out.append(Play(node.prompts, interruptible=False))
            if isinstance(node, RouteNode):
                skill = node.skill or self.number_skill
                self._finish(RouteToQueue(skill, node.priority, node.ivr_path or node.id), out)
            else:
                assert isinstance(node, HangupNode)
                self._finish(Hangup(node.reason), out)
            return
        self._finish(Hangup(LOOP_REASON), out)

    def _finish(self, outcome: Outcome, out: list[IvrAction]) -> None:
        if isinstance(outcome, RouteToQueue):
            outcome = RouteToQueue(outcome.skill, outcome.priority, outcome.path, self.path)
        else:
            outcome = Hangup(outcome.reason, self.path)
        self.outcome = outcome
        self.waiting = Waiting.DONE
        out.append(outcome)
