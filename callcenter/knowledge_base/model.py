"""The lifecycle of a knowledge-base entry (GB/T 44192 7.1.1 c, 7.1.2 c), pure.

An entry is created as a draft (version 1); every edit writes a new version and keeps the
old ones; a draft is submitted for review and approved (published) by a reviewer who is not
the version's author, or rejected back to draft with a note. A published entry expires at
its `expires_at` and can be retired at any time.

`published` is the approved version search, suggestions and agents see. An edit of a
published entry makes a new draft version while the approved one stays published: approving
the draft moves `published` to it, rejecting it leaves `published` where it was. Expiry and
retirement withdraw it (None). The entry's status is that of its latest version: a draft under
review over a published version is `review` with `published` set; when that published
version expires the draft keeps its status and only `published` goes.

Versioned are the title and the body. The kind, department, effective_from and expires_at
are the entry's own: a draft that changes them changes them for the published version too,
before review (a limit: per-version periods would need those columns on knowledge_versions).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callcenter.errors import CallcenterError


class Status(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    EXPIRED = "expired"
    RETIRED = "retired"


class Action(StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"
    RETIRE = "retire"


class Kind(StrEnum):
    POLICY = "policy"  # 政策解答
    DUTY = "duty"  # 部门职责
    NOTICE = "notice"  # 公告 / 通知


EDITORS = ("supervisor", "admin")  # the knowledge administrators: edit, review, retire
READERS = ("agent", "supervisor", "admin", "auditor")


class KnowledgeError(CallcenterError):
    """A knowledge-base rule was broken; nothing was changed."""

    error_id = "knowledge.error"
    status = 400


class IllegalTransition(KnowledgeError):
    error_id = "knowledge.illegal_transition"
    status = 409


class SameReviewer(KnowledgeError):
    error_id = "knowledge.same_reviewer"
    status = 409


class MissingField(KnowledgeError):
    error_id = "knowledge.missing_field"
    status = 400


class InvalidField(KnowledgeError):
    error_id = "knowledge.invalid_field"
    status = 400


class EntryNotFound(KnowledgeError):
    error_id = "knowledge.not_found"
    status = 404


class StaleEntry(KnowledgeError):
    error_id = "knowledge.conflict"
    status = 409


FROM: dict[Action, frozenset[Status]] = {
    Action.EDIT: frozenset({Status.DRAFT, Status.REVIEW, Status.PUBLISHED, Status.EXPIRED}),
    Action.SUBMIT: frozenset({Status.DRAFT}),
    Action.APPROVE: frozenset({Status.REVIEW}),
    Action.REJECT: frozenset({Status.REVIEW}),
    Action.EXPIRE: frozenset({Status.PUBLISHED}),
    Action.RETIRE: frozenset({Status.DRAFT, Status.REVIEW, Status.PUBLISHED, Status.EXPIRED}),
}
TO: dict[Action, Status] = {
    Action.EDIT: Status.DRAFT,
    Action.SUBMIT: Status.REVIEW,
    Action.APPROVE: Status.PUBLISHED,
    Action.REJECT: Status.DRAFT,
    Action.EXPIRE: Status.EXPIRED,
    Action.RETIRE: Status.RETIRED,
}


@dataclass(frozen=True)
class EntryState:
    status: Status
    version: int  # the latest version: published, or being worked on (draft, review)
    author: str  # who wrote that version
    expires_at: float | None = None
    published: int | None = None  # the approved version in force, if any


@dataclass(frozen=True)
class Step:
    """One action on an entry: who, when, with what note."""

    action: Action
    actor: str
    at: float
    note: str = ""


def created(author: str, expires_at: float | None = None) -> EntryState:
    if not author.strip():
        raise MissingField("author is required")
    return EntryState(Status.DRAFT, 1, author, expires_at)


def is_due(expires_at: float | None, now: float) -> bool:
    """Past its expiry: `expires_at` is the first moment the entry is no longer valid."""
    return expires_at is not None and expires_at <= now


def apply(state: EntryState, step: Step) -> EntryState:
    """The state after `step`, or a KnowledgeError naming the rule it breaks."""
    # a published version under a newer draft expires too; the draft keeps its status
    under_draft = step.action is Action.EXPIRE and state.published is not None
    if state.status not in FROM[step.action] and not under_draft:
        raise IllegalTransition(f"cannot {step.action.value} an entry that is {state.status}")
    if not step.actor.strip():
        raise MissingField("actor is required")
    version, author, published = state.version, state.author, state.published
    status = TO[step.action]
    if step.action is Action.EDIT:
        version, author = state.version + 1, step.actor
    elif step.action is Action.APPROVE:
        if step.actor == state.author:
            raise SameReviewer("the author of a version may not approve it")
        if is_due(state.expires_at, step.at):
            raise InvalidField("the entry's expiry time has passed; change it before approving")
        published = version
    elif step.action is Action.REJECT and not step.note.strip():
        raise MissingField("a rejection needs a note saying what to change")
    elif step.action is Action.EXPIRE:
        if not is_due(state.expires_at, step.at):
            raise IllegalTransition("the entry has not reached its expiry time")
        if state.status is not Status.PUBLISHED:
            status = state.status
        published = None
    elif step.action is Action.RETIRE:
        published = None
    return EntryState(status, version, author, state.expires_at, published)


def check_period(effective_from: float | None, expires_at: float | None) -> None:
    if effective_from is not None and expires_at is not None and expires_at <= effective_from:
        raise InvalidField("expires_at must be after effective_from")


def in_force(
    published: int | None, effective_from: float | None, expires_at: float | None, now: float
) -> bool:
    """What search, suggestions and agents see: an entry with a published version, in effect
    and not expired (even before the expiry sweep marks it)."""
    return (
        published is not None
        and (effective_from is None or effective_from <= now)
        and not is_due(expires_at, now)
    )
