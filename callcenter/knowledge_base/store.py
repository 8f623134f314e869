"""Knowledge-base entries in the store: create, edit (a new version, the old kept), submit,
approve, reject, retire, automatic expiry, reads and listing.

`published_version` is the approved version search, suggestions and agents are served while a
newer draft is under review (model.py). The full-text index follows it, never a draft: an
entry's `search_text` (what the FTS5 triggers copy into knowledge_fts and the GIN index
`ix_knowledge_search` is built on) is the published version's words, written when a version
is approved and emptied when the published version expires or is retired. An edit or a
rejection leaves it as it is.

Every function takes a Session inside the caller's transaction; a refused step raises a
KnowledgeError before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from callcenter.knowledge_base import model
from callcenter.knowledge_base.model import (
    Action,
    EntryNotFound,
    EntryState,
    InvalidField,
    Kind,
    MissingField,
    StaleEntry,
    Status,
    Step,
)
from callcenter.storage.schema import KnowledgeEntry, KnowledgeVersion
from callcenter.tickets.service import search_words

MAX_TITLE = 200
MAX_DEPARTMENT = 64


@dataclass(frozen=True)
class Draft:
    """The content of a version and the entry's facts."""

    kind: str
    title: str
    body: str
    department: str = ""
    effective_from: float | None = None
    expires_at: float | None = None

    def checked(self) -> Draft:
        if self.kind not in {k.value for k in Kind}:
            raise InvalidField(f"kind must be one of {', '.join(k.value for k in Kind)}")
        if not self.title.strip():
            raise MissingField("title is required")
        if not self.body.strip():
            raise MissingField("body is required")
        if len(self.title) > MAX_TITLE:
            raise InvalidField(f"title is longer than {MAX_TITLE} characters")
        if len(self.department) > MAX_DEPARTMENT:
            raise InvalidField(f"department is longer than {MAX_DEPARTMENT} characters")
        model.check_period(self.effective_from, self.expires_at)
        return Draft(
            self.kind,
            self.title.strip(),
            self.body.strip(),
            self.department.strip(),
            self.effective_from,
            self.expires_at,
        )


def indexed_text(title: str, body: str) -> str:
    """The words full-text search matches: the title's and the body's, segmented."""
    return search_words(title, body)


