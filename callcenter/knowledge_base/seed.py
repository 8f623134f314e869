"""The seed file of the knowledge base (config/knowledge_base_seed.toml): entries loaded as
published, written by its `author` and approved by its `reviewer`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.knowledge_base import store
from callcenter.knowledge_base.model import Kind
from callcenter.knowledge_base.store import Draft
from callcenter.storage.schema import KnowledgeEntry
from callcenter.tomlreader import ConfigError, ConfigErrors, TableReader

ZONE = ZoneInfo("Asia/Shanghai")
ENTRY_KEYS = ("topic", "kind", "title", "department", "body", "expires")
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


def load_seed(path: Path) -> Seed:
    """The seed file, or ConfigErrors naming every mistake (file and dotted key)."""
    r = TableReader()
    r.file = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigErrors([ConfigError(path.name, "", str(exc))]) from None
    top = r.table(data, "", ("author", "reviewer", "entry"))
    author = r.get(top, "", "author", str, "", required=True)
    reviewer = r.get(top, "", "reviewer", str, "", required=True)
    if author and author == reviewer:
        r.error("reviewer", "must differ from author (a version is approved by someone else)")
    entries: list[SeedEntry] = []
    for i, raw in enumerate(r.tables(top.get("entry"), "entry")):
        key = f"entry[{i}]"
        t = r.table(raw, key, ENTRY_KEYS)
        kind = r.get(
            t, key, "kind", str, "", True, lambda v: "" if v in KINDS else f"one of {KINDS}"
        )
        title = r.get(t, key, "title", str, "", required=True)
        body = r.get(t, key, "body", str, "", required=True)
        expires = r.get(t, key, "expires", date)
        entries.append(
            SeedEntry(
                r.get(t, key, "topic", str, ""),
                Draft(
                    kind,
                    title,
                    body,
                    r.get(t, key, "department", str, ""),
                    expires_at=day_start(expires) if expires else None,
                ),
            )
        )
    if r.errors:
        raise ConfigErrors(r.errors)
    return Seed(author, reviewer, tuple(entries))


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
