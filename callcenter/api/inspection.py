"""智能质检 over HTTP: scores of calls (agents see only their own), one score with its findings
and their transcript evidence (masked by the caller's role with the Redactor, reads on record
in the data access log in the same transaction), reviews, disputes, overrides and
resolutions (append-only), and a per-agent summary. Database work runs in a worker thread
(asyncio.to_thread); scoring itself runs in the inspection worker, not here.

Times (`from`, `to`) are epoch seconds or ISO 8601 dates or datetimes (China time when no
offset is given), and filter by the call time (when its recording was indexed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field
from sqlalchemy.orm import Session

from callcenter.api.auth import Principal, require
from callcenter.api.described import Body, body, described
from callcenter.api.errors import ApiError
from callcenter.api.keys import CONFIG_DIR, TICKET_DB
from callcenter.api.params import Int, OneOf, Parsed, Query, path_id, query
from callcenter.data import audit
from callcenter.data.catalog import load_annotations
from callcenter.data.protection import Redactor, load_policy
from callcenter.inspection import store
from callcenter.inspection.config import InspectionRules, load_inspection
from callcenter.inspection.score import ACTIONS, STATES
from callcenter.storage.database import Database
from callcenter.tomlreader import ConfigError

T = TypeVar("T")
VIEWERS = ("agent", "supervisor", "auditor")  # and admin; an agent sees only their own calls
SUMMARY = ("supervisor", "auditor")  # and admin
CHINA = ZoneInfo("Asia/Shanghai")
Handler = Callable[[web.Request], Awaitable[web.Response]]


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/inspection", listing),
        web.get("/api/inspection/agents", agents),
        web.get(r"/api/inspection/{id:\d+}", detail),
        *(web.post(rf"/api/inspection/{{id:\d+}}/{action}", STEPS[action]) for action in ACTIONS),
    ]


def _step(summary: str, roles: str) -> Handler:
    """The handler of one review step: `review`, described with the step's own summary."""

    async def step(request: web.Request) -> web.Response:
        return await review(request)

    return described(summary, roles=roles, body=Review, body_required=False)(step)


def _db(request: web.Request) -> Database:
    return request.app[TICKET_DB]


def _redactor(request: web.Request, who: Principal) -> Redactor:
    config = request.app[CONFIG_DIR]
    return Redactor(
        load_policy(config / "protection.toml"), load_annotations(config / "catalog.toml"), who.role
    )


def _rules(request: web.Request) -> InspectionRules | None:
    try:
        return load_inspection(request.app[CONFIG_DIR])
    except ConfigError:
        return None  # severities are left out; the scores stand


async def _in_thread(db: Database, work: Callable[[Session], T]) -> T:
    return await asyncio.to_thread(db.transaction, work)


def _moment(raw: str, end: bool = False) -> float:
    """Epoch seconds, or an ISO date (the whole day: `to` is exclusive of the next day) or
    datetime; China time when no offset is given. ValueError saying what it must be."""
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        if len(raw) == 10:
            day = datetime.fromisoformat(raw).replace(tzinfo=CHINA)
            return (day + timedelta(days=1) if end else day).timestamp()
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be epoch seconds or an ISO date/datetime") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=CHINA)).timestamp()


def parse_time(name: str, raw: str, end: bool = False) -> float:
    """`raw` as `_moment` reads it; a 400 naming `name` otherwise."""
    try:
        return _moment(raw, end)
    except ValueError as exc:
        raise ApiError(400, "api.bad_parameter", f"{name} {exc}") from None


def _day_end(raw: str) -> float:
    return _moment(raw, end=True)


TIME = (("type", "string"), ("description", "epoch seconds or an ISO date/datetime"))


class ScoreFilters(Query):
    """Which scores: `to` is exclusive (a date: up to the end of that day)."""

    agent: str = ""
    state: Annotated[str, OneOf(STATES)] = ""
    from_: Annotated[float | None, Parsed(_moment, TIME)] = Field(None, alias="from")
    to: Annotated[float | None, Parsed(_day_end, TIME)] = None
    limit: Annotated[int, Int(1, 500)] = 50
    offset: Annotated[int, Int(0, 10**9)] = 0