def get(session: Session, entry_id: int, for_update: bool = False) -> KnowledgeEntry:
    query = select(KnowledgeEntry).where(KnowledgeEntry.id == entry_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise EntryNotFound(f"knowledge entry {entry_id} does not exist")
    return row


def version(session: Session, entry_id: int, number: int) -> KnowledgeVersion:
    row = session.get(KnowledgeVersion, (entry_id, number))
    if row is None:
        raise EntryNotFound(f"knowledge entry {entry_id} has no version {number}")
    return row


def versions(session: Session, entry_id: int) -> list[KnowledgeVersion]:
    query = select(KnowledgeVersion).where(KnowledgeVersion.entry_id == entry_id)
    return list(session.scalars(query.order_by(KnowledgeVersion.version)))


def published(session: Session, row: KnowledgeEntry) -> KnowledgeVersion | None:
    """The entry's published version (what agents see), None when nothing is published."""
    if row.published_version is None:
        return None
    return version(session, row.id, row.published_version)


def published_versions(
    session: Session, rows: Iterable[KnowledgeEntry]
) -> dict[int, KnowledgeVersion]:
    """The published version of each entry that has one, by entry id (one query)."""
    keys = [(r.id, r.published_version) for r in rows if r.published_version is not None]
    if not keys:
        return {}
    query = select(KnowledgeVersion).where(
        tuple_(KnowledgeVersion.entry_id, KnowledgeVersion.version).in_(keys)
    )
    return {v.entry_id: v for v in session.scalars(query)}


def state_of(session: Session, row: KnowledgeEntry) -> EntryState:
    current = version(session, row.id, row.version)
    return EntryState(
        Status(row.status), row.version, current.author, row.expires_at, row.published_version
    )


def _set_published(session: Session, row: KnowledgeEntry, number: int | None) -> None:
    """Serve version `number` (None: nothing) and index its words, not a draft's."""
    if number == row.published_version:
        return
    row.published_version = number
    if number is None:
        row.search_text = ""
    else:
        v = version(session, row.id, number)
        row.search_text = indexed_text(v.title, v.body)


def create(session: Session, draft: Draft, author: str, at: float) -> KnowledgeEntry:
    """A new entry, a draft at version 1 (nothing published, nothing indexed)."""
    d = draft.checked()
    model.created(author, d.expires_at)
    row = KnowledgeEntry(
        kind=d.kind,
        title=d.title,
        department=d.department,
        status=Status.DRAFT.value,
        version=1,
        effective_from=d.effective_from,
        expires_at=d.expires_at,
        created_at=at,
        updated_at=at,
        published_version=None,
        search_text="",
    )
    session.add(row)
    session.flush()
    session.add(
        KnowledgeVersion(
            entry_id=row.id, version=1, title=d.title, body=d.body, author=author, at=at
        )
    )
    session.flush()
    return row


def _check_version(row: KnowledgeEntry, expected: int | None) -> None:
    if expected is not None and expected != row.version:
        raise StaleEntry(f"entry {row.id} is at version {row.version}, not {expected}")


def edit(
    session: Session,
    entry_id: int,
    draft: Draft,
    author: str,
    at: float,
    note: str = "",
    expected_version: int | None = None,
) -> KnowledgeEntry:
    """A new version (a draft); the earlier versions stay as they were, the published one
    stays published (and indexed) until the draft is approved."""
    d = draft.checked()
    row = get(session, entry_id, for_update=True)
    _check_version(row, expected_version)
    state = model.apply(state_of(session, row), Step(Action.EDIT, author, at, note))
    session.add(
        KnowledgeVersion(
            entry_id=row.id,
            version=state.version,
            title=d.title,
            body=d.body,
            author=author,
            at=at,
            note=note,
        )
    )
    row.kind, row.title, row.department = d.kind, d.title, d.department
    row.effective_from, row.expires_at = d.effective_from, d.expires_at
    row.status, row.version, row.updated_at = state.status.value, state.version, at
    session.flush()
    return row


def step(
    session: Session,
    entry_id: int,
    action: Action,
    actor: str,
    at: float,
    note: str = "",
    expected_version: int | None = None,
) -> KnowledgeEntry:
    """Submit, approve, reject, expire or retire the entry's latest version; approval
    publishes it, expiry and retirement withdraw the published version."""
    if action is Action.EDIT:
        raise InvalidField("an edit brings a new version: use edit()")
    row = get(session, entry_id, for_update=True)
    _check_version(row, expected_version)
    state = model.apply(state_of(session, row), Step(action, actor, at, note))
    current = version(session, row.id, row.version)
    if action in (Action.APPROVE, Action.REJECT):
        current.reviewer, current.reviewed_at, current.note = actor, at, note
    elif note:
        current.note = f"{current.note}\n{action.value}: {note}".strip()
    row.status, row.updated_at = state.status.value, at
    _set_published(session, row, state.published)
    session.flush()
    return row


def submit(session: Session, entry_id: int, actor: str, at: float) -> KnowledgeEntry:
    return step(session, entry_id, Action.SUBMIT, actor, at)


def approve(
    session: Session, entry_id: int, reviewer: str, at: float, note: str = ""
) -> KnowledgeEntry:
    return step(session, entry_id, Action.APPROVE, reviewer, at, note)


def reject(session: Session, entry_id: int, reviewer: str, at: float, note: str) -> KnowledgeEntry:
    return step(session, entry_id, Action.REJECT, reviewer, at, note)


def retire(
    session: Session, entry_id: int, actor: str, at: float, note: str = ""
) -> KnowledgeEntry:
    return step(session, entry_id, Action.RETIRE, actor, at, note)


EXPIRY_ACTOR = "system"


def expire_due(session: Session, now: float) -> list[int]:
    """Withdraw every published version whose entry's expiry time has come: a published
    entry becomes expired, a draft under way over one keeps its status; their ids."""
    query = select(KnowledgeEntry).where(
        KnowledgeEntry.published_version.is_not(None),
        KnowledgeEntry.expires_at.is_not(None),
        KnowledgeEntry.expires_at <= now,
    )
    ids: list[int] = []
    for row in session.scalars(query.order_by(KnowledgeEntry.id).with_for_update()):
        state = EntryState(
            Status(row.status), row.version, "", row.expires_at, row.published_version
        )
        after = model.apply(state, Step(Action.EXPIRE, EXPIRY_ACTOR, now))
        row.status, row.updated_at = after.status.value, now
        _set_published(session, row, after.published)
        ids.append(row.id)
    session.flush()
    return ids


@dataclass(frozen=True)
class Filters:
    status: str = ""
    kind: str = ""
    department: str = ""
    published: bool = False  # only entries with a published version (what agents list)


def listing(
    session: Session, f: Filters, page: int = 1, per_page: int = 20
) -> tuple[int, list[KnowledgeEntry]]:
    """One page of entries, most recently changed first, and how many match."""
    query = select(KnowledgeEntry)
    for column, value in (
        (KnowledgeEntry.status, f.status),
        (KnowledgeEntry.kind, f.kind),
        (KnowledgeEntry.department, f.department),
    ):
        if value:
            query = query.where(column == value)
    if f.published:
        query = query.where(KnowledgeEntry.published_version.is_not(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(KnowledgeEntry.updated_at.desc(), KnowledgeEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return int(total), list(rows)
