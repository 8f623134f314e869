"""Data applications over HTTP (GB/T 44192 7.1.1, 7.2.2-7.2.4; GB/T 44190 7.1): service
quality, hot spots (shareable: a department token gets only its own tickets' hot spots),
the department's live overview, department scorecards with their per-ticket inputs, and the
integration evaluation.

Periods are local days: `from` and `to` (YYYY-MM-DD, both included; the last 30 days by
default). Every query runs in a worker thread (asyncio.to_thread) so a scan of a year never
blocks the engine's event loop. Ticket titles leave through the catalogue-driven `Redactor`
of the caller's role; a listing that shows them in clear is a read on record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import Field
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from callcenter.analytics import department as dept_view
from callcenter.analytics import hotspots, scorecard, service_quality
from callcenter.analytics.integration import integration_report
from callcenter.analytics.sql import Period, tune
from callcenter.api.auth import Principal, require
from callcenter.api.described import described
from callcenter.api.errors import ApiError
from callcenter.api.keys import CONFIG_DIR, SETTINGS, TICKET_DB
from callcenter.api.params import Int, OneOf, Parsed, Query, query
from callcenter.data import audit
from callcenter.data.catalog import load_annotations
from callcenter.data.protection import Action, Redactor, load_policy
from callcenter.tickets.settings import TicketSettings

T = TypeVar("T")
OFFICE = ("supervisor", "auditor")  # and admin
DEFAULT_DAYS = 30
CENTER = "supervisor, auditor, admin"
ALL = "supervisor, auditor, admin, department (its own tickets only)"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/analytics/service-quality", service_quality_view),
        web.get("/api/analytics/integration", integration),
        web.get("/api/hotspots", hotspot_ranking),
        web.get("/api/hotspots/tickets", hotspot_tickets),
        web.get("/api/department/overview", department_overview),
        web.get("/api/scorecard", scorecard_view),
        web.get("/api/scorecard/tickets", scorecard_tickets),
    ]


# --- parameters ------------------------------------------------------------------------------


def _settings(request: web.Request) -> TicketSettings:
    return request.app[SETTINGS]


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD)") from None


def _number_or_none(raw: str) -> float | None:
    """A number, or None for text that is not one (the caller's default stands)."""
    try:
        return float(raw)
    except ValueError:
        return None


DAY = (("type", "string"), ("format", "date"))


class PeriodQuery(Query):
    """A period of local days, both included."""

    from_: Annotated[date | None, Parsed(_day, DAY)] = Field(
        None, alias="from", description=f"default: {DEFAULT_DAYS} days up to to"
    )
    to: Annotated[date | None, Parsed(_day, DAY)] = Field(None, description="default: today")


class ServiceQualityQuery(PeriodQuery):
    dimension: Annotated[str, OneOf(service_quality.DIMENSIONS)] = "department"
    min_count: Annotated[int, Int(1, 100_000)] = 10
    page: Annotated[int, Int(1, 100_000)] = 1


class HotspotQuery(PeriodQuery):
    dimension: Annotated[str, OneOf(tuple(hotspots.DIMENSIONS))] = "topic"
    limit: Annotated[int, Int(1, 200)] = 20
    series: Annotated[str, OneOf(tuple(hotspots.BUCKETS))] = Field(
        "", description="adds each key's series"
    )
    department: str = Field("", description="the center only (a department sees its own)")


class HotspotTicketsQuery(PeriodQuery):
    insists = ("key",)
    keeps_empty = ("key",)
    dimension: Annotated[str, OneOf(tuple(hotspots.DIMENSIONS))] = "topic"
    key: str | None = None
    page: Annotated[int, Int(1, 100_000)] = 1
    per_page: Annotated[int, Int(1, 200)] = 20
    bucket: Annotated[str, OneOf(tuple(hotspots.BUCKETS))] = "day"
    bucket_start: Annotated[int | None, Int(0, 10**11)] = Field(
        None, description="one point of a series: [bucket_start, bucket_start + bucket)"
    )
    department: str = Field("", description="the center only (a department sees its own)")


class DepartmentQuery(Query):
    department: str = Field("", description="the center only (a department sees its own)")


class ScorecardQuery(PeriodQuery):
    department: str = Field("", description="the center only (a department sees its own)")


class ScorecardTicketsQuery(ScorecardQuery):
    page: Annotated[int, Int(1, 100_000)] = 1
    per_page: Annotated[int, Int(1, 5000)] = 500
    as_of: Annotated[float | None, Parsed(_number_or_none, (("type", "number"),))] = Field(
        None, description="epoch seconds (default now)"
    )


class IntegrationQuery(Query):
    insists = ("pivot",)
    pivot: Annotated[date | None, Parsed(_day, DAY)] = None
    window_days: Annotated[int, Int(1, 366)] = 30


def _period(request: web.Request, asked: PeriodQuery) -> Period:
    zone = _settings(request).calendar.zone
    today = datetime.now(zone).date()
    first = asked.from_ or today - timedelta(days=DEFAULT_DAYS - 1)
    last = asked.to or today
    if last < first:
        raise ApiError(400, "api.bad_parameter", "'to' is before 'from'")
    if (last - first).days > 3 * 366:
        raise ApiError(400, "api.bad_parameter", "a period is at most three years")
    start = datetime.combine(first, datetime.min.time(), zone).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).timestamp()
    return Period(start, end)


