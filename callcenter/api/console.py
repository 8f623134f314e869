"""The web console's server side: the pushed live feed (websocket), a call's details with the
caller's history, listen / whisper / barge, the audit log, and the console's static pages.

The feed sends the whole wallboard snapshot whenever a domain event changed something
(at most every `FEED_INTERVAL` seconds, and at least every `FEED_HEARTBEAT`), and live
transcript lines to whoever may see that call (its agents, supervisors). A transcript is
personal free text: the first line of a call a console is sent is a row of the data access
log (one per console and call), written before the line goes out. Browsers cannot set
headers on a websocket, so the token may come as `?access_token=`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aiohttp import WSMsgType, web
from pydantic import Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter import domain
from callcenter.api.auth import Principal, principal, require
from callcenter.api.described import Body, body, described
from callcenter.api.errors import ApiError
from callcenter.api.keys import CIPHER
from callcenter.api.params import Query, query
from callcenter.browser_phone import phone_account, sipjs_dir, sipjs_problem
from callcenter.bus import Subscription
from callcenter.config import Config
from callcenter.data import audit as access_log
from callcenter.live_figures.model import SLOT_SECONDS, LiveFigures
from callcenter.live_figures.wallboard import snapshot
from callcenter.masking import mask_phone, mask_text
from callcenter.runtime import Runtime
from callcenter.storage.database import Database
from callcenter.storage.schema import AuditEntry, Ticket
from callcenter.tickets.model import STATUS_LABELS, Status

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent.parent / "console"
FEED_INTERVAL = 0.1
FEED_HEARTBEAT = 5.0


async def transcript_read(
    database: Database, who: Principal, call_id: str, purpose: str, remote: str
) -> None:
    """Put one read of a call's live transcript on record (the data access log)."""
    await asyncio.to_thread(
        database.transaction,
        lambda s: access_log.record_access(
            s, who.name, who.role, "read", "transcript_segments", call_id, ("text",), purpose,
            remote,
        ),
    )  # fmt: skip


class LiveFeed:
    """Applies domain events to the live figures and wakes every connected console. Its task
    is the figures' one consumer of the bus (the metrics and /api/stats read the same model),
    so a snapshot pushed after an event always includes it."""

    def __init__(self, figures: LiveFigures, runtime: Runtime) -> None:
        self.figures = figures
        self.runtime = runtime
        self.seq = 0
        self._changed = asyncio.Condition()
        self._clients: set[tuple[web.WebSocketResponse, Principal]] = set()
        # per console: where its reads go on record, its address, the calls already on record
        self._readers: dict[web.WebSocketResponse, tuple[Database | None, str, set[str]]] = {}

    async def run(self, subscription: Subscription) -> None:
        async for e in subscription:
            self.figures.apply(e)
            if isinstance(e, domain.LiveTranscript):
                await self._transcript(e)
                continue
            self.seq += 1
            async with self._changed:
                self._changed.notify_all()

    async def _transcript(self, e: domain.LiveTranscript) -> None:
        view = self.runtime.acd.caller(e.call_id)
        agents = view.agent_ids if view is not None else ()
        message = {
            "type": "transcript",
            "call_id": e.call_id,
            "speaker": e.speaker,
            "text": e.text,
            "final": e.final,
        }
        for ws, who in list(self._clients):
            if (who.can("supervisor") or who.name in agents) and await self._on_record(
                ws, who, e.call_id
            ):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_json(message)

    async def _on_record(self, ws: web.WebSocketResponse, who: Principal, call_id: str) -> bool:
        """Whether this console's read of the call's transcript is on record (written now for
        its first line); False (the line is not sent) when it cannot be written."""
        reader = self._readers.get(ws)
        if reader is None:
            return False
        database, remote, calls = reader
        if call_id in calls:
            return True
        if database is None:
            return False
        try:
            await transcript_read(database, who, call_id, "live transcript (console)", remote)
        except Exception:  # noqa: BLE001 - no record, no transcript; the feed goes on
            log.exception(
                "live transcript of %s not sent to %s: no access log row", call_id, who.name
            )
            return False
        calls.add(call_id)
        return True

    def _moved(self, seen: int) -> Callable[[], bool]:
        return lambda: self.seq != seen

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "seq": self.seq,
            **snapshot(self.figures, self.runtime, time.time()),
        }

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        who = require(request, "agent", "supervisor")
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        client = (ws, who)
        self._readers[ws] = (request.app.get(AUDIT_DB), request.remote or "", set())
        self._clients.add(client)
        reader = asyncio.create_task(_drain(ws))
        try:
            seen = -1
            while not ws.closed and not reader.done():
                if self.seq != seen:
                    seen = self.seq
                    await ws.send_json(self.snapshot())
                    await asyncio.sleep(FEED_INTERVAL)  # several events, one snapshot
                    continue
                async with self._changed:
                    try:
                        await asyncio.wait_for(
                            self._changed.wait_for(self._moved(seen)), FEED_HEARTBEAT
                        )
                    except TimeoutError:
                        seen = -1  # a quiet spell: send the clocks anyway
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self._clients.discard(client)
            self._readers.pop(ws, None)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the browser sends, so close frames are seen."""
    async for message in ws:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            return


FEED: web.AppKey[LiveFeed] = web.AppKey("live_feed", LiveFeed)
AUDIT_DB: web.AppKey[Database] = web.AppKey("audit_db", Database)


async def audit(
    request: web.Request, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """Store who did what to the live center (waits until stored)."""
    database = request.app.get(AUDIT_DB)
    if database is None:
        return
    who = principal(request)
    entry = AuditEntry(
        at=time.time(),
        actor=who.name,
        role=who.role,
        action=action,
        target=target,
        detail=json.dumps(detail or {}, ensure_ascii=False),
    )

    def write(s: Session) -> None:
        s.add(entry)

    await asyncio.to_thread(database.transaction, write)


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/api/live", live),
        web.get("/api/wallboard/series", wallboard_series),
        web.get("/api/calls/{call_id}", call_details),
        web.post("/api/calls/{call_id}/spy", spy),
        web.get("/api/audit", audit_log),
        web.get("/api/agents/{agent_id}/phone", agent_phone),
        web.get("/console", supervisor_page),
        web.get("/console/", supervisor_page),
        web.get("/console/agent", agent_page),
        web.get("/console/department", department_page),
        web.static("/console/static", STATIC / "static"),
        web.get("/console/vendor/sip.js/{path:.+}", sipjs_file),
    ]


def check_vendor() -> None:
    """Say in the log, at start, when the browser phone's SIP stack is not installed."""
    problem = sipjs_problem()
    if problem:
        log.error("the agent workspace's browser phone cannot work: %s", problem)


