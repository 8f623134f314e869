"""The engine's REST API: queue and agents, agent status actions, caller priority."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from acd import events as ev
from callcenter.api import (
    alerts,
    analytics,
    console,
    data,
    data_audit,
    decisions,
    inspection,
    knowledge_base,
    openapi,
    recordings,
    reports,
    staffing,
)
from callcenter.api.auth import OPEN_LOOPBACK, ROLES, auth_middleware, principal, require
from callcenter.api.console import LiveFeed
from callcenter.api.described import Body, body, described
from callcenter.api.errors import ApiError, errors_middleware
from callcenter.api.keys import ATTACHMENTS, CIPHER, CONFIG_DIR, OUTBOUND, SETTINGS, TICKET_DB
from callcenter.api.live_key import LIVE
from callcenter.api.params import OneOf, Query, query
from callcenter.data.crypto import FieldCipher, Undecryptable
from callcenter.live import LiveTranscription
from callcenter.live_figures.metrics import Metrics
from callcenter.live_figures.model import LiveFigures
from callcenter.masking import mask_phone
from callcenter.runtime import Runtime
from callcenter.storage.database import Database
from callcenter.storage.schema import CallbackAttemptRecord, CallbackRecord
from callcenter.tickets import http as tickets
from callcenter.tickets import sms
from callcenter.tickets.settings import TicketSettings

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
STATS: web.AppKey[LiveFigures] = web.AppKey("stats", LiveFigures)
CALLBACK_DB: web.AppKey[Database] = web.AppKey("callback_db", Database)
HEALTH_DB: web.AppKey[Database] = web.AppKey("health_db", Database)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
# The data office and the data applications (GB/T 44192 5-8): each module its own routes.
APPLICATIONS = (data, reports, alerts, inspection, knowledge_base, staffing, analytics)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(
    runtime: Runtime,
    stats: LiveFigures,
    database: Database | None = None,
    recordings_root: Path | None = None,
    ticket_settings: TicketSettings | None = None,
    attachments: Path | None = None,
    live: LiveTranscription | None = None,
    metrics: Metrics | None = None,
    feed: LiveFeed | None = None,
    cipher: FieldCipher | None = None,
    open_loopback: bool = False,
) -> web.Application:
    """The API; `open_loopback` lets loopback clients in as the local admin while no token is
    configured (the demo and the sandbox only: `serve --open-loopback`)."""
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[OPEN_LOOPBACK] = open_loopback
    app[RUNTIME] = runtime
    app[STATS] = stats
    if live is not None:
        app[LIVE] = live
    with_recordings = database is not None and recordings_root is not None
    with_tickets = database is not None and ticket_settings is not None and attachments is not None
    if database is not None and recordings_root is not None:
        app[recordings.DATABASE] = database
        app[recordings.RECORDINGS_ROOT] = recordings_root
    if cipher is not None:  # citizens' numbers are stored encrypted (tickets, console, data)
        app[CIPHER] = cipher
    if database is not None and ticket_settings is not None and attachments is not None:
        app[TICKET_DB] = database
        app[SETTINGS] = ticket_settings
        app[ATTACHMENTS] = attachments
        app[OUTBOUND] = runtime.config.outbound
        app[CALLBACK_DB] = database
        app[CONFIG_DIR] = runtime.config.source_dir
    if metrics is not None:
        app[METRICS] = metrics
    if database is not None:
        app[HEALTH_DB] = database
        app[console.AUDIT_DB] = database
    if feed is not None:
        app[console.FEED] = feed
    if runtime.decisions is not None:
        app[decisions.DECISIONS] = runtime.decisions
    app.add_routes(
        routes(
            with_recordings=with_recordings,
            with_tickets=with_tickets,
            with_metrics=metrics is not None,
            with_console=feed is not None,
        )
    )
    return app


def reference_app() -> web.Application:
    """An application with every route `build_app` can add and none of its state: what the
    OpenAPI document (and docs/api.md, built from it) describes, without a running server."""
    app = web.Application()
    app.add_routes(
        routes(with_recordings=True, with_tickets=True, with_metrics=True, with_console=True)
    )
    return app


def routes(
    *, with_recordings: bool, with_tickets: bool, with_metrics: bool, with_console: bool
) -> list[web.AbstractRouteDef]:
    """The API's routes, in the order they are matched; each optional part's when it is on."""
    found: list[web.AbstractRouteDef] = []
    if with_recordings:
        found += recordings.routes()
    if with_tickets:
        found.append(web.get("/api/callbacks", callbacks_listing))
        found += tickets.routes()
        found += data_audit.routes()
        for module in APPLICATIONS:
            found += module.routes()
        found += sms.routes()
    if with_metrics:
        found.append(web.get("/metrics", prometheus))
    if with_console:
        found += console.routes()
    found += decisions.routes()
    found += [
        web.get("/health", health),
        web.get("/health/live", alive),
        web.get("/health/ready", ready),
        web.get("/api/openapi.json", openapi.handler),
        web.get("/api/center", center),
        web.get("/api/queue", queue),
        web.get("/api/agents", agents),
        web.get("/api/stats", summary),
        web.post("/api/agents/{agent_id}/{action}", agent_action),
        web.post("/api/calls/{call_id}/priority", caller_priority),
        web.get("/api/calls/{call_id}/live-transcript", live_transcript),
        web.post("/api/calls/{call_id}/emergency", emergency),
        web.post("/api/calls/{call_id}/transfer", transfer),
    ]
    return found


@described("PBX links up", public=True)
async def health(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    up = dict(runtime.link_up)
    return web.json_response(
        {"ok": all(up.values()), "pbx": up}, status=200 if all(up.values()) else 503
    )


@described("Liveness: the process answers", public=True)
async def alive(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"ok": True})


@described(
    "Readiness: engine, every PBX link, the database; `reasons` says why a PBX link is down "
    "(e.g. AMI authentication failed)",
    public=True,
)
async def ready(request: web.Request) -> web.Response:
    """Readiness: the engine runs, every PBX link is up and the database answers."""
    runtime = request.app[RUNTIME]
    checks: dict[str, bool] = {"engine": runtime.started.is_set()}
    checks.update({f"pbx:{node}": up for node, up in runtime.link_up.items()})
    database = request.app.get(HEALTH_DB)
    if database is not None:
        try:
            await asyncio.wait_for(asyncio.to_thread(database.ping), 2.0)
            checks["database"] = True
        except Exception:  # noqa: BLE001 - any failure means not ready
            checks["database"] = False
    ok = all(checks.values())
    body: dict[str, Any] = {"ok": ok, "role": runtime.role, "checks": checks}
    reasons = {
        f"pbx:{node}": runtime.link_down_reason.get(node) or "no AMI link yet"
        for node, up in runtime.link_up.items()
        if not up
    }
    if reasons:
        body["reasons"] = reasons
    return web.json_response(body, status=200 if ok else 503)


@described("Prometheus exposition (aggregates, no numbers)", public=True)
async def prometheus(request: web.Request) -> web.Response:
    """Prometheus exposition (aggregates only: no phone numbers, open like /health)."""
    body = request.app[METRICS].exposition(request.app[RUNTIME])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@described("The center's name and time zone", roles="any")
async def center(request: web.Request) -> web.Response:
    """The center's name and time zone: the consoles show every time in that zone; the
    skills by name (the workspace's transfer choices)."""
    require(request, *ROLES)
    runtime = request.app[RUNTIME]
    config = runtime.config.center
    skills = [{"id": s.id, "name": s.name} for s in runtime.config.skills]
    return web.json_response(
        {
            "name": config.name,
            "timezone": config.timezone,
            "default_did": config.default_did,
            "skills": skills,
        }
    )


@described("Waiting callers in queue order (numbers masked)")
async def queue(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    now = time.time()
    rows: list[dict[str, Any]] = []
    for view in runtime.acd.queued():
        meta = runtime.calls.get(view.call_id)
        rows.append(
            {
                "call_id": view.call_id,
                "position": view.position,
                "state": view.state,
                "skill": view.skill,
                "skills": list(view.skills),
                "priority": view.priority,
                "waiting_seconds": round(now - view.arrived_at, 1),
                "did": meta.did if meta else "",
                "hotline": meta.hotline if meta else "",
                "caller": mask_phone(meta.caller_number) if meta else "",
                "agents": list(view.agent_ids),
                "callback": view.callback,
            }
        )
    return web.json_response({"callers": rows})


def masked_number(cipher: FieldCipher | None, stored: str) -> str:
    """A stored (encrypted) phone number masked for display; '' when there is no key to
    decrypt it or no key configured can (shown masked: no access log row, as for ID
    numbers)."""
    if cipher is None or not stored:
        return ""
    try:
        return mask_phone(cipher.decrypt(stored))
    except Undecryptable:
        return ""


class CallbacksQuery(Query):
    error_id = "api.invalid"
    state: str = Field(
        "", description="waiting, scheduled, dialing, completed, unreached, merged or returned"
    )
    kind: Annotated[str, OneOf(("queued", "missed"))] = ""


@described(
    "Queued callbacks (keep your place) and missed-call callbacks (漏接回拨) with every "
    "attempt; ?state= and ?kind=queued|missed filter",
    roles="agent, supervisor",
    query=CallbacksQuery,
)
async def callbacks_listing(request: web.Request) -> web.Response:
    """Queued and missed-call callbacks with every attempt; `state` filters (waiting,
    scheduled, dialing, completed, unreached, merged, returned), `kind` (queued, missed)."""
    require(request, "agent", "supervisor")
    q = query(request, CallbacksQuery)
    state, kind = q.state, q.kind
    database = request.app[CALLBACK_DB]
    cipher = request.app.get(CIPHER)

    def work(s: Session) -> list[dict[str, Any]]:
        query = select(CallbackRecord).order_by(CallbackRecord.arrived_at).limit(500)
        if state:
            query = query.where(CallbackRecord.state == state)
        if kind:
            query = query.where(CallbackRecord.kind == kind)
        rows = s.scalars(query).all()
        attempts: dict[str, list[dict[str, Any]]] = {}
        ids = [r.call_id for r in rows]
        for a in s.scalars(
            select(CallbackAttemptRecord)
            .where(CallbackAttemptRecord.call_id.in_(ids))
            .order_by(CallbackAttemptRecord.id)
        ):
            attempts.setdefault(a.call_id, []).append(
                {"attempt": a.attempt, "agent_id": a.agent_id, "outcome": a.outcome, "at": a.at}
            )
        return [
            {
                "call_id": r.call_id,
                "number": masked_number(cipher, r.number),
                "skill": r.skill,
                "state": r.state,
                "attempts": r.attempts,
                "arrived_at": r.arrived_at,
                "requested_at": r.requested_at,
                "due_at": r.due_at or None,
                "agent_id": r.agent_id,
                "kind": r.kind,
                "missed_call_id": r.missed_call_id,
                "missed_reason": r.missed_reason,
                "first_dialed_at": r.first_dialed_at,
                "history": attempts.get(r.call_id, []),
            }
            for r in rows
        ]

    rows = await asyncio.to_thread(database.transaction, work)
    return web.json_response({"callbacks": rows})


@described("Agents with status and state")
async def agents(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    rows = [
        {
            "agent_id": a.agent_id,
            "name": a.name,
            "skills": dict(a.skills),
            "status": a.status,
            "state": a.state,
            "reason": a.reason,
            "calls": list(a.calls),
            "calls_taken": a.calls_taken,
            "no_answer_count": a.no_answer_count,
            "reachable": a.reachable,  # the agent's phone, as the PBX reports it
        }
        for a in runtime.acd.agents()
    ]
    return web.json_response({"agents": rows})


@described("Live queue statistics")
async def summary(request: web.Request) -> web.Response:
    s = request.app[STATS]
    return web.json_response(
        {
            "joined": s.joined,
            "waiting": len(s.waiting),
            "offered": s.offered,
            "answered": s.answered,
            "abandoned": s.abandoned,
            "timeouts": s.timeouts,
            "fallbacks": s.fallbacks,
            "wait_p50": s.wait(50),
            "wait_p95": s.wait(95),
            "service_level_15s": s.service_level(),
        }
    )


class AgentAction(Body):
    reason: str = Field("", description="why (pause, login not ready)")
    ready: bool = Field(True, description="login: ready at once")


AGENT_ACTIONS = ("login", "logout", "pause", "resume", "ready")


@described(
    "login / logout / pause / resume / ready",
    body=AgentAction,
    path={"action": {"enum": list(AGENT_ACTIONS)}},
)
async def agent_action(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    action = request.match_info["action"]
    who = principal(request)
    if not who.can("supervisor") and not (who.role == "agent" and who.name == agent_id):
        raise ApiError(403, "api.forbidden", "agents may only change their own status")
    asked = await body(request, AgentAction)
    reason = asked.reason
    event: ev.Event
    if action == "login":
        event = ev.AgentLoggedIn(agent_id, ready=asked.ready, reason=reason)
    elif action == "logout":
        event = ev.AgentLoggedOut(agent_id)
    elif action == "pause":
        event = ev.AgentPaused(agent_id, reason=reason)
    elif action == "resume":
        event = ev.AgentResumed(agent_id)
    elif action == "ready":
        event = ev.AgentReady(agent_id)
    else:
        raise ApiError(
            404, "api.unknown_action", "action must be login, logout, pause, resume or ready"
        )
    runtime = request.app[RUNTIME]
    await runtime.request(event)
    view = runtime.acd.agent(agent_id)
    await console.audit(
        request, f"agent.{action}", agent_id, {"reason": reason} if reason else None
    )
    return web.json_response(
        {"agent_id": agent_id, "status": view.status, "state": view.state, "reason": view.reason}
    )


class Priority(Body):
    priority: int = Field(ge=-100, le=100, description="higher is served first")


@described("Change a waiting caller's priority", roles="supervisor", body=Priority)
async def caller_priority(request: web.Request) -> web.Response:
    require(request, "supervisor")
    call_id = request.match_info["call_id"]
    priority = (await body(request, Priority)).priority
    runtime = request.app[RUNTIME]
    await runtime.request(ev.CallerPriorityChanged(call_id, priority))
    await runtime.set_priority_on_pbx(call_id, priority)
    await console.audit(request, "priority", call_id, {"priority": priority})
    return web.json_response({"call_id": call_id, "priority": priority})


@described(
    "Live transcript so far: partials and final segments per speaker; every read is on record "
    "in the data access log (503 without the database)",
    roles="agent (a call they are or were on), supervisor",
)
async def live_transcript(request: web.Request) -> web.Response:
    """What was recognized so far on a call (partials and final segments per speaker).

    An agent reads only a call they are or were connected to; supervisors (and admins) any
    call. A transcript is personal free text: each read is a row of the data access log,
    written before the transcript is sent (no log, no transcript)."""
    who = principal(request)
    if not who.can("agent", "supervisor"):
        raise ApiError(403, "api.forbidden", "agents and supervisors only")
    live = request.app.get(LIVE)
    if live is None:
        raise ApiError(404, "live.disabled", "live transcription is not configured ([asr])")
    call_id = request.match_info["call_id"]
    view = live.view(call_id)
    if view is None:
        raise ApiError(404, "live.unknown_call", "no live transcript for this call")
    if not who.can("supervisor") and who.name not in _call_agents(request, call_id):
        raise ApiError(403, "api.forbidden", "agents read only the transcripts of their own calls")
    database = request.app.get(console.AUDIT_DB)
    if database is None:
        raise ApiError(503, "data.no_access_log", "no database for the data access log")
    await console.transcript_read(database, who, call_id, "live transcript", request.remote or "")
    return web.json_response(view, headers={"Cache-Control": "no-store"})


def _call_agents(request: web.Request, call_id: str) -> frozenset[str]:
    """The agents on the call now (the engine's view) or earlier (the live transcription's)."""
    agents = set(request.app[LIVE].agents(call_id))
    runtime = request.app.get(RUNTIME)
    caller = runtime.acd.caller(call_id) if runtime is not None else None
    if caller is not None:
        agents.update(caller.agent_ids)
    return frozenset(agents)


class Emergency(Body):
    line: str = Field(description="an emergency line of the config, e.g. 110, 119, 120, 122")
    mode: Literal["blind", "conference"] = "blind"


@described(
    "One-key transfer to 110/119/120/122, blind or three-way conference",
    roles="agent (own call), supervisor",
    ok=202,
    body=Emergency,
)
async def emergency(request: web.Request) -> web.Response:
    """One-key transfer to 110/119/120/122 (GB/T 44190 6.3.1), blind or three-way."""
    who = principal(request)
    if not who.can("agent", "supervisor"):
        raise ApiError(403, "api.forbidden", "agents and supervisors only")
    runtime = request.app[RUNTIME]
    call_id = request.match_info["call_id"]
    asked = await body(request, Emergency)
    line, mode = asked.line, asked.mode
    lines = [e.line for e in runtime.config.emergency]
    if line not in lines:
        raise ApiError(400, "api.invalid", f"'line' must be one of {', '.join(lines)}")
    view = runtime.acd.caller(call_id)
    if who.role == "agent" and (view is None or who.name not in view.agent_ids):
        raise ApiError(403, "api.forbidden", "agents may only transfer their own call")
    if not runtime.emergency_transfer(call_id, line, mode, who.name):
        raise ApiError(409, "call.not_connected", f"call {call_id} is not connected to an agent")
    return web.json_response({"call_id": call_id, "line": line, "mode": mode}, status=202)


class Transfer(Body):
    skill: str = Field("", description="a skill id of the config")
    agent: str | None = Field(None, description="an idle agent of that skill to try first")


@described(
    "转专席: blind transfer of the caller to a skill's queue (to one idle agent of it first "
    "when `agent` is given); it keeps its priority and its place by original arrival; the "
    "agent's leg ends and the agent goes to wrap-up",
    roles="agent (own call), supervisor",
    ok=202,
    body=Transfer,
)
async def transfer(request: web.Request) -> web.Response:
    """转专席: blind transfer of a connected caller to a skill's queue, optionally to one idle
    agent of that skill first. Agents transfer their own call; supervisors any call."""
    who = principal(request)
    if not who.can("agent", "supervisor"):
        raise ApiError(403, "api.forbidden", "agents and supervisors only")
    runtime = request.app[RUNTIME]
    call_id = request.match_info["call_id"]
    asked = await body(request, Transfer)
    skill, agent = asked.skill, asked.agent or ""
    skills = [s.id for s in runtime.config.skills]
    if skill not in skills:
        raise ApiError(400, "call.unknown_skill", f"'skill' must be one of {', '.join(skills)}")
    view = runtime.acd.caller(call_id)
    if view is None or view.state != "connected":
        raise ApiError(404, "call.not_connected", f"call {call_id} is not connected to an agent")
    if who.role == "agent" and who.name not in view.agent_ids:
        raise ApiError(403, "api.forbidden", "agents may only transfer their own call")
    await runtime.transfer(call_id, skill, agent)  # typed errors: 404 / 409 with error_id
    return web.json_response({"call_id": call_id, "skill": skill, "agent": agent}, status=202)
