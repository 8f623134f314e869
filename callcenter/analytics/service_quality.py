"""Service quality (GB/T 44192 7.1.1): how long each stage of the lifecycle takes and where it
stalls, overdue tickets, tickets bounced between departments (推诿), departments and topics
with low satisfaction, and each agent's handling.

Stages, from a ticket's history (times of the first or last action of a kind):
  受理→派单  accept → first dispatch
  派单→签收  last dispatch or redispatch → last accept_handling (the department that kept it)
  签收→答复  that accept_handling → first reply
  答复→办结  first reply → first close
  办结→回访  first close → first revisit
A stage counts for a ticket only when both ends exist in that order. Percentiles are
nearest-rank (the value at rank ceil(n * p / 100))."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, literal, or_, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Subquery

from callcenter.analytics.sql import (
    Period,
    flag,
    history_department,
    in_period,
    percentile_query,
    state_text,
)
from callcenter.storage.schema import CallRecord, Ticket, TicketHistory
from callcenter.tickets.model import OPEN_STATUSES, Rating

# code, label, start mark, end mark
STAGES: tuple[tuple[str, str, str, str], ...] = (
    ("dispatch", "受理→派单", "accepted", "dispatched"),
    ("sign", "派单→签收", "last_dispatch", "signed"),
    ("handle", "签收→答复", "signed", "replied"),
    ("close", "答复→办结", "replied", "closed"),
    ("revisit", "办结→回访", "closed", "revisited"),
)
MARK_ACTIONS = (
    "accept", "dispatch", "redispatch", "accept_handling", "reply", "close", "revisit",
)  # fmt: skip
STAGE_LABELS = {code: label for code, label, _, _ in STAGES}
DIMENSIONS = ("department", "topic")
FLOW_ACTIONS = ("dispatch", "redispatch", "return")
FLOW_LABELS = {"dispatch": "派单", "redispatch": "改派", "return": "退单"}
OPEN = [s.value for s in OPEN_STATUSES]


def _dimension(name: str | None) -> ColumnElement[str]:
    if name is None:
        return literal("")
    if name not in DIMENSIONS:
        raise ValueError(f"unknown dimension {name!r} (one of {', '.join(DIMENSIONS)})")
    column: ColumnElement[str] = func.coalesce(getattr(Ticket, name), "")
    return column


def marks(period: Period, dimension: str | None = None) -> Subquery:
    """One row per ticket received in the period: the time of each stage's mark."""
    h = TicketHistory

    def first(*actions: str) -> ColumnElement[Any]:
        return func.min(case((h.action.in_(actions), h.at)))

    def last(*actions: str) -> ColumnElement[Any]:
        return func.max(case((h.action.in_(actions), h.at)))

    key = _dimension(dimension)
    return (
        select(
            h.ticket_id.label("ticket_id"),
            key.label("key"),
            first("accept").label("accepted"),
            first("dispatch").label("dispatched"),
            last("dispatch", "redispatch").label("last_dispatch"),
            last("accept_handling").label("signed"),
            first("reply").label("replied"),
            first("close").label("closed"),
            first("revisit").label("revisited"),
        )
        .join(Ticket, Ticket.id == h.ticket_id)
        .where(in_period(Ticket.created_at, period), h.action.in_(MARK_ACTIONS))
        .group_by(h.ticket_id, key)
        .subquery("marks")
    )


@dataclass(frozen=True)
class StageStats:
    stage: str
    key: str  # the department or topic ('' for all tickets)
    tickets: int
    mean: float
    p50: float
    p90: float


def stage_durations(
    conn: Connection, period: Period, dimension: str | None = None
) -> list[StageStats]:
    """Per stage (and department or topic): tickets, mean, p50, p90 of the stage's seconds."""
    m = marks(period, dimension)
    parts = [
        select(
            literal(code).label("stage"),
            m.c.key.label("key"),
            (m.c[end] - m.c[start]).label("secs"),
        ).where(m.c[start].is_not(None), m.c[end].is_not(None), m.c[end] >= m.c[start])
        for code, _, start, end in STAGES
    ]
    rows = union_all(*parts).subquery("stages")
    query = percentile_query(rows, ("stage", "key"), "secs")
    order = {code: i for i, (code, _, _, _) in enumerate(STAGES)}
    found = [
        StageStats(str(r.stage), str(r.key), int(r.n), float(r.mean), float(r.p50), float(r.p90))
        for r in conn.execute(query)
    ]
    return sorted(found, key=lambda s: (s.key, order[s.stage]))


