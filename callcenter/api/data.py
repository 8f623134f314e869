"""The data office over HTTP (GB/T 44192 5, 6, 8): the catalogue, quality runs and reports,
corrections, imports of reference data, fused profiles and topic libraries, retention runs and
export feed positions.

Everything personal that leaves here goes through the catalogue-driven `Redactor` of the
caller's role; a profile's history and every export are written to the data access log in
the same transaction as the read.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from aiohttp import web
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.api.auth import Principal, require
from callcenter.api.described import Body, body, described
from callcenter.api.errors import ApiError
from callcenter.api.keys import CIPHER, CONFIG_DIR, TICKET_DB
from callcenter.api.params import MAX_ID, Int, Query, path_id, query
from callcenter.data import audit
from callcenter.data.catalog import build_catalog, export_watermark, load_annotations, to_json
from callcenter.data.catalog import write_xlsx as catalog_xlsx
from callcenter.data.fusion import browse, topics
from callcenter.data.imports import ImportRequestError, import_file
from callcenter.data.protection import Action, Redactor, load_policy
from callcenter.data.quality import report as quality_report
from callcenter.data.quality.config import load_quality
from callcenter.data.quality.corrections import correct
from callcenter.data.quality.runner import run
from callcenter.storage.database import Database
from callcenter.storage.schema import ExportCursor, ImportRun, QualityRun, RetentionRun

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_IMPORT = 50 * 1024 * 1024
T = TypeVar("T")

OFFICE = ("supervisor", "auditor")  # and admin: who sees the data office's views
OFFICE_ROLES = "supervisor, auditor, admin"


class FormatQuery(Query):
    format_: str = Field("", alias="format", description="xlsx for a workbook")


class LimitQuery(Query):
    limit: Annotated[int, Int(1, 200)] = 20


class ReportQuery(Query):
    limit: Annotated[int, Int(1, 100_000)] = 500
    format_: str = Field("", alias="format", description="xlsx for a workbook")


class PageQuery(Query):
    limit: Annotated[int, Int(1, 200)] = 50
    offset: Annotated[int, Int()] = 0


class ImportQuery(Query):
    name: str = Field("upload.csv", description="the file's name")
    dry_run: str = Field("", description="1, true or yes: check, write nothing")
    mode: str = "upsert"


class ProfilesQuery(Query):
    phone: str = ""
    id_card: str = ""
    enterprise_code: str = ""
    name: str = ""


class QualityStart(Body):
    error_id: ClassVar[str] = "data.quality.mode"
    mode: Literal["full", "incremental"] = "incremental"


class Correction(Body):
    """One field of one ticket to correct, and why; `issue_id` the quality issue it
    settles. Ids may come as numbers or as the strings the quality report shows."""

    ticket_id: int = Field(ge=1, le=MAX_ID, strict=False)
    field: str = Field("", max_length=64)
    value: str = Field("", max_length=4000)
    reason: str = Field("", max_length=500)
    issue_id: int | None = Field(None, ge=1, le=MAX_ID, strict=False)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/data/catalog", catalog),
        web.get("/api/data/quality/runs", quality_runs),
        web.post("/api/data/quality/runs", quality_start),
        web.get("/api/data/quality/runs/{id}", quality_run),
        web.post("/api/data/corrections", correction),
        web.get("/api/data/imports", imports_listing),
        web.post("/api/data/imports/{dataset}", import_upload),
        web.get("/api/data/profiles", profiles),
        web.get("/api/data/profiles/{id}", profile),
        web.get("/api/data/topics/{library}", library),
        web.get("/api/data/topics/{library}/{term}", term),
        web.get("/api/data/retention/runs", retention_runs),
        web.get("/api/data/feeds", feeds),
    ]


def _db(request: web.Request) -> Database:
    return request.app[TICKET_DB]


def _config(request: web.Request) -> Path:
    return request.app[CONFIG_DIR]


def _redactor(request: web.Request, who: Principal) -> Redactor:
    config = _config(request)
    return Redactor(
        load_policy(config / "protection.toml"), load_annotations(config / "catalog.toml"), who.role
    )


async def _in_thread(db: Database, work: Callable[[Session], T]) -> T:
    return await asyncio.to_thread(db.transaction, work)


def _path_int(request: web.Request, name: str = "id") -> int:
    return path_id(request, name)


def _xlsx(body: bytes, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _write_to_bytes(write: Callable[[Path], None]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.xlsx"
        write(path)
        return path.read_bytes()


# --- catalogue ------------------------------------------------------------------------------


@described(
    "The data resource catalogue (JSON, or ?format=xlsx)",
    roles=OFFICE_ROLES,
    query=FormatQuery,
)
async def catalog(request: web.Request) -> web.Response:
    """The data resource catalogue as JSON or (`?format=xlsx`) a workbook, either stamped
    with who exported it and when, and on record as an export."""
    who = require(request, *OFFICE, "department")
    db = _db(request)
    built = await asyncio.to_thread(
        build_catalog, db.engine, _config(request) / "catalog.toml", _config(request)
    )
    at = datetime.now(UTC)
    xlsx = query(request, FormatQuery).format_ == "xlsx"
    if xlsx:
        mark = export_watermark(who.name, at)
        body = await asyncio.to_thread(_write_to_bytes, lambda p: catalog_xlsx(built, p, mark))
    else:
        text = to_json(built, who.name, at)
    await _in_thread(
        db,
        lambda s: audit.record_access(
            s,
            who.name,
            who.role,
            "export",
            "catalog",
            purpose="catalogue xlsx" if xlsx else "catalogue json",
            remote=request.remote or "",
        ),
    )
    if not xlsx:
        return web.Response(text=text, content_type="application/json")
    return _xlsx(body, "data-catalog.xlsx")


# --- quality --------------------------------------------------------------------------------


@described("Data quality runs, newest first", roles=OFFICE_ROLES, query=LimitQuery)
async def quality_runs(request: web.Request) -> web.Response:
    require(request, *OFFICE)
    limit = query(request, LimitQuery).limit

    def work(s: Session) -> list[dict[str, Any]]:
        rows = s.scalars(select(QualityRun).order_by(QualityRun.id.desc()).limit(limit))
        return [
            {
                "id": r.id,
                "mode": r.mode,
                "actor": r.actor,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "records": r.records,
                "problems": r.problems,
                "scores": json.loads(r.scores),
            }
            for r in rows
        ]

    return web.json_response({"runs": await _in_thread(_db(request), work)})


@described(
    "Run the quality rules now (mode full or incremental)",
    roles="supervisor",
    ok=201,
    body=QualityStart,
    body_required=False,
)
async def quality_start(request: web.Request) -> web.Response:
    """Run the rules now (full or incremental) on a worker thread; answers with the result."""
    who = require(request, "supervisor")
    mode = (await body(request, QualityStart)).mode
    config = load_quality(_config(request))
    cipher = request.app.get(CIPHER)
    result = await asyncio.to_thread(
        run, _db(request), config.rules, cipher, mode, who.name, datetime.now(UTC)
    )
    return web.json_response(asdict(result), status=201)


@described(
    "A quality run's report: scores, problems, open issues",
    roles=OFFICE_ROLES,
    query=ReportQuery,
)
async def quality_run(request: web.Request) -> web.Response:
    """A run's report: scores, problems per rule, open issues (masked values), as JSON or
    `?format=xlsx`; either stamped with who exported it and when, and on record as an
    export."""
    who = require(request, *OFFICE)
    run_id = _path_int(request)
    db = _db(request)
    q = query(request, ReportQuery)
    rep = await asyncio.to_thread(quality_report.report, db, run_id, q.limit)
    at = datetime.now().astimezone()
    xlsx = q.format_ == "xlsx"
    if xlsx:
        body = await asyncio.to_thread(
            _write_to_bytes, lambda p: quality_report.write_xlsx(rep, p, who.name, at)
        )
    else:
        text = quality_report.to_json(rep, who.name, at)
    await _in_thread(
        db,
        lambda s: audit.record_access(
            s,
            who.name,
            who.role,
            "export",
            "quality_issues",
            str(run_id),
            purpose="quality report xlsx" if xlsx else "quality report json",
            remote=request.remote or "",
        ),
    )
    if not xlsx:
        return web.Response(text=text, content_type="application/json")
    return _xlsx(body, f"quality-run-{run_id}.xlsx")


@described("Correct one field of a ticket (audited, in its history)", ok=201, body=Correction)
async def correction(request: web.Request) -> web.Response:
    """Correct one field of one ticket: audited (before, after, who, why), appended to the
    ticket's history, never overwriting it."""
    who = require(request, "supervisor")
    asked = await body(request, Correction)
    ticket, field, value = str(asked.ticket_id), asked.field, asked.value
    reason = asked.reason.strip()
    if not reason:
        raise ApiError(400, "data.correction.reason", "a correction needs its reason")
    issue_id = asked.issue_id
    cipher = request.app.get(CIPHER)
    if cipher is None:
        raise ApiError(503, "data.no_key", "no data encryption key is configured")

    def work(s: Session) -> dict[str, Any]:
        made = correct(
            s,
            cipher,
            "tickets",
            ticket,
            field,
            value,
            reason,
            who.name,
            who.role,
            datetime.now(UTC),
            issue_id,
            remote=request.remote or "",
        )
        return {
            "id": made.id,
            "ticket_id": made.record_id,
            "field": made.field,
            "before": made.before,
            "after": made.after,
            "reason": made.reason,
            "actor": made.actor,
            "at": made.at,
        }

    done = await _in_thread(_db(request), work)
    return web.json_response(done, status=201)


