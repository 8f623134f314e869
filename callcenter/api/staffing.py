"""Seat planning over HTTP (GB/T 44190 6.1.1.1, 6.1.3.1): GET /api/staffing?date=&days=
[&sl=&within=] for supervisors and admins. The plan reads a year of call history, so it is
built in a worker thread (asyncio.to_thread), never on the engine's event loop."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from aiohttp import web
from pydantic import Field

from callcenter.api.auth import require
from callcenter.api.described import described
from callcenter.api.errors import ApiError
from callcenter.api.keys import CONFIG_DIR, TICKET_DB
from callcenter.api.params import Number, Parsed, Query, query
from callcenter.staffing.settings import load_staffing

if TYPE_CHECKING:
    from callcenter.staffing.plan import DayPlan


def routes() -> list[web.RouteDef]:
    return [web.get("/api/staffing", staffing)]


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be YYYY-MM-DD") from None


def _days(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 31:
        raise ValueError("must be an integer from 1 to 31")
    return int(raw)


class StaffingQuery(Query):
    insists = ("date",)
    first: Annotated[date | None, Parsed(_date, (("type", "string"), ("format", "date")))] = Field(
        None, alias="date"
    )
    days: Annotated[int, Parsed(_days, (("type", "integer"), ("minimum", 1), ("maximum", 31)))] = 1
    sl: Annotated[float | None, Number(0.01, 0.99)] = Field(
        None, description="the service level to plan for (default: staffing.toml)"
    )
    within: Annotated[float | None, Number(0, 3600)] = Field(
        None, description="seconds the service level counts (default: staffing.toml)"
    )


def _num(v: float) -> float | None:
    return round(v, 4) if math.isfinite(v) else None


def _day(p: DayPlan) -> dict[str, Any]:
    return {
        "date": p.day.isoformat(),
        "kind": p.kind,
        "basis": p.basis,
        "patience": _num(p.patience),
        "calls": _num(p.calls),
        "agent_hours_erlang_c": p.agent_hours_c,
        "agent_hours_erlang_a": p.agent_hours_a,
        "seat_hours": p.seat_hours,
        "peak_seats": p.peak_seats,
        "slots": [
            {
                "start": s.start,
                "calls": _num(s.calls),
                "aht": _num(s.aht),
                "agents_erlang_c": s.agents_c,
                "service_level_erlang_c": _num(s.sl_c),
                "asa_erlang_c": _num(s.asa_c),
                "agents_erlang_a": s.agents_a,
                "service_level_erlang_a": _num(s.sl_a),
                "abandon_erlang_a": _num(s.abandon_a),
                "seats": s.seats,
            }
            for s in p.slots
        ],
    }


@described(
    "Seat plan: calls forecast per half hour, agents by Erlang C and Erlang A",
    roles="supervisor, admin",
    query=StaffingQuery,
)
async def staffing(request: web.Request) -> web.Response:
    """The staffing curve of `days` days (default 1, at most 31) from `date`."""
    require(request, "supervisor")
    q = query(request, StaffingQuery)
    if q.first is None:
        raise ApiError(400, "api.bad_parameter", "date must be YYYY-MM-DD")
    first, days, sl, within = q.first, q.days, q.sl, q.within
    config = request.app[CONFIG_DIR]
    target = load_staffing(config).target
    if sl is not None:
        target = replace(target, service_level=sl)
    if within is not None:
        target = replace(target, within=within)
    db = request.app[TICKET_DB]
    plans = await asyncio.to_thread(_plan, db.engine, config, first, days, target)
    return web.json_response(
        {
            "target": {
                "service_level": target.service_level,
                "within": target.within,
                "max_occupancy": target.max_occupancy,
                "max_abandon": target.max_abandon,
                "max_asa": target.max_asa,
            },
            "days": [_day(p) for p in plans],
        }
    )


def _plan(*args: Any) -> Any:
    """The plan, imported on first use: Erlang A needs scipy, which the engine should not
    load at start."""
    from callcenter.staffing.plan import plan_from_store

    return plan_from_store(*args)
