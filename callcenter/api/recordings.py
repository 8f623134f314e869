"""Recordings over HTTP: metadata and audio, each access written to the recording audit log
and, in the same transaction, to the data access log (action `recording`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.api.auth import Principal, require
from callcenter.api.described import described
from callcenter.api.errors import ApiError
from callcenter.api.params import OneOf, Query, query
from callcenter.data import audit
from callcenter.recordings import store
from callcenter.storage.database import Database
from callcenter.storage.schema import Recording, RecordingAccess, RecordingFile

DATABASE: web.AppKey[Database] = web.AppKey("database", Database)
RECORDINGS_ROOT: web.AppKey[Path] = web.AppKey("recordings_root", Path)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/recordings/{call_id}", metadata),
        web.get("/api/recordings/{call_id}/audio", audio),
        web.get("/api/recordings/{call_id}/access", access_log),
    ]


def _load(db: Database, call_id: str, who: Principal) -> tuple[Recording, list[RecordingFile]]:
    with db.session() as s:
        rec = s.get(Recording, call_id)
        if rec is None:
            raise ApiError(404, "recording.not_found", f"no recording for call {call_id}")
        if who.role == "agent" and rec.agent_id != who.name:
            raise ApiError(403, "api.forbidden", "agents may only hear their own calls")
        if rec.deleted_at is not None:
            raise ApiError(410, "recording.deleted", "deleted by the retention policy")
        files = list(s.scalars(select(RecordingFile).where(RecordingFile.call_id == call_id)))
        return rec, files


def _audit(db: Database, call_id: str, leg: str, action: str, who: Principal, remote: str) -> None:
    def work(s: Session) -> None:
        store.audit(s, call_id, leg, action, who.name, who.role, remote)
        audit.record_recording(s, call_id, leg, action, who.name, who.role, remote)

    db.transaction(work)


@described("Recording metadata (audited)", roles="agent (own), supervisor")
async def metadata(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor")
    db = request.app[DATABASE]
    call_id = request.match_info["call_id"]
    rec, files = await asyncio.to_thread(_load, db, call_id, who)
    await asyncio.to_thread(_audit, db, call_id, "all", "metadata", who, request.remote or "")
    body: dict[str, Any] = {
        "call_id": rec.call_id,
        "agent_id": rec.agent_id,
        "did": rec.did,
        "started_at": rec.started_at,
        "duration": round(rec.duration, 2),
        "size": rec.size,
        "sha256": rec.sha256,
        "legs": {
            f.leg: {"size": f.size, "sha256": f.sha256, "duration": round(f.duration, 2)}
            for f in files
        },
    }
    return web.json_response(body)


class LegQuery(Query):
    error_id = "api.invalid"
    leg: Annotated[str, OneOf(store.LEGS)] = "mixed"


@described(
    "Recording audio, leg=mixed|caller|agent (audited)",
    roles="agent (own), supervisor",
    query=LegQuery,
)
async def audio(request: web.Request) -> web.StreamResponse:
    who = require(request, "agent", "supervisor")
    db = request.app[DATABASE]
    call_id = request.match_info["call_id"]
    leg = query(request, LegQuery).leg
    _, files = await asyncio.to_thread(_load, db, call_id, who)
    found = next((f for f in files if f.leg == leg), None)
    path = request.app[RECORDINGS_ROOT] / found.file if found else None
    if path is None or not path.exists():
        raise ApiError(404, "recording.file_missing", f"the {leg} leg is not on disk")
    await asyncio.to_thread(_audit, db, call_id, leg, "download", who, request.remote or "")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


@described("Who accessed a recording", roles="supervisor")
async def access_log(request: web.Request) -> web.Response:
    require(request, "supervisor")
    db = request.app[DATABASE]
    call_id = request.match_info["call_id"]

    def rows() -> list[dict[str, Any]]:
        with db.session() as s:
            query = (
                select(RecordingAccess)
                .where(RecordingAccess.call_id == call_id)
                .order_by(RecordingAccess.id)
            )
            return [
                {"at": a.at, "actor": a.actor, "role": a.role, "action": a.action, "leg": a.leg}
                for a in s.scalars(query)
            ]

    return web.json_response({"call_id": call_id, "access": await asyncio.to_thread(rows)})
