"""Knowledge-base entries in the store: create, edit (a new version, the old kept), submit,
approve, reject, retire, automatic expiry, reads and listing.

Every function takes a Session inside the caller's transaction; a refused step raises a
KnowledgeError before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
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
from callcenter.storage.tickets import search_words

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


def state_of(session: Session, row: KnowledgeEntry) -> EntryState:
    current = version(session, row.id, row.version)
    return EntryState(Status(row.status), row.version, current.author, row.expires_at)


def create(session: Session, draft: Draft, author: str, at: float) -> KnowledgeEntry:
    """A new entry, a draft at version 1."""
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
        search_text=indexed_text(d.title, d.body),
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
    """A new version (a draft); the earlier versions stay as they were."""
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
    row.search_text = indexed_text(d.title, d.body)
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
    """Submit, approve, reject, expire or retire the entry's current version."""
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
    """Mark every published entry whose expiry time has come as expired; their ids."""
    query = select(KnowledgeEntry).where(
        KnowledgeEntry.status == Status.PUBLISHED.value,
        KnowledgeEntry.expires_at.is_not(None),
        KnowledgeEntry.expires_at <= now,
    )
    ids: list[int] = []
    for row in session.scalars(query.order_by(KnowledgeEntry.id).with_for_update()):
        row.status, row.updated_at = Status.EXPIRED.value, now
        ids.append(row.id)
    session.flush()
    return ids


@dataclass(frozen=True)
class Filters:
    status: str = ""
    kind: str = ""
    department: str = ""


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
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(KnowledgeEntry.updated_at.desc(), KnowledgeEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return int(total), list(rows)
