"""Hotline reports over HTTP (GB/T 44192 7.2.1.1): KPIs of any period as JSON, generating a
report (computed and rendered on a worker thread: asyncio.to_thread), a stored report and its
files. Supervisors, auditors and admins see everything; a department only its own tickets'
figures (without the call figures); agents nothing. Every file download is an export on
record in the data access log."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from aiohttp import web
from pydantic import Field

from callcenter.api.auth import Principal, require
from callcenter.api.described import Body, body, described
from callcenter.api.errors import ApiError
from callcenter.api.keys import CONFIG_DIR, TICKET_DB
from callcenter.api.params import (
    ROW_ID,
    OneOf,
    Parsed,
    PathParams,
    Query,
    path_id,
    path_params,
    query,
)
from callcenter.data import audit
from callcenter.reports.build import (
    ALL_DIMENSIONS,
    KINDS,
    build_report,
    dates_period,
    topic_names,
)
from callcenter.reports.query import DIMENSIONS
from callcenter.reports.run import DEFAULT_DIR, FORMATS, generate_report
from callcenter.storage.schema import ReportRun

REPORTS_DIR: web.AppKey[Path] = web.AppKey("reports_dir", Path)
READERS = ("supervisor", "auditor", "department")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


_ROLES = "supervisor, auditor, admin; department: its own figures"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/reports/kpi", kpis),
        web.post("/api/reports", create),
        web.get("/api/reports/{id}", show),
        web.get("/api/reports/{id}/file/{format}", download),
    ]


def _scope(who: Principal) -> str | None:
    """The department whose figures this user may see; None for all."""
    if who.role == "department":
        if not who.department:
            raise ApiError(403, "api.forbidden", "a department user needs a department")
        return who.department
    return None


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None


def _day(raw: object, name: str) -> date:
    try:
        return _date(str(raw))
    except ValueError as exc:
        raise ApiError(400, "api.bad_parameter", f"{name} {exc}") from None


def _period(raw_from: object, raw_to: object) -> tuple[datetime, datetime]:
    """from and to are dates in China time, both included."""
    first, last = _day(raw_from, "from"), _day(raw_to, "to")
    if last < first:
        raise ApiError(400, "api.bad_parameter", "to must not be before from")
    return dates_period(first, last)


def _topics(request: web.Request) -> dict[str, str]:
    config = request.app.get(CONFIG_DIR)
    if config is None:
        return {}
    return topic_names(config)  # a ConfigError names the file and key: a 500


def _dims(raw: str) -> list[str]:
    if raw.strip() == "":
        return list(ALL_DIMENSIONS)
    dims = [d.strip() for d in raw.split(",") if d.strip()]
    bad = [d for d in dims if d not in DIMENSIONS]
    if bad:
        raise ApiError(
            400, "api.bad_parameter", f"unknown dim {bad[0]!r} (one of {', '.join(DIMENSIONS)})"
        )
    return dims


DATE = (("type", "string"), ("format", "date"))


class KpiQuery(Query):
    insists = ("from", "to")
    from_: Annotated[date | None, Parsed(_date, DATE)] = Field(None, alias="from")
    to: Annotated[date | None, Parsed(_date, DATE)] = None
    dim: str = Field("", description="dimensions, comma-separated (all when absent)")


@described(
    "Hotline KPIs and breakdowns of a period (dates, both included)",
    roles=_ROLES,
    query=KpiQuery,
)
async def kpis(request: web.Request) -> web.Response:
    """GET /api/reports/kpi?from=YYYY-MM-DD&to=YYYY-MM-DD&dim=a,b: the figures, not stored."""
    who = require(request, *READERS)
    q = query(request, KpiQuery)
    start, end = _period(q.from_ or "", q.to or "")
    dims = _dims(q.dim)
    report = await asyncio.to_thread(
        build_report,
        request.app[TICKET_DB],
        "special",
        start,
        end,
        dims,
        who.name,
        department=_scope(who),
        store=False,
        topics=await asyncio.to_thread(_topics, request),
    )
    return web.json_response(report.figures())


def _run_view(row: ReportRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "period_from": row.period_from,
        "period_to": row.period_to,
        "params": json.loads(row.params),
        "figures": json.loads(row.figures),
        "files": json.loads(row.files),
        "actor": row.actor,
        "state": row.state,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "error": row.error,
    }


class ReportRequest(Body):
    error_id: ClassVar[str] = "api.bad_parameter"
    kind: Literal[tuple(KINDS)] = "special"  # type: ignore[valid-type]
    start: str = Field(alias="from", json_schema_extra={"format": "date"})
    end: str = Field(alias="to", json_schema_extra={"format": "date"})
    dims: list[Literal[tuple(DIMENSIONS)]] = []  # type: ignore[valid-type]
    formats: list[Literal[FORMATS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(FORMATS), min_length=1
    )
    title: str = Field("", max_length=200)


@described(
    "Generate a report (XLSX, HTML, PDF) on a worker thread",
    roles=_ROLES,
    ok=201,
    body=ReportRequest,
)
async def create(request: web.Request) -> web.Response:
    """POST /api/reports {kind, from, to, dims?, formats?, title?}: generate on a worker thread;
    answers with the report_runs row."""
    who = require(request, *READERS)
    asked = await body(request, ReportRequest)
    kind, formats = asked.kind, list(asked.formats)
    start, end = _period(asked.start, asked.end)
    dims = list(asked.dims) or list(ALL_DIMENSIONS)
    db = request.app[TICKET_DB]
    report = await asyncio.to_thread(
        generate_report,
        db,
        kind,
        start,
        end,
        dims,
        who.name,
        request.app.get(REPORTS_DIR, DEFAULT_DIR),
        formats,
        title=asked.title,
        department=_scope(who),
        topics=await asyncio.to_thread(_topics, request),
    )
    assert report.id is not None
    return web.json_response(_run_view(await _load(request, report.id)), status=201)


async def _load(request: web.Request, run_id: int) -> ReportRun:
    db = request.app[TICKET_DB]

    def work() -> ReportRun | None:
        with db.session() as s:
            row = s.get(ReportRun, run_id)
            if row is not None:
                s.expunge(row)
            return row

    row = await asyncio.to_thread(work)
    if row is None:
        raise ApiError(404, "reports.not_found", f"no report {run_id}")
    return row


def _run_id(request: web.Request) -> int:
    return path_id(request)


def _visible(who: Principal, row: ReportRun) -> None:
    mine = _scope(who)
    if mine is not None and json.loads(row.params).get("department") != mine:
        raise ApiError(403, "api.forbidden", "this report is not your department's")


@described("A stored report run and its figures", roles=_ROLES)
async def show(request: web.Request) -> web.Response:
    who = require(request, *READERS)
    row = await _load(request, _run_id(request))
    _visible(who, row)
    return web.json_response(_run_view(row))


class FileParams(PathParams):
    format: Annotated[str, OneOf(FORMATS)]
    id: Annotated[int, ROW_ID]


@described("Download a report file (an export, on record)", roles=_ROLES, path=FileParams)
async def download(request: web.Request) -> web.Response:
    """GET /api/reports/{id}/file/{xlsx|html|pdf}: an export, on record."""
    who = require(request, *READERS)
    asked = path_params(request, FileParams)
    fmt = asked.format
    row = await _load(request, asked.id)
    _visible(who, row)
    names = [str(n) for n in json.loads(row.files) if str(n).endswith("." + fmt)]
    if not names:
        raise ApiError(404, "reports.no_file", f"report {row.id} has no {fmt} file")
    root = request.app.get(REPORTS_DIR, DEFAULT_DIR).resolve()
    path = (root / names[0]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ApiError(404, "reports.no_file", f"the {fmt} file of report {row.id} is missing")
    body = await asyncio.to_thread(path.read_bytes)
    await asyncio.to_thread(
        request.app[TICKET_DB].transaction,
        lambda s: audit.record_access(
            s,
            who.name,
            who.role,
            "export",
            "report_runs",
            record_id=str(row.id),
            fields=[fmt],
            purpose=row.title,
            remote=request.remote or "",
        ),
    )
    return web.Response(
        body=body,
        content_type=CONTENT_TYPES[fmt].split(";")[0],
        charset="utf-8" if fmt == "html" else None,
        headers={
            "Content-Disposition": f'attachment; filename="report-{row.id}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )
