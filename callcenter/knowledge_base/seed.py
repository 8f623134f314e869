"""The seed file of the knowledge base (config/knowledge_base_seed.toml): entries loaded as
published, written by its `author` and approved by its `reviewer`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Strict
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.config_models import FileModel, Str, load_model, one_of
from callcenter.knowledge_base import store
from callcenter.knowledge_base.model import Kind
from callcenter.knowledge_base.store import Draft
from callcenter.storage.schema import KnowledgeEntry
from callcenter.tomlreader import ConfigError, ConfigErrors

ZONE = ZoneInfo("Asia/Shanghai")
KINDS = tuple(k.value for k in Kind)


@dataclass(frozen=True)
class SeedEntry:
    topic: str  # the classifier's topic it answers ("" for none)
    draft: Draft


@dataclass(frozen=True)
class Seed:
    author: str
    reviewer: str
    entries: tuple[SeedEntry, ...]


def day_start(day: date) -> float:
    return datetime.combine(day, time(), ZONE).timestamp()


class SeedRow(FileModel):
    topic: Str = ""  # the classifier's topic it answers
    kind: Annotated[Str, one_of(*KINDS)]
    title: Str
    department: Str = ""
    body: Str
    expires: Annotated[date, Strict()] | None = None  # a notice's last day

    def entry(self) -> SeedEntry:
        expires_at = day_start(self.expires) if self.expires else None
        return SeedEntry(
            self.topic,
            Draft(self.kind, self.title, self.body, self.department, expires_at=expires_at),
        )


class SeedFile(FileModel):
    """knowledge_base_seed.toml: the knowledge base's first entries, written by `author`
    and approved by `reviewer` (someone else)."""

    author: Str
    reviewer: Str
    entry: tuple[SeedRow, ...] = ()


def load_seed(path: Path) -> Seed:
    """The seed file, or ConfigErrors naming every mistake (file and dotted key)."""
    found = load_model(SeedFile, path, path.name)
    if found.author and found.author == found.reviewer:
        raise ConfigErrors(
            [
                ConfigError(
                    path.name,
                    "reviewer",
                    "must differ from author (a version is approved by someone else)",
                )
            ]
        )
    return Seed(found.author, found.reviewer, tuple(row.entry() for row in found.entry))


def seed(session: Session, s: Seed, at: float, only: frozenset[str] | None = None) -> list[int]:
    """Create, submit and approve each seed entry whose title is not in the base yet (and
    whose topic is in `only`, when given); the ids created."""
    existing = set(session.scalars(select(KnowledgeEntry.title)))
    created: list[int] = []
    for e in s.entries:
        if e.draft.title in existing or (only is not None and e.topic not in only):
            continue
        if e.draft.expires_at is not None and e.draft.expires_at <= at:
            continue  # a notice already over
        row = store.create(session, e.draft, s.author, at)
        store.submit(session, row.id, s.author, at)
        store.approve(session, row.id, s.reviewer, at, "初始知识库导入")
        existing.add(e.draft.title)
        created.append(row.id)
    return created