async def sipjs_file(request: web.Request) -> web.StreamResponse:
    """SIP.js's ES modules, as npm installed them (tools/setup.sh)."""
    problem = sipjs_problem()
    if problem:
        log.error("browser phone: %s", problem)
        raise ApiError(503, "phone.sipjs_missing", problem)
    root = sipjs_dir().resolve()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ApiError(404, "phone.sipjs_file", f"no file {request.match_info['path']} in SIP.js")
    return web.FileResponse(path, headers={"Content-Type": "text/javascript; charset=utf-8"})


@described(
    "The agent's browser phone account (ws_url, sip_uri, password) for the workspace's WebRTC "
    "phone; audited",
    roles="agent (its own id only)",
)
async def agent_phone(request: web.Request) -> web.Response:
    """The signed-in agent's browser phone account (its SIP password included): only that
    agent's own token may read it (or the local admin of an open-loopback sandbox); every read
    is audited."""
    who = principal(request)
    agent_id = request.match_info["agent_id"]
    own = who.role == "agent" and who.name == agent_id
    if not (own or (who.name, who.role) == ("local", "admin")):
        raise ApiError(403, "api.forbidden", "only the agent's own token may read its phone")
    config = request.app[FEED].runtime.config
    agent = next((a for a in config.agents if a.id == agent_id), None)
    if agent is None:
        raise ApiError(404, "agent.unknown", f"no agent {agent_id}")
    if not agent.browser_phone:
        raise ApiError(
            409, "agent.no_browser_phone", f"agent {agent_id} has a desk phone (agents.toml phone)"
        )
    account = phone_account(config, agent)  # PhoneUnavailable: a 503, logged at the edge
    await audit(request, "phone.credentials", agent_id, {"by": who.name})
    return web.json_response(account, headers={"Cache-Control": "no-store"})


async def supervisor_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "supervisor.html", headers={"Cache-Control": "no-store"})


async def agent_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "agent.html", headers={"Cache-Control": "no-store"})


async def department_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "department.html", headers={"Cache-Control": "no-store"})


@described(
    "Websocket: wallboard snapshots pushed on every change, live transcript lines (token may "
    "be ?access_token=)",
    roles="agent, supervisor",
)
async def live(request: web.Request) -> web.WebSocketResponse:
    return await request.app[FEED].serve(request)


class SkillQuery(Query):
    skill: str = Field("*", description="a skill id; * (or absent) for all")


@described(
    "Today's 15-minute slots of one skill (?skill=, all when absent): calls, answered within "
    "15 s, total wait of the answered",
    roles="supervisor",
    query=SkillQuery,
)
async def wallboard_series(request: web.Request) -> web.Response:
    """Today's 15-minute slots of one skill (`?skill=`; all skills when absent or "*"), for
    the wallboard's charts."""
    require(request, "supervisor")
    feed = request.app[FEED]
    skill = query(request, SkillQuery).skill
    known = {sk.id for sk in feed.runtime.config.skills}
    if skill != "*" and skill not in known:
        raise ApiError(404, "skill.unknown", f"no skill {skill!r} (known: {sorted(known)})")
    board = feed.figures
    board.roll(time.time())
    return web.json_response(
        {
            "skill": skill,
            "day": board.day,
            "timezone": board.timezone,
            "slot_seconds": SLOT_SECONDS,
            "series": board.series_of(skill),
        }
    )