def bottlenecks(stats: list[StageStats]) -> dict[str, str]:
    """Per key, the stage with the longest median (ties: the later stage in the lifecycle
    order is not preferred; the first listed wins)."""
    best: dict[str, StageStats] = {}
    for s in stats:
        if s.key not in best or s.p50 > best[s.key].p50:
            best[s.key] = s
    return {key: s.stage for key, s in best.items()}


def stage_report(conn: Connection, period: Period, dimension: str | None) -> list[dict[str, Any]]:
    """Stage statistics grouped by key, with the bottleneck of each key."""
    stats = stage_durations(conn, period, dimension)
    worst = bottlenecks(stats)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for s in stats:
        grouped.setdefault(s.key, []).append(
            {
                "stage": s.stage,
                "label": STAGE_LABELS[s.stage],
                "tickets": s.tickets,
                "mean": round(s.mean, 1),
                "p50": s.p50,
                "p90": s.p90,
            }
        )
    return [
        {
            "key": key,
            "bottleneck": worst[key],
            "bottleneck_label": STAGE_LABELS[worst[key]],
            "stages": stages,
        }  # fmt: skip
        for key, stages in grouped.items()
    ]


def overdue(conn: Connection, period: Period, now: float, limit: int = 50) -> dict[str, Any]:
    """Open tickets past their deadline at `now` and tickets closed late, per department,
    and the open ones longest overdue."""
    open_late = Ticket.status.in_(OPEN) & (Ticket.deadline < now)
    closed_late = Ticket.closed_at.is_not(None) & (Ticket.closed_at > Ticket.deadline)
    dept = func.coalesce(Ticket.department, "")
    query = (
        select(dept, func.count(), func.sum(flag(open_late)), func.sum(flag(closed_late)))
        .where(in_period(Ticket.created_at, period))
        .group_by(dept)
    )
    per: list[dict[str, Any]] = [
        {
            "department": str(d),
            "tickets": int(n),
            "open_overdue": int(o or 0),
            "closed_late": int(c or 0),
        }  # fmt: skip
        for d, n, o, c in conn.execute(query)
        if o or c
    ]
    per.sort(key=lambda r: (-r["open_overdue"] - r["closed_late"], r["department"]))
    worst = conn.execute(
        select(Ticket.number, Ticket.department, Ticket.topic, Ticket.status, Ticket.deadline)
        .where(in_period(Ticket.created_at, period), open_late)
        .order_by(Ticket.deadline, Ticket.id)
        .limit(limit)
    )
    return {
        "open_overdue": sum(r["open_overdue"] for r in per),
        "closed_late": sum(r["closed_late"] for r in per),
        "departments": per,
        "longest_open": [
            {
                "number": n,
                "department": d or "",
                "topic": t,
                "status": s,
                "deadline": due,
                "overdue_seconds": round(now - float(due or 0.0), 1),
            }  # fmt: skip
            for n, d, t, s, due in worst
        ],
    }


