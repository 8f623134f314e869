"""The department side (GB/T 44192 7.2.2): what a 承办单位 sees of its own tickets, live: the
open ones by status, those due soon and overdue, the evaluations of its recent work and the
dissatisfied revisits to coordinate, and its scorecard for the month so far. Every query is
filtered by the department: never another department's tickets."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.engine import Connection, RowMapping

from callcenter.analytics.scorecard import ScorecardConfig, scorecards
from callcenter.analytics.sql import DAY, Period, flag, state_int, state_text
from callcenter.storage.schema import Ticket
from callcenter.tickets.calendar import DeadlinePolicy
from callcenter.tickets.model import OPEN_STATUSES, Rating, Status

RECENT_DAYS = 30
LIST_LIMIT = 100
OPEN = [s.value for s in OPEN_STATUSES]


def due_class(policy: DeadlinePolicy, now: float) -> ColumnElement[str]:
    """'overdue', 'due_soon' or 'normal' for an open ticket with a deadline, as
    `callcenter.tickets.calendar.warning` decides it, in SQL."""
    remaining = Ticket.deadline - now
    share = (Ticket.deadline - Ticket.created_at) * policy.due_soon_share
    hours = policy.due_soon_hours * 3600.0
    return case(
        (remaining < 0, "overdue"),
        (and_(remaining <= share, share >= hours), "due_soon"),
        (and_(remaining <= hours, hours > share), "due_soon"),
        else_="normal",
    )


def _ticket(r: RowMapping) -> dict[str, Any]:
    return dict(r)


def month_start(now: float, zone: tzinfo) -> float:
    local = datetime.fromtimestamp(now, zone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def overview(
    conn: Connection,
    department: str,
    now: float,
    policy: DeadlinePolicy,
    zone: tzinfo,
    scorecard: ScorecardConfig,
) -> dict[str, Any]:
    """The department's live view as of `now`."""
    mine = Ticket.department == department
    is_open = Ticket.status.in_(OPEN)
    status_counts = {
        str(s): int(n)
        for s, n in conn.execute(
            select(Ticket.status, func.count()).where(mine, is_open).group_by(Ticket.status)
        )
    }
    due = due_class(policy, now)
    listed = (
        select(
            Ticket.id.label("id"),
            Ticket.number.label("number"),
            Ticket.status.label("status"),
            Ticket.topic.label("topic"),
            Ticket.request_type.label("request_type"),
            Ticket.title.label("title"),
            Ticket.created_at.label("created_at"),
            Ticket.deadline.label("deadline"),
            due.label("due_status"),
        )
        .where(mine, is_open, Ticket.deadline.is_not(None))
        .subquery("open_tickets")
    )
    due_counts = {
        str(k): int(n)
        for k, n in conn.execute(
            select(listed.c.due_status, func.count()).group_by(listed.c.due_status)
        )
    }
    lists: dict[str, list[dict[str, Any]]] = {}
    for kind in ("overdue", "due_soon"):
        rows = conn.execute(
            select(listed)
            .where(listed.c.due_status == kind)
            .order_by(listed.c.deadline, listed.c.id)
            .limit(LIST_LIMIT)
        ).mappings()
        lists[kind] = [_ticket(r) for r in rows]
    since = now - RECENT_DAYS * DAY
    rating = state_text(conn, "rating")
    recent = and_(mine, Ticket.closed_at >= since, Ticket.closed_at <= now)
    evaluations = {
        str(k): int(n)
        for k, n in conn.execute(
            select(rating, func.count()).where(recent, rating.is_not(None)).group_by(rating)
        )
    }
    unhappy = conn.execute(
        select(
            Ticket.id.label("id"),
            Ticket.number.label("number"),
            Ticket.status.label("status"),
            Ticket.topic.label("topic"),
            Ticket.title.label("title"),
            Ticket.closed_at.label("closed_at"),
            state_int(conn, "reopens").label("reopens"),
        )
        .where(recent, rating == Rating.UNSATISFIED.value)
        .order_by(Ticket.closed_at.desc(), Ticket.id.desc())
        .limit(LIST_LIMIT)
    ).mappings()
    start = month_start(now, zone)
    cards = scorecards(conn, Period(start, max(now, start + 1)), scorecard, now, department)
    return {
        "department": department,
        "as_of": now,
        "open": {
            "total": sum(status_counts.values()),
            "by_status": [
                {"status": s.value, "label": s.label, "tickets": status_counts.get(s.value, 0)}
                for s in Status
                if s.is_open
            ],
        },
        "due": {
            "overdue": due_counts.get("overdue", 0),
            "due_soon": due_counts.get("due_soon", 0),
            "normal": due_counts.get("normal", 0),
        },
        "overdue": lists["overdue"],
        "due_soon": lists["due_soon"],
        "evaluations": {
            "days": RECENT_DAYS,
            "by_rating": [
                {"rating": r.value, "tickets": evaluations.get(r.value, 0)} for r in Rating
            ],
            "closed": int(conn.scalar(select(func.count()).where(recent)) or 0),
            "revisited": int(
                conn.scalar(
                    select(func.sum(flag(state_text(conn, "callback") == "reached"))).where(recent)
                )
                or 0
            ),
        },
        "dissatisfied": [_ticket(r) for r in unhappy],
        "scorecard": cards[0] if cards else None,
        "scorecard_period": {"from": start, "to": now},
    }