# --- imports --------------------------------------------------------------------------------


@described("Imports of reference data, newest first", roles=OFFICE_ROLES, query=LimitQuery)
async def imports_listing(request: web.Request) -> web.Response:
    require(request, *OFFICE)
    limit = query(request, LimitQuery).limit

    def work(s: Session) -> list[dict[str, Any]]:
        rows = s.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit))
        return [
            {
                "id": r.id,
                "dataset": r.dataset,
                "file": r.file_name,
                "sha256": r.sha256,
                "actor": r.actor,
                "at": r.at,
                "dry_run": bool(r.dry_run),
                "state": r.state,
                "rows": r.rows,
                "report": json.loads(r.report),
            }
            for r in rows
        ]

    return web.json_response({"imports": await _in_thread(_db(request), work)})


@described(
    "Import a CSV or XLSX file (all or nothing)",
    roles="admin",
    ok=201,
    query=ImportQuery,
)
async def import_upload(request: web.Request) -> web.Response:
    """The body is the file (CSV or XLSX); `?name=` its file name, `?dry_run=1`, `?mode=`
    upsert or replace. A file with any error imports nothing: 422 with the report naming
    each row, column and rule."""
    who = require(request, "admin")
    data = await request.content.read(MAX_IMPORT + 1)
    if len(data) > MAX_IMPORT:
        raise ApiError(413, "data.import.too_large", f"files up to {MAX_IMPORT} bytes")
    q = query(request, ImportQuery)
    name, dry_run, mode = q.name, q.dry_run in ("1", "true", "yes"), q.mode
    try:
        rep = await asyncio.to_thread(
            import_file,
            _db(request),
            request.match_info["dataset"],
            name,
            data,
            who.name,
            dry_run,
            mode,
        )
    except ImportRequestError as exc:
        raise ApiError(400, "data.import.request", str(exc)) from exc
    if rep.state == "rejected":
        return web.json_response(
            {
                "error_id": "data.import.rejected",
                "message": f"{rep.error_count} problems: nothing imported",
                "report": rep.to_dict(),
            },
            status=422,
        )
    return web.json_response(rep.to_dict(), status=200 if dry_run else 201)