def _query(request: web.Request, who: Principal) -> store.ScoreQuery:
    q = query(request, ScoreFilters)
    agent = q.agent or None
    if who.role == "agent":
        if agent not in (None, who.name):
            raise ApiError(403, "api.forbidden", "an agent sees only their own calls")
        agent = who.name
    since, until = q.from_, q.to
    if since is not None and until is not None and until <= since:
        raise ApiError(400, "api.bad_parameter", "to must be later than from")
    return store.ScoreQuery(
        agent=agent, since=since, until=until, state=q.state or None, limit=q.limit, offset=q.offset
    )


@described(
    "Inspection scores, newest call first",
    roles="agent (own calls), supervisor, auditor",
    query=ScoreFilters,
)
async def listing(request: web.Request) -> web.Response:
    """Scores, newest call first: ?agent=&from=&to=&state=&limit=&offset=."""
    who = require(request, *VIEWERS)
    query = _query(request, who)
    page = await _in_thread(_db(request), lambda s: store.list_scores(s, query))
    return web.json_response(page)


@described("Per-agent inspection summary", roles="supervisor, auditor, admin", query=ScoreFilters)
async def agents(request: web.Request) -> web.Response:
    """Per agent: calls scored, average and lowest final score, open disputes, failed rules."""
    who = require(request, *SUMMARY)
    query = _query(request, who)
    found = await _in_thread(_db(request), lambda s: store.agent_summary(s, query))
    return web.json_response({"agents": found})


def _shown(
    s: Session, request: web.Request, who: Principal, score_id: int
) -> dict[str, object] | None:
    """The score as this caller may see it (None: no such score or not theirs); evidence
    masked for the role; a read of evidence goes on record in this transaction."""
    found = store.score_detail(s, score_id)
    if found is None or (who.role == "agent" and found["agent_id"] != who.name):
        return None
    redact = _redactor(request, who)
    rules = _rules(request)
    findings: list[dict[str, Any]] = found["findings"]  # type: ignore[assignment]
    for finding in findings:
        finding["evidence"] = redact.value("inspection_findings", "evidence", finding["evidence"])
        severity = rules.severity_of(str(finding["rule"])) if rules is not None else None
        if severity is not None:
            finding["severity"] = severity.value
    shown = redact.fields_read("inspection_findings", ["evidence"])
    if shown and any(f["evidence"] for f in findings):
        audit.record_access(
            s,
            who.name,
            who.role,
            "read",
            "inspection_findings",
            str(score_id),
            shown,
            purpose="quality inspection",
            remote=request.remote or "",
        )
    return found


def _score_id(request: web.Request) -> int:
    return path_id(request)


@described(
    "One score with findings (evidence masked by role, reads on record) and reviews",
    roles="agent (own calls), supervisor, auditor",
)
async def detail(request: web.Request) -> web.Response:
    """One score with its findings (evidence masked by role) and its reviews."""
    who = require(request, *VIEWERS)
    score_id = _score_id(request)
    found = await _in_thread(_db(request), lambda s: _shown(s, request, who, score_id))
    if found is None:
        raise ApiError(404, "inspection.not_found", f"no inspection score {score_id}")
    return web.json_response(found)


class Review(Body):
    error_id: ClassVar[str] = "api.bad_parameter"
    score: float | None = Field(None, allow_inf_nan=False, description="a new final score")
    note: str = Field("", max_length=2000)


async def review(request: web.Request) -> web.Response:
    """review / dispute / resolve / override a score: {"score"?: number, "note"?: string}.
    Who may take which step from which state: callcenter.inspection.score."""
    who = require(request, "agent", "supervisor")
    score_id = _score_id(request)
    action = request.path.rsplit("/", 1)[1]
    asked = await body(request, Review)
    new_score, note = asked.score, asked.note

    def work(s: Session) -> dict[str, object] | None:
        current = store.score_detail(s, score_id)
        if current is None or (who.role == "agent" and current["agent_id"] != who.name):
            return None
        store.add_review(s, score_id, action, who.name, who.role, new_score, note, time.time())
        return _shown(s, request, who, score_id)

    found = await _in_thread(_db(request), work)
    if found is None:
        raise ApiError(404, "inspection.not_found", f"no inspection score {score_id}")
    return web.json_response(found)


__all__ = ["parse_time", "routes"]


STEPS: dict[str, Handler] = {
    "review": _step("Review a score (optionally with a new final score)", "supervisor, admin"),
    "dispute": _step("Dispute a score of one's own call (note required)", "agent"),
    "resolve": _step("Resolve a dispute (optionally with a new final score)", "supervisor, admin"),
    "override": _step("Override the final score (score and note required)", "supervisor, admin"),
}
