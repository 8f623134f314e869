"""Recording rows: index a finished recording (with its transcription job), audit access."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.storage.schema import (
    AsrJob,
    CallRecord,
    Recording,
    RecordingAccess,
    RecordingFile,
)

LEGS = ("mixed", "caller", "agent", "emergency")  # emergency: the 110/119/120/122 leg


def leg_file(path: str, leg: str) -> str:
    """`2026/11/25/1764000000.12` + leg -> the file name relative to the root."""
    return f"{path}.wav" if leg == "mixed" else f"{path}-{leg}.wav"


@dataclass(frozen=True)
class LegFacts:
    leg: str
    file: str
    size: int
    sha256: str
    duration: float


@dataclass(frozen=True)
class Finished:
    call_id: str
    node: str
    path: str
    started_at: float
    agent_id: str | None
    did: str | None
    legs: tuple[LegFacts, ...]


def index(session: Session, rec: Finished, now: float, transcribe: bool = True) -> bool:
    """Insert the recording, its legs and (when `transcribe`: a speech model is configured)
    a pending transcription job; False if known."""
    if session.get(Recording, rec.call_id) is not None:
        return False
    call = session.get(CallRecord, rec.call_id)
    mixed = next((leg for leg in rec.legs if leg.leg == "mixed"), None)
    session.add(
        Recording(
            call_id=rec.call_id,
            node=rec.node,
            path=rec.path,
            agent_id=rec.agent_id or (call.agent_id if call else None),
            did=rec.did or (call.did if call else None),
            started_at=rec.started_at,
            duration=max((leg.duration for leg in rec.legs), default=0.0),
            size=sum(leg.size for leg in rec.legs),
            sha256=mixed.sha256 if mixed else "",
            indexed_at=now,
        )
    )
    for leg in rec.legs:
        session.add(
            RecordingFile(
                call_id=rec.call_id,
                leg=leg.leg,
                file=leg.file,
                size=leg.size,
                sha256=leg.sha256,
                duration=leg.duration,
            )
        )
    if transcribe:
        session.add(
            AsrJob(call_id=rec.call_id, created_at=now, state="pending", attempts=0, error="")
        )
    return True


def known_paths(session: Session) -> set[str]:
    return set(session.scalars(select(Recording.path)))


def audit(
    session: Session, call_id: str, leg: str, action: str, actor: str, role: str, remote: str
) -> None:
    session.add(
        RecordingAccess(
            call_id=call_id,
            leg=leg,
            action=action,
            actor=actor,
            role=role,
            remote=remote,
            at=time.time(),
        )
    )