# --- fusion ---------------------------------------------------------------------------------


@described(
    "Fused citizen and enterprise profiles by a key",
    roles=OFFICE_ROLES,
    query=ProfilesQuery,
)
async def profiles(request: web.Request) -> web.Response:
    """Profiles by phone, ID number (matched through its blind index, never stored in
    clear), enterprise code or exact name; masked for the caller's role."""
    who = require(request, *OFFICE)
    q = query(request, ProfilesQuery)
    id_hash = ""
    cipher = request.app.get(CIPHER)
    if (q.phone or q.id_card) and cipher is None:
        raise ApiError(503, "data.no_key", "no data encryption key is configured")
    phone_index = cipher.phone_index(q.phone) if cipher is not None and q.phone else ""
    if q.id_card:
        if cipher is None:
            raise ApiError(503, "data.no_key", "no data encryption key is configured")
        id_hash = cipher.blind_index(q.id_card)
    if not any((q.phone, id_hash, q.enterprise_code, q.name)):
        raise ApiError(400, "data.profiles.key", "give phone, id_card, enterprise_code or name")
    redact = _redactor(request, who)

    def work(s: Session) -> list[dict[str, object]]:
        found = browse.find_profiles(
            s,
            q.phone or None,
            id_hash or None,
            q.enterprise_code or None,
            q.name or None,
            phone_index=phone_index or None,
            cipher=cipher,
        )
        shown = redact.fields_read("profiles", ["name", "phone", "enterprise_code"])
        if found and shown:
            audit.record_access(
                s,
                who.name,
                who.role,
                "read",
                "profiles",
                ",".join(str(p["id"]) for p in found)[:64],
                shown,
                purpose="profile search",
                remote=request.remote or "",
            )
        return [redact.row("profiles", p) for p in found]

    return web.json_response({"profiles": await _in_thread(_db(request), work)})