def bounced(
    conn: Connection,
    period: Period,
    page: int = 1,
    per_page: int = 50,
    min_returns: int = 2,
    min_departments: int = 3,
) -> dict[str, Any]:
    """Tickets bounced between departments (推诿): returned at least `min_returns` times or
    dispatched to at least `min_departments` departments; with each one's route, and the
    returns per department that gave tickets back."""
    h = TicketHistory
    dept = history_department(conn)
    returns = func.sum(flag(h.action == "return"))
    departments = func.count(distinct(case((h.action.in_(("dispatch", "redispatch")), dept))))
    per = (
        select(
            h.ticket_id.label("ticket_id"),
            returns.label("returns"),
            departments.label("departments"),
        )
        .join(Ticket, Ticket.id == h.ticket_id)
        .where(in_period(Ticket.created_at, period), h.action.in_(FLOW_ACTIONS))
        .group_by(h.ticket_id)
        .having(or_(returns >= min_returns, departments >= min_departments))
        .subquery("bounced")
    )
    total = int(conn.scalar(select(func.count()).select_from(per)) or 0)
    ids = [
        (int(i), int(r), int(d))
        for i, r, d in conn.execute(
            select(per.c.ticket_id, per.c.returns, per.c.departments)
            .order_by(per.c.returns.desc(), per.c.departments.desc(), per.c.ticket_id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    ]
    routes: dict[int, list[dict[str, Any]]] = {i: [] for i, _, _ in ids}
    numbers: dict[int, tuple[str, str]] = {}
    if ids:
        for tid, action, at, d in conn.execute(
            select(h.ticket_id, h.action, h.at, dept)
            .where(h.ticket_id.in_(routes), h.action.in_(FLOW_ACTIONS))
            .order_by(h.ticket_id, h.seq)
        ):
            routes[int(tid)].append(
                {"action": action, "label": FLOW_LABELS[action], "department": d or "", "at": at}
            )
        for tid, number, topic in conn.execute(
            select(Ticket.id, Ticket.number, Ticket.topic).where(Ticket.id.in_(routes))
        ):
            numbers[int(tid)] = (number, topic)
    by_dept = conn.execute(
        select(dept, func.count())
        .join(Ticket, Ticket.id == h.ticket_id)
        .where(in_period(Ticket.created_at, period), h.action == "return")
        .group_by(dept)
        .order_by(func.count().desc(), dept)
    )
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "tickets": [
            {
                "ticket_id": i,
                "number": numbers[i][0],
                "topic": numbers[i][1],
                "returns": r,
                "departments": d,
                "route": routes[i],
            }  # fmt: skip
            for i, r, d in ids
        ],
        "returns_by_department": [{"department": d or "", "returns": int(n)} for d, n in by_dept],
    }


def low_satisfaction(
    conn: Connection, period: Period, dimension: str, min_count: int = 10, limit: int = 20
) -> list[dict[str, Any]]:
    """Departments or topics by their share of 不满意 among rated tickets, worst first; only
    those with at least `min_count` ratings."""
    key = _dimension(dimension)
    rating = state_text(conn, "rating")
    rated = func.sum(flag(rating.is_not(None)))
    unhappy = func.sum(flag(rating == Rating.UNSATISFIED.value))
    query = (
        select(key, rated, unhappy)
        .where(in_period(Ticket.created_at, period))
        .group_by(key)
        .having(rated >= max(1, min_count))
    )
    rows: list[dict[str, Any]] = [
        {
            "key": str(k),
            "evaluated": int(e),
            "unsatisfied": int(u or 0),
            "share": int(u or 0) / int(e),
        }  # fmt: skip
        for k, e, u in conn.execute(query)
    ]
    rows.sort(key=lambda r: (-r["share"], -r["evaluated"], r["key"]))
    return rows[:limit]


def agents(conn: Connection, period: Period) -> list[dict[str, Any]]:
    """Per agent: tickets taken in (受理), calls answered, talk time, and calls answered on
    the spot (answered with no ticket made from the call: the request settled on the
    first contact)."""
    c = CallRecord
    tickets: dict[str, int] = {
        str(a): int(n)
        for a, n in conn.execute(
            select(Ticket.agent_id, func.count())
            .where(in_period(Ticket.created_at, period), Ticket.agent_id != "")
            .group_by(Ticket.agent_id)
        )
    }
    has_ticket = select(Ticket.id).where(Ticket.call_id == c.call_id).exists()
    calls = conn.execute(
        select(
            c.agent_id,
            func.count(),
            func.sum(func.coalesce(c.talk_seconds, 0.0)),
            func.sum(flag(~has_ticket)),
        )
        .where(in_period(c.joined_at, period), c.connected_at.is_not(None), c.agent_id.is_not(None))
        .group_by(c.agent_id)
    ).all()
    seen: dict[str, dict[str, Any]] = {}
    for agent, answered, talk, spot in calls:
        seen[str(agent)] = {
            "agent_id": str(agent),
            "tickets": tickets.get(str(agent), 0),
            "calls_answered": int(answered),
            "talk_seconds": float(talk or 0.0),
            "average_talk": float(talk or 0.0) / int(answered),
            "on_the_spot": int(spot or 0),
            "on_the_spot_share": int(spot or 0) / int(answered),
        }
    for agent, n in tickets.items():
        if str(agent) not in seen:
            seen[str(agent)] = {
                "agent_id": str(agent), "tickets": int(n), "calls_answered": 0,
                "talk_seconds": 0.0, "average_talk": None, "on_the_spot": 0,
                "on_the_spot_share": None,
            }  # fmt: skip
    return sorted(seen.values(), key=lambda r: (-r["calls_answered"], -r["tickets"], r["agent_id"]))
