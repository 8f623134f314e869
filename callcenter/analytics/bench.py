"""Timings of the analytics queries on a loaded database (e.g. the 1,000,000-ticket synthetic
year on PostgreSQL): a department's scorecard, every department's scorecard, and hot-spot
rankings (topic, street), each over the last 30 days of data, as p50/p95 milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from callcenter.analytics import hotspots, scorecard
from callcenter.analytics.sql import DAY, Period, in_period, tune
from callcenter.percentile import percentile
from callcenter.storage.database import Database
from callcenter.storage.schema import Ticket

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


def _time(work: Callable[[], object], runs: int) -> dict[str, float]:
    work()  # warm the caches once
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        took.append((time.perf_counter() - started) * 1000.0)
    return {
        "runs": runs,
        "p50_ms": round(percentile(took, 50) or 0.0, 1),
        "p95_ms": round(percentile(took, 95) or 0.0, 1),
        "max_ms": round(max(took), 1),
    }


def bench(db_url: str, runs: int = 20, days: int = 30) -> dict[str, Any]:
    """Time the queries over the last `days` days of tickets in the database at `db_url`."""
    db = Database(db_url)
    config = scorecard.load_scorecard(REPO_CONFIG)
    try:
        with db.engine.connect() as conn:
            tune(conn)
            total = int(conn.scalar(select(func.count()).select_from(Ticket)) or 0)
            last = conn.scalar(select(func.max(Ticket.created_at)))
            if last is None:
                raise ValueError("the database holds no tickets")
            period = Period(float(last) + 1.0 - days * DAY, float(last) + 1.0)
            busiest = _busiest(conn, period)
            as_of = float(last)
            in_period_n = int(
                conn.scalar(select(func.count()).where(in_period(Ticket.created_at, period))) or 0
            )
            timings = {
                "department_scorecard": _time(
                    lambda: scorecard.scorecards(conn, period, config, as_of, busiest), runs
                ),
                "all_scorecards": _time(
                    lambda: scorecard.scorecards(conn, period, config, as_of), max(3, runs // 4)
                ),
                "hotspots_topic": _time(
                    lambda: hotspots.ranking(conn, "topic", period, limit=20), runs
                ),
                "hotspots_street": _time(
                    lambda: hotspots.ranking(conn, "street", period, limit=20), runs
                ),
                "hotspots_department_topic": _time(
                    lambda: hotspots.ranking(
                        conn, "topic", period, hotspots.Scope(busiest), limit=20
                    ),
                    runs,
                ),
            }
    finally:
        db.close()
    return {
        "database": db.engine.dialect.name,
        "tickets": total,
        "period_days": days,
        "tickets_in_period": in_period_n,
        "department": busiest,
        **timings,
    }


def _busiest(conn: Connection, period: Period) -> str:
    n = func.count()
    row = conn.execute(
        select(Ticket.department, n)
        .where(in_period(Ticket.created_at, period), Ticket.department.is_not(None))
        .group_by(Ticket.department)
        .order_by(n.desc())
        .limit(1)
    ).first()
    return str(row[0]) if row else ""