def _own_department(who: Principal, asked: str) -> str | None:
    """A department user's own department (always: whatever it asks for); for the center,
    the `department` asked for, or None (all)."""
    if who.role == "department":
        if not who.department:
            raise ApiError(403, "api.forbidden", "this department token names no department")
        return who.department
    return asked or None


async def _read(request: web.Request, work: Callable[[Connection], T]) -> T:
    db = request.app[TICKET_DB]

    def run() -> T:
        with db.engine.connect() as conn:
            tune(conn)
            return work(conn)

    return await asyncio.to_thread(run)


def _redactor(request: web.Request, who: Principal) -> Redactor:
    config: Path = request.app[CONFIG_DIR]
    return Redactor(
        load_policy(config / "protection.toml"), load_annotations(config / "catalog.toml"), who.role
    )


async def _titles(
    request: web.Request, who: Principal, rows: list[dict[str, Any]], purpose: str
) -> None:
    """Titles as the caller's role may see them; shown in clear, the read goes on record."""
    redactor = _redactor(request, who)
    for row in rows:
        row["title"] = redactor.value("tickets", "title", row.get("title", ""))
    shown = [str(r.get("id", "")) for r in rows if r.get("title")]
    if shown and redactor.action("tickets", "title") is Action.CLEAR:
        db = request.app[TICKET_DB]

        def log(s: Session) -> None:
            audit.record_access(
                s, who.name, who.role, "read", "tickets", "", ["title"],
                f"{purpose}: tickets {' '.join(shown)}", request.remote or "",
            )  # fmt: skip

        await asyncio.to_thread(db.transaction, log)


def _json(body: Any) -> web.Response:
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def _period_json(period: Period) -> dict[str, float]:
    return {"start": period.start, "end": period.end}


# --- service quality ---------------------------------------------------------------------------


@described(
    "Service quality: stage durations (p50/p90, bottleneck), overdue, bounced tickets "
    "with routes, low satisfaction, agents",
    roles=CENTER,
    query=ServiceQualityQuery,
)
async def service_quality_view(request: web.Request) -> web.Response:
    """Stage durations (overall and by department or topic), overdue, bounced tickets, low
    satisfaction and agents' handling, for the period."""
    require(request, *OFFICE)
    q = query(request, ServiceQualityQuery)
    period = _period(request, q)
    dimension, min_count, page = q.dimension, q.min_count, q.page
    now = time.time()

    def work(conn: Connection) -> dict[str, Any]:
        return {
            "period": _period_json(period),
            "dimension": dimension,
            "stages": service_quality.stage_report(conn, period, None),
            "stages_by": service_quality.stage_report(conn, period, dimension),
            "overdue": service_quality.overdue(conn, period, now),
            "bounced": service_quality.bounced(conn, period, page),
            "low_satisfaction": service_quality.low_satisfaction(
                conn, period, dimension, min_count
            ),
            "agents": service_quality.agents(conn, period),
        }

    return _json(await _read(request, work))


# --- hot spots ---------------------------------------------------------------------------------


@described(
    "Hot spots: topics, districts or streets ranked, change vs the previous period, "
    "series per day or week",
    roles=ALL,
    query=HotspotQuery,
)
async def hotspot_ranking(request: web.Request) -> web.Response:
    """Top keys of a dimension with the change vs the previous period; `series=day|week`
    adds each key's series. A department token sees only its own tickets."""
    who = require(request, *OFFICE, "department")
    q = query(request, HotspotQuery)
    scope = hotspots.Scope(_own_department(who, q.department))
    period = _period(request, q)
    dimension, limit, bucket = q.dimension, q.limit, q.series
    zone = _settings(request).calendar.zone
    offset = datetime.fromtimestamp(period.start, zone).utcoffset()
    utc_offset = offset.total_seconds() if offset else 0.0

    def work(conn: Connection) -> dict[str, Any]:
        ranked = hotspots.ranking(conn, dimension, period, scope, limit)
        body: dict[str, Any] = {
            "period": _period_json(period),
            "previous": _period_json(period.previous),
            "dimension": dimension,
            "label": hotspots.DIMENSIONS[dimension],
            "department": scope.department,
            "ranking": ranked,
            "share": f"/api/hotspots?{request.query_string}",
        }
        if bucket:
            found = hotspots.series(
                conn, dimension, [r["key"] for r in ranked], period, bucket, utc_offset, scope
            )
            body["series"] = {k: [[at, n] for at, n in v] for k, v in found.items()}
            body["bucket"] = bucket
        return body

    return _json(await _read(request, work))