@described(
    "A profile and its records, masked by role",
    roles=OFFICE_ROLES,
    query=PageQuery,
)
async def profile(request: web.Request) -> web.Response:
    """One profile and a page of its tickets, calls, callbacks and surveys, newest first."""
    who = require(request, *OFFICE)
    profile_id = _path_int(request)
    page_query = query(request, PageQuery)
    limit, offset = page_query.limit, page_query.offset
    redact = _redactor(request, who)
    cipher = request.app.get(CIPHER)

    def work(s: Session) -> dict[str, object] | None:
        found = browse.profile_history(s, profile_id, limit, offset, cipher)
        if found is None:
            return None
        records: list[dict[str, Any]] = found["records"]  # type: ignore[assignment]
        for item in records:
            fields: dict[str, object] = item["fields"]
            item["fields"] = redact.row(str(item["table"]), fields) if fields else {}
        found["profile"] = redact.row("profiles", found["profile"])  # type: ignore[arg-type]
        read = sorted(
            {
                f"{item['table']}.{c}"
                for item in records
                for c in redact.fields_read(str(item["table"]), list(item["fields"]))
            }
        )
        audit.record_access(
            s,
            who.name,
            who.role,
            "read",
            "profiles",
            str(profile_id),
            read,
            purpose="profile history",
            remote=request.remote or "",
        )
        return found

    found = await _in_thread(_db(request), work)
    if found is None:
        raise ApiError(404, "data.profile.not_found", f"no profile {profile_id}")
    return web.json_response(found)


@described("A topic library's terms (function, domain, category)")
async def library(request: web.Request) -> web.Response:
    require(request, *OFFICE, "department")
    name = request.match_info["library"]
    try:
        terms = await _in_thread(_db(request), lambda s: topics.library_terms(s, name))
    except ValueError as exc:
        raise ApiError(404, "data.topics.library", str(exc)) from exc
    return web.json_response({"library": name, "terms": terms})


@described("The tickets filed under one term", query=PageQuery)
async def term(request: web.Request) -> web.Response:
    who = require(request, *OFFICE, "department")
    name, word = request.match_info["library"], request.match_info["term"]
    page_query = query(request, PageQuery)
    limit, offset = page_query.limit, page_query.offset
    redact = _redactor(request, who)

    def work(s: Session) -> dict[str, object]:
        own = (who.department or "") if who.role == "department" else None
        page = topics.term_tickets(s, name, word, limit, offset, own)
        rows: list[dict[str, object]] = page["tickets"]  # type: ignore[assignment]
        page["tickets"] = [redact.row("tickets", t) for t in rows]
        # titles are personal text: shown in clear, the read is on record (as analytics does)
        shown = [str(t["id"]) for t in rows if t.get("title")]
        if shown and redact.action("tickets", "title") is Action.CLEAR:
            audit.record_access(
                s, who.name, who.role, "read", "tickets", "", ["title"],
                f"topic {name}/{word}: tickets {' '.join(shown)}", request.remote or "",
            )  # fmt: skip
        return page

    try:
        page = await _in_thread(_db(request), work)
    except ValueError as exc:
        raise ApiError(404, "data.topics.library", str(exc)) from exc
    return web.json_response(page)


# --- retention and feeds --------------------------------------------------------------------


@described("Retention runs and what they did", roles=OFFICE_ROLES, query=LimitQuery)
async def retention_runs(request: web.Request) -> web.Response:
    require(request, *OFFICE)
    limit = query(request, LimitQuery).limit

    def work(s: Session) -> list[dict[str, Any]]:
        rows = s.scalars(select(RetentionRun).order_by(RetentionRun.id.desc()).limit(limit))
        return [
            {
                "id": r.id,
                "at": r.at,
                "actor": r.actor,
                "dry_run": bool(r.dry_run),
                "report": json.loads(r.report),
            }
            for r in rows
        ]

    return web.json_response({"runs": await _in_thread(_db(request), work)})


@described("Export feeds: acknowledged position", roles=OFFICE_ROLES)
async def feeds(request: web.Request) -> web.Response:
    """Where each export feed is: last acknowledged source row, events delivered."""
    require(request, *OFFICE)

    def work(s: Session) -> list[dict[str, Any]]:
        return [
            {
                "feed": c.feed,
                "position": c.position,
                "delivered": c.delivered,
                "updated_at": c.updated_at,
            }
            for c in s.scalars(select(ExportCursor).order_by(ExportCursor.feed))
        ]

    return web.json_response({"feeds": await _in_thread(_db(request), work)})


__all__ = ["CONFIG_DIR", "routes"]
