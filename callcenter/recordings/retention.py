"""Retention: delete recordings past their age, say what was deleted, keep the index row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.data import audit
from callcenter.recordings import store
from callcenter.storage.schema import Recording, RecordingFile


@dataclass(frozen=True)
class Purged:
    call_id: str
    started_at: float
    files: tuple[str, ...]
    bytes: int


def purge(
    session: Session, root: Path, now: float, retention_days: int, dry_run: bool = False
) -> list[Purged]:
    """Delete the files of every recording older than `retention_days`; mark the rows
    deleted and write each deletion to the access audit (actor "retention")."""
    cutoff = now - retention_days * 86400
    old = session.scalars(
        select(Recording)
        .where(Recording.started_at < cutoff, Recording.deleted_at.is_(None))
        .order_by(Recording.started_at)
    ).all()
    purged: list[Purged] = []
    for rec in old:
        files = session.scalars(
            select(RecordingFile).where(RecordingFile.call_id == rec.call_id)
        ).all()
        removed: list[str] = []
        size = 0
        for f in files:
            path = root / f.file
            if path.exists():
                size += path.stat().st_size
                if not dry_run:
                    path.unlink()
                removed.append(f.file)
        purged.append(Purged(rec.call_id, rec.started_at, tuple(removed), size))
        if not dry_run:
            rec.deleted_at = now
            store.audit(session, rec.call_id, "all", "delete", "retention", "system", "")
            audit.record_recording(session, rec.call_id, "all", "delete", "retention", "system", "")
    return purged