@described(
    "A call's origin and the caller's earlier tickets (masked)", roles="agent (own), supervisor"
)
async def call_details(request: web.Request) -> web.Response:
    """A call as the agent workspace shows it: where it came from and the caller's earlier
    tickets (the number masked; the history is found on the server by the blind index of the
    number, nothing decrypted; without the data keys there is no history)."""
    who = require(request, "agent", "supervisor")
    feed = request.app[FEED]
    call_id = request.match_info["call_id"]
    view = feed.runtime.acd.caller(call_id)
    meta = feed.runtime.calls.get(call_id)
    if view is None or meta is None:
        raise ApiError(404, "call.unknown", f"no call {call_id} in the queue or connected")
    if who.role == "agent" and who.name not in view.agent_ids:
        raise ApiError(403, "api.forbidden", "agents see only their own calls")
    database = request.app.get(AUDIT_DB)
    cipher = request.app.get(CIPHER)
    history: list[dict[str, Any]] = []
    index = cipher.phone_index(meta.caller_number) if cipher is not None else ""
    if database is not None and index:

        def earlier(s: Session) -> list[dict[str, Any]]:
            rows = s.scalars(
                select(Ticket)
                .where(Ticket.caller_number_hash == index)
                # earlier requests only: not the ticket this very call made
                .where(or_(Ticket.call_id.is_(None), Ticket.call_id != call_id))
                .order_by(Ticket.created_at.desc())
                .limit(20)
            ).all()
            return [
                {
                    "id": t.id,
                    "number": t.number,
                    "status": t.status,
                    "status_label": STATUS_LABELS[Status(t.status)],
                    "request_type": t.request_type,
                    "title": mask_text(t.title),
                    "created_at": t.created_at,
                }
                for t in rows
            ]

        history = await asyncio.to_thread(database.transaction, earlier)
    return web.json_response(
        {
            "call_id": call_id,
            "state": view.state,
            "agents": list(view.agent_ids),
            "caller": mask_phone(meta.caller_number),
            "did": meta.did,
            "hotline": meta.hotline,
            "region": meta.region,
            "skill": meta.skill,
            "skill_name": next(
                (sk.name for sk in feed.runtime.config.skills if sk.id == meta.skill), meta.skill
            ),
            "priority": view.priority,
            "arrived_at": view.arrived_at,
            "history": history,
            "transcription": transcription_mode(feed.runtime.config),
        }
    )


def transcription_mode(config: Config) -> str:
    """What the workspace's transcript panel can expect: "live" (while the call is up),
    "after" (once the call is over) or "off" (no speech model configured)."""
    if not config.asr.model_dir:
        return "off"
    return "live" if config.asr.live_address else "after"


class Spy(Body):
    mode: Literal["listen", "whisper", "barge"] = "listen"
    extension: str = Field("", description="the supervisor's phone (supervisors in the config)")


@described(
    "Listen in, whisper or barge from a supervisor's phone (audited)",
    roles="supervisor",
    ok=202,
    body=Spy,
)
async def spy(request: web.Request) -> web.Response:
    """Listen in, whisper or barge from the supervisor's phone (audited)."""
    who = require(request, "supervisor")
    feed = request.app[FEED]
    asked = await body(request, Spy)
    mode, extension = asked.mode, asked.extension
    phones = {x.extension for x in feed.runtime.config.supervisors}
    if extension not in phones:
        known = ", ".join(sorted(phones)) or "none configured"
        raise ApiError(400, "api.invalid", f"'extension' must be a supervisor's phone ({known})")
    call_id = request.match_info["call_id"]
    if not feed.runtime.spy(call_id, extension, mode):
        raise ApiError(409, "call.not_connected", f"call {call_id} is not connected to an agent")
    await audit(request, f"spy.{mode}", call_id, {"extension": extension, "by": who.name})
    return web.json_response({"call_id": call_id, "mode": mode, "extension": extension}, status=202)


@described("Audited actions, newest first", roles="supervisor")
async def audit_log(request: web.Request) -> web.Response:
    require(request, "supervisor")
    database = request.app.get(AUDIT_DB)
    if database is None:
        return web.json_response({"entries": []})

    def read(s: Session) -> list[dict[str, Any]]:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(200)).all()
        return [
            {
                "at": r.at,
                "actor": r.actor,
                "role": r.role,
                "action": r.action,
                "target": r.target,
                "detail": json.loads(r.detail or "{}"),
            }
            for r in rows
        ]

    return web.json_response({"entries": await asyncio.to_thread(database.transaction, read)})