@described(
    "The tickets behind a hot spot (titles masked by role)",
    roles=ALL,
    query=HotspotTicketsQuery,
)
async def hotspot_tickets(request: web.Request) -> web.Response:
    """The tickets behind one point: `dimension`, `key`, the period (or one bucket with
    `from`=`to`), paginated."""
    who = require(request, *OFFICE, "department")
    q = query(request, HotspotTicketsQuery)
    scope = hotspots.Scope(_own_department(who, q.department))
    period = _period(request, q)
    dimension = q.dimension
    if q.key is None:
        raise ApiError(400, "api.bad_parameter", "'key' is required")
    key, page, per_page = q.key, q.page, q.per_page
    if q.bucket_start is not None:  # one point of a series: [start, start + bucket)
        start = float(q.bucket_start)
        period = Period(start, start + hotspots.BUCKETS[q.bucket] * 86400.0)

    def work(conn: Connection) -> tuple[int, list[dict[str, Any]]]:
        return hotspots.tickets(conn, dimension, key, period, scope, page, per_page)

    total, rows = await _read(request, work)
    await _titles(request, who, rows, f"hot spot tickets {dimension}={key}")
    return _json(
        {
            "total": total,
            "page": page,
            "per_page": per_page,
            "period": _period_json(period),
            "tickets": rows,
        }  # fmt: skip
    )


# --- the department side -----------------------------------------------------------------------


def _scorecard_config(request: web.Request) -> scorecard.ScorecardConfig:
    return scorecard.load_scorecard(request.app[CONFIG_DIR])


@described(
    "A department's live view: open tickets, due soon, overdue, evaluations, "
    "dissatisfied revisits, the month's scorecard",
    roles="department (its own), supervisor, admin (?department=)",
    query=DepartmentQuery,
)
async def department_overview(request: web.Request) -> web.Response:
    """A department's live view of its own tickets (the center may ask for any one)."""
    who = require(request, "department", "supervisor")
    department = _own_department(who, query(request, DepartmentQuery).department)
    if department is None:
        raise ApiError(400, "api.bad_parameter", "'department' is required")
    settings = _settings(request)
    config = _scorecard_config(request)
    now = time.time()

    def work(conn: Connection) -> dict[str, Any]:
        return dept_view.overview(
            conn, department, now, settings.deadlines, settings.calendar.zone, config
        )

    body = await _read(request, work)
    listed = [*body["overdue"], *body["due_soon"], *body["dissatisfied"]]
    await _titles(request, who, listed, "department overview")
    return _json(body)


@described(
    "Department scorecards of the period (weights in scorecard.toml)",
    roles=ALL,
    query=ScorecardQuery,
)
async def scorecard_view(request: web.Request) -> web.Response:
    """Scorecards of the period: every department (center) or the caller's own."""
    who = require(request, *OFFICE, "department")
    q = query(request, ScorecardQuery)
    department = _own_department(who, q.department)
    period = _period(request, q)
    config = _scorecard_config(request)
    now = time.time()

    def work(conn: Connection) -> list[dict[str, Any]]:
        return scorecard.scorecards(conn, period, config, now, department)

    cards = await _read(request, work)
    return _json(
        {
            "period": _period_json(period),
            "as_of": now,
            "weights": dict(config.weights),
            "accept_within_hours": config.accept_within_hours,
            "criteria": scorecard.CRITERIA,
            "departments": cards,
        }
    )


@described(
    "A department scorecard's per-ticket inputs: which criteria each ticket met",
    roles=ALL,
    query=ScorecardTicketsQuery,
)
async def scorecard_tickets(request: web.Request) -> web.Response:
    """The per-ticket inputs of one department's scorecard (which criteria each ticket met),
    from which the score can be recomputed."""
    who = require(request, *OFFICE, "department")
    q = query(request, ScorecardTicketsQuery)
    department = _own_department(who, q.department)
    if department is None:
        raise ApiError(400, "api.bad_parameter", "'department' is required")
    period = _period(request, q)
    config = _scorecard_config(request)
    page, per_page = q.page, q.per_page
    now = time.time() if q.as_of is None else q.as_of

    def work(conn: Connection) -> tuple[int, list[dict[str, Any]]]:
        return scorecard.department_tickets(conn, period, config, now, department, page, per_page)

    total, rows = await _read(request, work)
    return _json(
        {
            "department": department,
            "period": _period_json(period),
            "as_of": now,
            "total": total,
            "page": page,
            "per_page": per_page,
            "tickets": rows,
        }  # fmt: skip
    )


# --- integration evaluation --------------------------------------------------------------------


@described(
    "Integration evaluation: numbers merged, channels, KPIs before/after a date",
    roles=CENTER,
    query=IntegrationQuery,
)
async def integration(request: web.Request) -> web.Response:
    """GB/T 44190 7.1: numbers merged, channels in use, KPIs before and after `pivot`."""
    require(request, *OFFICE)
    q = query(request, IntegrationQuery)
    if q.pivot is None:
        raise ApiError(400, "api.bad_parameter", "'pivot' (YYYY-MM-DD) is required")
    pivot, window = q.pivot, q.window_days
    db = request.app[TICKET_DB]
    config: Path = request.app[CONFIG_DIR]
    return _json(await asyncio.to_thread(integration_report, db, config, pivot, window))


# --- OpenAPI -----------------------------------------------------------------------------------
