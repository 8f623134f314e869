"""The knowledge base over HTTP (GB/T 44192 7.1.1 c, 7.1.2 c).

Agents (and auditors) read and search what is in force and get suggestions for a live call:
an entry's published version, even while a newer draft of it is under review; the knowledge
administrators (supervisor, admin) also see drafts and every version, create, edit, submit,
approve (not their own version), reject, retire, and read the gap report.
Database work runs in a worker thread (asyncio.to_thread), the gap report's year-long scan
included. Entries hold no citizens' data; a suggestion answers with entries and the matched
words only, never the transcript.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ClassVar, TypeVar

from aiohttp import web
from pydantic import BeforeValidator, Field
from sqlalchemy.orm import Session

from callcenter.api.auth import Principal, require
from callcenter.api.described import Body, body, described
from callcenter.api.errors import ApiError
from callcenter.api.keys import TICKET_DB
from callcenter.api.live_key import LIVE
from callcenter.api.params import Int, Number, Query, path_id, query
from callcenter.knowledge_base import store
from callcenter.knowledge_base.gaps import THRESHOLD, gaps
from callcenter.knowledge_base.model import (
    EDITORS,
    READERS,
    Action,
    EntryNotFound,
    in_force,
)
from callcenter.knowledge_base.search import search
from callcenter.knowledge_base.store import Draft, Filters
from callcenter.knowledge_base.suggest import caller_text, suggest
from callcenter.storage.database import Database
from callcenter.storage.schema import KnowledgeEntry, KnowledgeVersion

T = TypeVar("T")
LIVE_READERS = ("agent", "supervisor")  # as /api/calls/{call_id}/live-transcript
GAP_READERS = (*EDITORS, "auditor")
R = "agent, supervisor, auditor, admin"  # the roles, as the OpenAPI document says them
E = "supervisor, admin"
MAX_TEXT = 20_000
STEPS = {
    "submit": Action.SUBMIT,
    "approve": Action.APPROVE,
    "reject": Action.REJECT,
    "retire": Action.RETIRE,
}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/knowledge", listing),
        web.post("/api/knowledge", create),
        web.get("/api/knowledge/search", search_entries),
        web.get("/api/knowledge/suggest", suggest_for_call),
        web.post("/api/knowledge/suggest", suggest_for_text),
        web.get("/api/knowledge/gaps", gap_report),
        web.get(r"/api/knowledge/{id:\d+}", entry),
        web.put(r"/api/knowledge/{id:\d+}", edit),
        *(web.post(f"/api/knowledge/{{id:\\d+}}/{name}", STEP_HANDLERS[name]) for name in STEPS),
    ]


async def _run(db: Database, work: Callable[[Session], T]) -> T:
    """`work` in one transaction on a worker thread (a broken rule, a KnowledgeError, is
    answered by the errors middleware)."""
    return await asyncio.to_thread(db.transaction, work)


def _db(request: web.Request) -> Database:
    return request.app[TICKET_DB]


def _epoch(value: object) -> object:
    """An epoch-seconds field: a number or a numeric string; '' is none."""
    if isinstance(value, bool):
        raise ValueError("must be a number (epoch seconds)")
    return None if value == "" else value


Epoch = Annotated[float | None, BeforeValidator(_epoch)]


class EntryFields(Body):
    """An entry's content. On an edit, a field left out keeps its current value; `version`
    is the version the editor started from (a later one in between answers 409)."""

    field_error_ids: ClassVar[dict[str, str]] = {
        "effective_from": "api.bad_parameter",
        "expires_at": "api.bad_parameter",
    }
    kind: str = Field("", description="an entry kind (policy, procedure, script, ...)")
    title: str = ""
    body: str = ""
    department: str = ""
    effective_from: Epoch = Field(None, strict=False, allow_inf_nan=False)
    expires_at: Epoch = Field(None, strict=False, allow_inf_nan=False)
    note: str = ""
    version: int | None = None


class Step(Body):
    note: str = Field("", description="required to reject")
    version: int | None = None


class SuggestText(Body):
    text: str = Field("", description=f"what the caller said, at most {MAX_TEXT} characters")
    limit: int = Field(5, ge=1, le=20)


def _summary(row: KnowledgeEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "department": row.department,
        "status": row.status,
        "version": row.version,
        "published_version": row.published_version,
        "effective_from": row.effective_from,
        "expires_at": row.expires_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _published_summary(row: KnowledgeEntry, v: KnowledgeVersion) -> dict[str, Any]:
    """The entry as readers who are not editors see it: its published version."""
    return {**_summary(row), "title": v.title, "status": "published", "version": v.version}


def _version(v: KnowledgeVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "title": v.title,
        "body": v.body,
        "author": v.author,
        "at": v.at,
        "reviewer": v.reviewer,
        "reviewed_at": v.reviewed_at,
        "note": v.note,
    }


def _editor(who: Principal) -> bool:
    return who.can(*EDITORS)


# --- reading --------------------------------------------------------------------------------


class ListingQuery(Query):
    status: str = Field("", description="editors only")
    kind: str = ""
    department: str = ""
    page: Annotated[int, Int(1, 10_000)] = 1
    per_page: Annotated[int, Int(1, 200)] = 20


class SearchQuery(Query):
    insists = ("q",)
    q: str = Field("", description="the words to find")
    limit: Annotated[int, Int(1, 50)] = 10


class CallQuery(Query):
    insists = ("call_id",)
    call_id: str = Field("", description="the live call")
    limit: Annotated[int, Int(1, 20)] = 5


class GapQuery(Query):
    until: Annotated[float | None, Number()] = Field(None, description="epoch seconds; default now")
    since: Annotated[float | None, Number()] = Field(
        None, description="epoch seconds; default 30 days before until"
    )
    min_count: Annotated[int, Int(1, 1_000_000)] = 10
    threshold: Annotated[float | None, Number()] = Field(None, description="0..1")


@described(
    "Knowledge entries (non-editors: their published versions)",
    roles=R,
    query=ListingQuery,
)
async def listing(request: web.Request) -> web.Response:
    """Entries, most recently changed first; readers who are not editors see the published
    version of each entry that has one."""
    who = require(request, *READERS)
    q = query(request, ListingQuery)
    editor = _editor(who)
    f = Filters(
        status=q.status if editor else "",
        kind=q.kind,
        department=q.department,
        published=not editor,
    )
    page, per_page = q.page, q.per_page

    def work(s: Session) -> dict[str, Any]:
        total, rows = store.listing(s, f, page, per_page)
        if editor:
            entries = [_summary(r) for r in rows]
        else:
            shown = store.published_versions(s, rows)
            entries = [_published_summary(r, shown[r.id]) for r in rows]
        return {"total": total, "page": page, "entries": entries}

    return web.json_response(await _run(_db(request), work))


@described("An entry: its published version (editors: the latest and all versions)", roles=R)
async def entry(request: web.Request) -> web.Response:
    """One entry: editors get its latest version as `current` and every version; other
    readers get the published version (404 when it is not in force)."""
    who = require(request, *READERS)
    entry_id = path_id(request)
    now = time.time()

    def work(s: Session) -> dict[str, Any]:
        row = store.get(s, entry_id)
        if _editor(who):
            out = _summary(row)
            out["current"] = _version(store.version(s, entry_id, row.version))
            out["versions"] = [_version(v) for v in store.versions(s, entry_id)]
            return out
        shown = store.published(s, row)
        if shown is None or not in_force(
            row.published_version, row.effective_from, row.expires_at, now
        ):
            raise EntryNotFound(f"knowledge entry {entry_id} is not in force")
        return {**_published_summary(row, shown), "current": _version(shown)}

    return web.json_response(await _run(_db(request), work))


@described(
    "Full-text search of the entries in force, with snippets",
    roles=R,
    query=SearchQuery,
)
async def search_entries(request: web.Request) -> web.Response:
    """Full-text search of the entries in force: `q`, `limit`."""
    require(request, *READERS)
    asked = query(request, SearchQuery)
    text, limit = asked.q.strip(), asked.limit
    if not text:
        raise ApiError(400, "knowledge.missing_query", "q is required")
    now = time.time()
    hits = await _run(_db(request), lambda s: search(s, text, now, limit))
    return web.json_response({"q": text, "hits": [h.to_json() for h in hits]})


async def _suggestions(request: web.Request, text: str, limit: int) -> dict[str, Any]:
    now = time.time()
    hits = await _run(_db(request), lambda s: suggest(s, text, now, limit))
    return {"hits": [h.to_json() for h in hits]}


@described(
    "Suggestions for what the caller said so far on a live call",
    roles="agent, supervisor",
    query=CallQuery,
)
async def suggest_for_call(request: web.Request) -> web.Response:
    """Suggestions for what the caller has said so far on a live call (`call_id`)."""
    require(request, *LIVE_READERS)
    asked = query(request, CallQuery)
    call_id, limit = asked.call_id, asked.limit
    if not call_id:
        raise ApiError(400, "knowledge.missing_call", "call_id is required")
    live = request.app.get(LIVE)
    if live is None:
        raise ApiError(404, "live.disabled", "live transcription is not configured ([asr])")
    view = live.view(call_id)
    if view is None:
        raise ApiError(404, "live.unknown_call", "no live transcript for this call")
    out = await _suggestions(request, caller_text(view), limit)
    return web.json_response({"call_id": call_id, **out})


@described("Suggestions for a text", roles=R, body=SuggestText)
async def suggest_for_text(request: web.Request) -> web.Response:
    """Suggestions for a text: `{"text": "...", "limit": 5}`."""
    require(request, *READERS)
    asked = await body(request, SuggestText)
    text, limit = asked.text, asked.limit
    if not text.strip():
        raise ApiError(400, "knowledge.missing_text", "'text' is required")
    if len(text) > MAX_TEXT:
        raise ApiError(400, "knowledge.text_too_long", f"'text' is over {MAX_TEXT} characters")
    return web.json_response(await _suggestions(request, text, limit))


DAY = 86_400.0


@described(
    "Frequent requests with no matching entry",
    roles="supervisor, auditor, admin",
    query=GapQuery,
)
async def gap_report(request: web.Request) -> web.Response:
    """Frequent requests without a matching entry: `since`, `until` (epoch seconds; default
    the last 30 days), `min_count`, `threshold` (0..1)."""
    require(request, *GAP_READERS)
    now = time.time()
    q = query(request, GapQuery)
    until = (now if q.until is None else q.until) or now
    since = (until - 30 * DAY if q.since is None else q.since) or 0.0
    if since >= until:
        raise ApiError(400, "api.bad_parameter", "since must be before until")
    min_count = q.min_count
    threshold = (THRESHOLD if q.threshold is None else q.threshold) or 0.0
    if not 0.0 <= threshold <= 1.0:
        raise ApiError(400, "api.bad_parameter", "threshold must be between 0 and 1")
    found = await _run(
        _db(request), lambda s: gaps(s, since, until, min_count, threshold, min(until, now))
    )
    return web.json_response(
        {
            "since": since,
            "until": until,
            "min_count": min_count,
            "threshold": threshold,
            "gaps": [g.to_json() for g in found],
        }
    )


# --- writing --------------------------------------------------------------------------------


def _draft(asked: EntryFields, base: KnowledgeEntry | None, current_body: str) -> Draft:
    given = asked.model_fields_set

    def keep(name: str, old: Any) -> Any:
        return getattr(asked, name) if name in given else old

    return Draft(
        keep("kind", base.kind if base else ""),
        keep("title", base.title if base else ""),
        keep("body", current_body),
        keep("department", base.department if base else ""),
        keep("effective_from", base.effective_from if base else None),
        keep("expires_at", base.expires_at if base else None),
    )


@described("Create an entry (a draft, version 1)", roles=E, ok=201, body=EntryFields)
async def create(request: web.Request) -> web.Response:
    """A new entry (a draft, version 1): kind, title, body, department, effective_from,
    expires_at."""
    who = require(request, *EDITORS)
    draft = _draft(await body(request, EntryFields), None, "")
    now = time.time()
    row = await _run(_db(request), lambda s: _summary(store.create(s, draft, who.name, now)))
    return web.json_response(row, status=201)


@described("Edit: a new version, the old kept", roles=E, body=EntryFields)
async def edit(request: web.Request) -> web.Response:
    """A new version; fields left out keep their current value. `version` (optional) is the
    version the editor started from: a later one in between answers 409."""
    who = require(request, *EDITORS)
    entry_id = path_id(request)
    asked = await body(request, EntryFields)
    expected, note = asked.version, asked.note
    now = time.time()

    def work(s: Session) -> dict[str, Any]:
        row = store.get(s, entry_id)
        draft = _draft(asked, row, store.version(s, entry_id, row.version).body)
        return _summary(store.edit(s, entry_id, draft, who.name, now, note, expected))

    return web.json_response(await _run(_db(request), work))


async def step(request: web.Request) -> web.Response:
    """Submit for review, approve, reject (a note is required) or retire: `note`, `version`."""
    who = require(request, *EDITORS)
    entry_id = path_id(request)
    action = STEPS[request.path.rstrip("/").rsplit("/", 1)[-1]]
    asked = await body(request, Step)
    expected, note = asked.version, asked.note
    now = time.time()
    row = await _run(
        _db(request),
        lambda s: _summary(store.step(s, entry_id, action, who.name, now, note, expected)),
    )
    return web.json_response(row)


def _step(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of one workflow step: `step`, described with the step's own summary."""

    async def one_step(request: web.Request) -> web.Response:
        return await step(request)

    summary = f"{name.capitalize()} the entry's current version"
    return described(summary, roles=E, body=Step)(one_step)


STEP_HANDLERS = {name: _step(name) for name in STEPS}
