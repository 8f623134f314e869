"""The SQL aggregates behind a report: every figure is a GROUP BY in the database, never a loop
over tickets in Python, so a month of a million-ticket year takes seconds on PostgreSQL.

Cohorts (which timestamp puts a record in the period [start, end), epoch seconds):
- calls: `calls.joined_at` (reached the queue);
- missed callers (漏接回拨): `callbacks.requested_at` of the missed-call tasks (left the queue);
- intake, returns, re-dispatches: `tickets.created_at` (受理);
- closure, on-time completion, revisits, resolution, ratings: `tickets.closed_at` (办结), i.e.
  the outcome of the tickets closed in the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from callcenter.storage.schema import CallbackRecord, CallRecord, RefGrid, Ticket, TicketHistory
from callcenter.tickets.model import OPEN_STATUSES, CallbackOutcome, Rating, Status

ANSWER_THRESHOLD = 15.0  # seconds: "answered within 15 s"
URGENT_HOURS = 24.0  # a time limit of at most this many hours counts as urgent

# Breakdown dimensions: key -> Chinese heading.
DIMENSIONS: dict[str, str] = {
    "request_type": "诉求类型",
    "topic": "问题分类",
    "channel": "受理渠道",
    "hotline": "热线号码",
    "urgency": "紧急程度",
    "status": "办理状态",
    "department": "承办单位",
    "district": "区域",
}

URGENT = "紧急"
NORMAL = "一般"
NO_LIMIT = "无时限"
BLANK = "（未填）"


@dataclass(frozen=True)
class CallCounts:
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    wait_seconds: float = 0.0  # of answered calls
    talk_seconds: float = 0.0  # of answered calls


@dataclass(frozen=True)
class MissedCounts:
    """漏接回拨 of the missed callers of a period: one task per number per day. Tasks closed
    because the citizen took a queued callback ("merged") or called in again and was answered
    ("returned") are not counted: the citizen reached the center without our call."""

    missed: int = 0  # missed callers to call back
    called_back: int = 0  # of those, the citizen was dialled at least once
    reached: int = 0  # of those, the citizen answered and talked to an agent
    p50: float | None = None  # time to callback (miss -> first dial), seconds
    p90: float | None = None


@dataclass(frozen=True)
class TicketCounts:
    received: int = 0  # created in the period
    open: int = 0  # of those, still before 办结
    returned: int = 0  # of those, given back at least once (退单)
    closed: int = 0  # closed in the period
    closed_on_time: int = 0  # of those, by the deadline (or without one)
    callback_attempted: int = 0  # of those, a revisit call was made
    revisited: int = 0  # of those, the revisit reached the citizen (已回访)
    resolved: int = 0  # of those revisited, not reopened (重办) afterwards
    evaluated: int = 0  # of those, rated
    satisfied: int = 0
    basically_satisfied: int = 0
    unsatisfied: int = 0


@dataclass(frozen=True)
class FlowCounts:
    """Hand-overs of the tickets received in the period, from the history."""

    dispatched: int = 0  # tickets dispatched at least once
    returned: int = 0  # tickets returned (退单) at least once
    returns: int = 0  # return actions
    redispatched: int = 0  # tickets re-dispatched (改派) at least once
    redispatches: int = 0  # re-dispatch actions


@dataclass(frozen=True)
class Period:
    start: float  # epoch seconds, inclusive
    end: float  # exclusive


@dataclass(frozen=True)
class Scope:
    """Whose tickets: everything, or one department's (a department user's view)."""

    department: str | None = None


def _dialect(conn: Connection) -> str:
    return conn.dialect.name


def _state(conn: Connection) -> Any:
    # PostgreSQL: parse once into jsonb (lookups are then cheap); SQLite must not cast (JSON has
    # numeric affinity) and reads with json_extract
    if _dialect(conn) == "postgresql":
        return cast(Ticket.state, JSONB)
    return type_coerce(Ticket.state, JSON)


def _in(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _dimension_columns() -> dict[str, ColumnElement[Any]]:
    limit = Ticket.deadline - Ticket.created_at
    return {
        "request_type": func.coalesce(Ticket.request_type, ""),
        "topic": func.coalesce(Ticket.topic, ""),
        "channel": func.coalesce(Ticket.channel, ""),
        "hotline": func.coalesce(Ticket.did, "") + " " + func.coalesce(Ticket.hotline, ""),
        "urgency": case(
            (Ticket.deadline.is_(None), NO_LIMIT),
            (limit <= URGENT_HOURS * 3600, URGENT),
            else_=NORMAL,
        ),
        "status": func.coalesce(Ticket.status, ""),
        "department": func.coalesce(Ticket.department, ""),
        "district": func.coalesce(RefGrid.district, ""),
    }


def _ticket_base(conn: Connection, period: Period, scope: Scope, dims: Sequence[str]) -> Any:
    """One row per ticket received or closed in the period: its dimension values and 0/1
    flags; the outer queries only sum. The inner query is fenced (OFFSET 0) so the state JSON
    is parsed once per ticket, not once per flag."""
    columns = _dimension_columns()
    inner: Select[Any] = select(
        *[columns[d].label(f"d_{d}") for d in dims],
        Ticket.created_at,
        Ticket.closed_at,
        Ticket.deadline,
        Ticket.status,
        _state(conn).label("js"),
    )
    if "district" in dims:
        inner = inner.select_from(Ticket).outerjoin(RefGrid, RefGrid.code == Ticket.grid)
    inner = inner.where(or_(_in(Ticket.created_at, period), _in(Ticket.closed_at, period)))
    if scope.department is not None:
        inner = inner.where(Ticket.department == scope.department)
    t = inner.offset(0).subquery("tickets_in_period")
    callback = t.c.js["callback"].as_string()
    rating = t.c.js["rating"].as_string()
    returns = t.c.js["returns"].as_integer()
    reopens = t.c.js["reopens"].as_integer()
    created = _in(t.c.created_at, period)
    closed = _in(t.c.closed_at, period)
    reached = and_(closed, callback == CallbackOutcome.REACHED.value)
    flags: list[ColumnElement[Any]] = [
        _flag(created).label("received"),
        _flag(and_(created, t.c.status.in_([s.value for s in OPEN_STATUSES]))).label("open"),
        _flag(and_(created, func.coalesce(returns, 0) > 0)).label("returned"),
        _flag(closed).label("closed"),
        _flag(and_(closed, or_(t.c.deadline.is_(None), t.c.closed_at <= t.c.deadline))).label(
            "closed_on_time"
        ),
        _flag(and_(closed, callback.is_not(None))).label("callback_attempted"),
        _flag(reached).label("revisited"),
        _flag(and_(reached, func.coalesce(reopens, 0) == 0)).label("resolved"),
        _flag(and_(closed, rating.is_not(None))).label("evaluated"),
        _flag(and_(closed, rating == Rating.SATISFIED.value)).label("satisfied"),
        _flag(and_(closed, rating == Rating.BASICALLY_SATISFIED.value)).label(
            "basically_satisfied"
        ),
        _flag(and_(closed, rating == Rating.UNSATISFIED.value)).label("unsatisfied"),
    ]
    dim_columns = [t.c[f"d_{d}"] for d in dims]
    return select(*dim_columns, *flags).subquery("base")


_TICKET_FIELDS = [f.name for f in fields(TicketCounts)]


def _ticket_counts(row: Any, offset: int = 0) -> TicketCounts:
    values = [int(v or 0) for v in row[offset : offset + len(_TICKET_FIELDS)]]
    return TicketCounts(*values)


def ticket_totals(conn: Connection, period: Period, scope: Scope = Scope()) -> TicketCounts:
    base = _ticket_base(conn, period, scope, ())
    row = conn.execute(select(*[func.sum(base.c[name]) for name in _TICKET_FIELDS])).one()
    return _ticket_counts(row)


def ticket_breakdowns(
    conn: Connection, period: Period, dims: Sequence[str], scope: Scope = Scope()
) -> tuple[TicketCounts, dict[str, list[tuple[str, TicketCounts]]]]:
    """The totals and, per dimension, (value, counts) ordered by tickets received then
    closed, descending. PostgreSQL: one scan with GROUPING SETS; SQLite: one GROUP BY per
    dimension."""
    for d in dims:
        if d not in DIMENSIONS:
            raise ValueError(f"unknown dimension {d!r} (one of {', '.join(DIMENSIONS)})")
    if not dims or _dialect(conn) != "postgresql":
        totals = ticket_totals(conn, period, scope)
    found: dict[str, list[tuple[str, TicketCounts]]] = {d: [] for d in dims}
    if not dims:
        return totals, found
    base = _ticket_base(conn, period, scope, dims)
    sums = [func.sum(base.c[name]) for name in _TICKET_FIELDS]
    if _dialect(conn) == "postgresql":
        totals = TicketCounts()
        keys = [base.c[f"d_{d}"] for d in dims]
        sets = func.grouping_sets(*keys, tuple_())
        query = select(*keys, *[func.grouping(k) for k in keys], *sums).group_by(sets)
        for row in conn.execute(query):
            grouping = row[len(dims) : 2 * len(dims)]
            which = [i for i, g in enumerate(grouping) if g == 0]
            counts = _ticket_counts(row, 2 * len(dims))
            if not which:
                totals = counts
            elif len(which) == 1:
                found[dims[which[0]]].append((str(row[which[0]]), counts))
    else:
        for d in dims:
            key = base.c[f"d_{d}"]
            for row in conn.execute(select(key, *sums).group_by(key)):
                found[d].append((str(row[0]), _ticket_counts(row, 1)))
    for d in dims:
        found[d].sort(key=lambda item: (-item[1].received, -item[1].closed, item[0]))
    return totals, found


def call_totals(conn: Connection, period: Period) -> CallCounts:
    c = CallRecord
    answered = c.connected_at.is_not(None)
    query = select(
        func.count(),
        func.sum(_flag(answered)),
        func.sum(_flag(and_(answered, c.waited <= ANSWER_THRESHOLD))),
        func.sum(_flag(c.leave_reason == "abandoned")),
        func.sum(case((answered, func.coalesce(c.waited, 0.0)), else_=0.0)),
        func.sum(case((answered, func.coalesce(c.talk_seconds, 0.0)), else_=0.0)),
    ).where(_in(c.joined_at, period))
    row = conn.execute(query).one()
    return CallCounts(
        offered=int(row[0] or 0),
        answered=int(row[1] or 0),
        answered_within=int(row[2] or 0),
        abandoned=int(row[3] or 0),
        wait_seconds=float(row[4] or 0.0),
        talk_seconds=float(row[5] or 0.0),
    )


def missed_totals(conn: Connection, period: Period) -> MissedCounts:
    """Missed callers, called back and reached, and the time to callback's p50 and p90
    (nearest rank, read with ORDER BY ... OFFSET on both dialects)."""
    b = CallbackRecord
    counted = and_(
        b.kind == "missed", _in(b.requested_at, period), b.state.not_in(("merged", "returned"))
    )
    row = conn.execute(
        select(
            func.count(),
            func.count(b.first_dialed_at),
            func.sum(_flag(b.state == "completed")),
        ).where(counted)
    ).one()
    called = int(row[1] or 0)

    def rank(share: float) -> float | None:
        if not called:
            return None
        index = max(0, -(-int(share * 100) * called // 100) - 1)  # ceil(share * n) - 1
        value = conn.execute(
            select(b.first_dialed_at - b.requested_at)
            .where(counted, b.first_dialed_at.is_not(None))
            .order_by(b.first_dialed_at - b.requested_at)
            .offset(index)
            .limit(1)
        ).scalar()
        return None if value is None else max(0.0, float(value))

    return MissedCounts(int(row[0] or 0), called, int(row[2] or 0), rank(0.5), rank(0.9))


def flow_totals(conn: Connection, period: Period, scope: Scope = Scope()) -> FlowCounts:
    """Dispatches, returns and re-dispatches of the tickets received in the period.

    The history is read through its (ticket_id, seq) index over the id range of those tickets
    (exact: the join still checks created_at; fast because ids grow with intake time)."""
    h = TicketHistory
    plain = Ticket.id + 0  # not the primary key index: min/max would walk it from one end
    ids = select(func.min(plain), func.max(plain)).where(_in(Ticket.created_at, period))
    if scope.department is not None:
        ids = ids.where(Ticket.department == scope.department)
    low, high = conn.execute(ids).one()
    if low is None:
        return FlowCounts()
    query = (
        select(h.action, func.count(), func.count(func.distinct(h.ticket_id)))
        .join(Ticket, Ticket.id == h.ticket_id)
        .where(h.ticket_id.between(low, high))
        .where(_in(Ticket.created_at, period))
        .where(h.action.in_(("dispatch", "return", "redispatch")))
        .group_by(h.action)
    )
    if scope.department is not None:
        query = query.where(Ticket.department == scope.department)
    got = {str(a): (int(n), int(t)) for a, n, t in conn.execute(query)}
    dispatched = got.get("dispatch", (0, 0))[1]
    return FlowCounts(
        dispatched=dispatched,
        returned=got.get("return", (0, 0))[1],
        returns=got.get("return", (0, 0))[0],
        redispatched=got.get("redispatch", (0, 0))[1],
        redispatches=got.get("redispatch", (0, 0))[0],
    )


def intake_series(
    conn: Connection, period: Period, bucket: float, utc_offset: float, scope: Scope = Scope()
) -> list[tuple[float, int]]:
    """Tickets received per bucket (an hour or a local day): (bucket start epoch, count)."""
    shifted = (Ticket.created_at + literal(utc_offset, Float)) / literal(bucket, Float)
    if _dialect(conn) == "postgresql":
        index: ColumnElement[Any] = cast(func.floor(shifted), Integer)
    else:
        index = cast(shifted, Integer)
    key = index.label("bucket")
    query = select(key, func.count()).where(_in(Ticket.created_at, period))
    if scope.department is not None:
        query = query.where(Ticket.department == scope.department)
    rows = conn.execute(query.group_by(key).order_by(key))
    return [(int(b) * bucket - utc_offset, int(n)) for b, n in rows]


STATUS_LABELS = {s.value: s.label for s in Status}
