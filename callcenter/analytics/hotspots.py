"""Hot spots for co-governance (GB/T 44192 7.2.3): topics and places (district, street from
ref_grids) ranked by the tickets received in a period, with the change against the previous
period of the same length, series per day or week for charts, and the tickets behind each
point. A department's view is scoped to its own tickets (`department`).

A ticket whose grid code is not in the imported grid table (governance's grid.unknown, or no
grid at all) has no place: the place rankings leave it out rather than rank an empty place;
it still counts in the period's total, so the shares of the ranked places add up to less
than 1 by the share of such tickets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.engine import Connection

from callcenter.analytics.sql import Period, bucket_index, bucket_start, flag, in_period
from callcenter.reports import kpi
from callcenter.storage.schema import RefGrid, Ticket

AnySelect = Select[*tuple[Any, ...]]
DIMENSIONS: dict[str, str] = {"topic": "问题分类", "district": "区域", "street": "街道"}
BUCKETS = {"day": 1, "week": 7}


@dataclass(frozen=True)
class Scope:
    department: str | None = None  # None: every department's tickets


def _key(dimension: str) -> ColumnElement[str]:
    if dimension == "topic":
        return func.coalesce(Ticket.topic, "")
    if dimension == "district":
        return func.coalesce(RefGrid.district, "")
    if dimension == "street":  # streets are named within their district
        return func.coalesce(RefGrid.district, "") + "/" + func.coalesce(RefGrid.street, "")
    raise ValueError(f"unknown dimension {dimension!r} (one of {', '.join(DIMENSIONS)})")


def _scoped(query: AnySelect, dimension: str, scope: Scope) -> AnySelect:
    if dimension != "topic":
        query = query.select_from(Ticket).outerjoin(RefGrid, RefGrid.code == Ticket.grid)
    if scope.department is not None:
        query = query.where(Ticket.department == scope.department)
    return query


def ranking(
    conn: Connection, dimension: str, period: Period, scope: Scope = Scope(), limit: int = 20
) -> list[dict[str, Any]]:
    """The top `limit` keys by tickets received in the period: count, share, the previous
    period's count, the change and the relative change (环比)."""
    key = _key(dimension).label("key")
    previous = period.previous
    current_n = func.sum(flag(Ticket.created_at >= period.start))
    counted: AnySelect = select(key, current_n, func.sum(flag(Ticket.created_at < period.start)))
    query = _scoped(counted, dimension, scope)
    if dimension != "topic":
        query = query.where(RefGrid.code.is_not(None))  # a known place only
    query = (
        query.where(Ticket.created_at >= previous.start, Ticket.created_at < period.end)
        .group_by(key)
        .having(current_n > 0)
        .order_by(current_n.desc(), key)
        .limit(limit)
    )
    total_query = _scoped(select(func.count()), "topic", scope).where(
        in_period(Ticket.created_at, period)
    )
    total = int(conn.scalar(total_query) or 0)
    out = []
    for rank, (k, n, before) in enumerate(conn.execute(query), start=1):
        now_n, prev_n = int(n or 0), int(before or 0)
        out.append(
            {
                "rank": rank,
                "key": str(k),
                "tickets": now_n,
                "share": kpi.ratio(now_n, total),
                "previous": prev_n,
                "change": now_n - prev_n,
                "relative_change": kpi.relative_change(now_n, prev_n),
            }
        )
    return out


def series(
    conn: Connection,
    dimension: str,
    keys: list[str],
    period: Period,
    bucket: str,
    utc_offset: float,
    scope: Scope = Scope(),
) -> dict[str, list[tuple[float, int]]]:
    """Tickets per local day or week for each key: (bucket start epoch, count), every bucket
    of the period listed (zeros included)."""
    days = BUCKETS[bucket]
    key = _key(dimension).label("key")
    index = bucket_index(conn, Ticket.created_at, days, utc_offset).label("b")
    grouped: AnySelect = select(key, index, func.count())
    query = _scoped(grouped, dimension, scope)
    query = query.where(in_period(Ticket.created_at, period), _key(dimension).in_(keys))
    counts: dict[tuple[str, int], int] = {
        (str(k), int(b)): int(n) for k, b, n in conn.execute(query.group_by(key, index))
    }
    first = _index_of(period.start, days, utc_offset)
    last = _index_of(period.end - 0.001, days, utc_offset)
    return {
        k: [
            (bucket_start(i, days, utc_offset), counts.get((k, i), 0))
            for i in range(first, last + 1)
        ]
        for k in keys
    }


def _index_of(epoch: float, days: int, utc_offset: float) -> int:
    day = (epoch + utc_offset) / 86400.0 + (3 if days == 7 else 0)
    return int(day // days)


def tickets(
    conn: Connection,
    dimension: str,
    key: str,
    period: Period,
    scope: Scope = Scope(),
    page: int = 1,
    per_page: int = 20,
) -> tuple[int, list[dict[str, Any]]]:
    """The tickets behind one point (a key in a period or bucket), newest first."""
    base = _scoped(select(Ticket.id), dimension, scope).where(
        in_period(Ticket.created_at, period), _key(dimension) == key
    )
    total = int(conn.scalar(select(func.count()).select_from(base.subquery())) or 0)
    columns: AnySelect = select(
        Ticket.id,
        Ticket.number,
        Ticket.created_at,
        Ticket.status,
        Ticket.request_type,
        Ticket.topic,
        Ticket.department,
        Ticket.grid,
        Ticket.title,
        RefGrid.district,
        RefGrid.street,
    )
    query = _scoped(columns, "district", scope).where(
        in_period(Ticket.created_at, period), _key(dimension) == key
    )
    rows = conn.execute(
        query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).mappings()
    return total, [
        {
            **dict(r),
            "department": r["department"] or "",
            "district": r["district"] or "",
            "street": r["street"] or "",
        }  # fmt: skip
        for r in rows
    ]
