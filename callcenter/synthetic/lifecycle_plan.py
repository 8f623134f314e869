"""One ticket's history as the real lifecycle would record it: accept, dispatch, accept_handling,
returns and redispatches, reply (rejected now and then), approve, close, revisit, evaluate,
supervisions, a reopen after 不满意; cut off at the horizon so recent tickets stay open.

Fast on purpose (no TicketState objects): the statuses follow `callcenter.tickets.lifecycle.RULES`
and the unit tests replay samples through `lifecycle.apply`."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.synthetic import vocab
from callcenter.tickets.lifecycle import RULES
from callcenter.tickets.model import CallbackOutcome, Rating, Status

TARGET: dict[str, str | None] = {
    name: (rule.target.value if rule.target else None) for name, rule in RULES.items()
}
OPEN = frozenset(s.value for s in Status if s.is_open)
SURVEYOR = "survey"


@dataclass
class Act:
    action: str
    actor: str
    role: str
    at: float
    note: str = ""
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """The ticket after its acts: what the ticket row stores."""

    status: str
    department: str | None
    updated_at: float
    closed_at: float | None
    version: int
    state: dict[str, object]
    acts: list[Act]  # after accept (seq 1..)
    statuses: list[tuple[str, str]]  # (from, to) per act
    overdue: bool


@dataclass(frozen=True)
class PlanInput:
    created: float
    deadline: float
    request_type: str
    department: str
    alternates: tuple[str, ...]  # departments a returned ticket may go to
    agent: str
    force_complete: bool = False  # closed, revisited and rated (a defect needs it)


@dataclass(frozen=True)
class Staff:
    supervisors: tuple[str, ...]
    agents: tuple[str, ...]


def _dept_actor(rng: random.Random, department: str) -> str:
    return f"{department}-{rng.randint(1, 6):02d}"


def plan(
    rng: random.Random,
    p: PlanInput,
    staff: Staff,
    horizon: float,
    reopen_on_unsatisfied: bool,
) -> Outcome:
    acts: list[Act] = []
    u = rng.uniform
    t = p.created
    supervisor: Callable[[], str] = lambda: rng.choice(staff.supervisors)  # noqa: E731
    dept = p.department
    returned_by: list[str] = []
    night = ((t + 8 * 3600) % 86400) < 7 * 3600
    t += u(120, 3600) * (4 if night else 1)
    acts.append(Act("dispatch", p.agent, "agent", t, "", {"department": dept}))
    bounces = 0
    if not p.force_complete:
        r = rng.random()
        bounces = 0 if r < 0.9 else (1 if r < 0.98 else rng.randint(2, 3))
    for _ in range(bounces):
        actor = _dept_actor(rng, dept)
        if rng.random() < 0.5:
            t += u(600, 4 * 3600)
            acts.append(Act("accept_handling", actor, "department", t))
        t += u(3600, 24 * 3600)
        acts.append(Act("return", actor, "department", t, rng.choice(vocab.RETURN_REASONS),
                        {"department": dept}))  # fmt: skip
        returned_by.append(dept)
        dept = rng.choice([d for d in (*p.alternates, p.department) if d != dept])
        t += u(600, 4 * 3600)
        acts.append(Act("redispatch", supervisor(), "supervisor", t, "", {"department": dept}))
    handler = _dept_actor(rng, dept)
    t += u(600, 8 * 3600)
    acts.append(Act("accept_handling", handler, "department", t))
    span = max(p.deadline - p.created, 3600.0)
    roll = rng.random()
    late_share = 0.14 if p.request_type == "投诉" else 0.07
    if p.force_complete or roll >= late_share + 0.01:
        reply_at = max(t + u(600, 3600), p.created + span * u(0.15, 0.95))
    elif roll < late_share:
        reply_at = max(t + 600, p.deadline + u(3600, 7 * 86400))
    else:  # stuck for weeks
        reply_at = max(t + 600, p.deadline + u(20 * 86400, 60 * 86400))
    overdue = reply_at > p.deadline
    if rng.random() < (0.5 if overdue else 0.02):
        at = min(max(t + 60, p.deadline + u(0, 86400) if overdue else t + u(60, 86400)),
                 reply_at - 30)  # fmt: skip
        if at > t:
            acts.append(Act("supervise", supervisor(), "supervisor", at,
                            rng.choice(vocab.SUPERVISE_NOTES)))  # fmt: skip
    t = max(reply_at, t + 1)
    acts.append(Act("reply", handler, "department", t, rng.choice(vocab.REPLIES)))
    if rng.random() < 0.03 and not p.force_complete:
        t += u(3600, 86400)
        acts.append(Act("reject_reply", supervisor(), "supervisor", t,
                        rng.choice(vocab.REJECT_NOTES)))  # fmt: skip
        t += u(2 * 3600, 2 * 86400)
        acts.append(Act("reply", handler, "department", t, rng.choice(vocab.REPLIES)))
    for cycle in range(2):
        t += u(900, 6 * 3600)
        acts.append(Act("approve", supervisor(), "supervisor", t))
        t += u(300, 2 * 3600)
        acts.append(Act("close", p.agent if cycle == 0 else rng.choice(staff.agents), "agent", t))
        if not p.force_complete and rng.random() > 0.85:
            break
        t += u(4 * 3600, 3 * 86400)
        r = rng.random()
        outcome = (
            CallbackOutcome.REACHED
            if p.force_complete or r < 0.86
            else (CallbackOutcome.UNREACHABLE if r < 0.95 else CallbackOutcome.DECLINED)
        )
        acts.append(Act("revisit", SURVEYOR, "agent", t, outcome.label,
                        {"outcome": outcome.value}))  # fmt: skip
        if outcome is not CallbackOutcome.REACHED:
            break
        t += u(20, 300)
        r = rng.random()
        if cycle == 1 or p.force_complete:
            rating = Rating.SATISFIED if r < 0.75 else Rating.BASICALLY_SATISFIED
        else:
            rating = (
                Rating.SATISFIED
                if r < 0.72
                else (Rating.BASICALLY_SATISFIED if r < 0.92 else Rating.UNSATISFIED)
            )
        details = {"rating": rating.value}
        reopen = rating is Rating.UNSATISFIED and reopen_on_unsatisfied
        if reopen:
            details["reopened"] = "true"
        acts.append(Act("evaluate", SURVEYOR, "agent", t, "按键评价", details))
        if not reopen:
            break
        t += u(86400, 5 * 86400)
        acts.append(Act("reply", handler, "department", t, rng.choice(vocab.REPLIES)))
    acts = [a for a in acts if a.at <= horizon]
    return _outcome(p, acts, overdue)


def _outcome(p: PlanInput, acts: list[Act], overdue: bool) -> Outcome:
    status = Status.ACCEPTED.value
    dept: str | None = None
    returned_by: list[str] = []
    state: dict[str, object] = {
        "returns": 0, "returned_by": returned_by, "reply": None, "rejections": 0,
        "callback": None, "rating": None, "reopens": 0, "supervisions": [],
    }  # fmt: skip
    supervisions: list[dict[str, object]] = []
    closed_at: float | None = None
    statuses: list[tuple[str, str]] = []
    for a in acts:
        target = TARGET[a.action] or status
        name = a.action
        if name in ("dispatch", "redispatch"):
            dept = a.details["department"]
        elif name == "return":
            returned_by.append(dept or "")
            state["returns"] = len(returned_by)
            dept = None
        elif name == "reply":
            state["reply"] = a.note
        elif name == "reject_reply":
            state["rejections"] = int(str(state["rejections"])) + 1
        elif name == "close" and closed_at is None:
            closed_at = a.at
        elif name == "revisit":
            state["callback"] = a.details["outcome"]
        elif name == "evaluate":
            state["rating"] = a.details["rating"]
            if a.details.get("reopened") == "true":
                target = Status.HANDLING.value
                state["reopens"] = int(str(state["reopens"])) + 1
        elif name == "supervise":
            supervisions.append({"by": a.actor, "role": a.role, "at": a.at, "note": a.note})
        statuses.append((status, target))
        status = target
    state["supervisions"] = supervisions
    return Outcome(
        status=status,
        department=dept,
        updated_at=acts[-1].at if acts else p.created,
        closed_at=closed_at,
        version=len(acts),
        state=state,
        acts=acts,
        statuses=statuses,
        overdue=overdue,
    )


def state_json(state: dict[str, object]) -> str:
    return json.dumps(state, ensure_ascii=False)
