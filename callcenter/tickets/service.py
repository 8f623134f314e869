"""Tickets in the store: intake (with repeat linking), transitions through the pure lifecycle,
history, comments, attachments, listing with filters and full-text search.

A citizen's ID-card number and phone number are never written in plaintext: `create` stores
only the ciphertext and the blind index of a `FieldCipher` (GB/T 44192 8.2), and refuses
either when no cipher is configured. Repeat linking and search by number use the blind index
(nothing decrypted).

Every function takes a Session inside the caller's transaction: a refused transition raises
before anything is written, so it changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from callcenter.data.crypto import FieldCipher
from callcenter.storage.schema import Ticket, TicketComment, TicketHistory
from callcenter.tickets import lifecycle
from callcenter.tickets import text as segment
from callcenter.tickets.actions import Action
from callcenter.tickets.calendar import deadline
from callcenter.tickets.classifier import Classification, classify
from callcenter.tickets.errors import (
    IllegalTransition,
    InvalidAction,
    MissingField,
    NoDataKey,
    StaleTicket,
    TicketError,
    TicketNotFound,
)
from callcenter.tickets.model import (
    Actor,
    CallbackOutcome,
    HistoryEntry,
    Rating,
    Role,
    Status,
    Supervision,
    TicketState,
    new_ticket,
)
from callcenter.tickets.settings import TicketSettings
from callcenter.tickets.similarity import OpenTicket, find_repeat

CHANNELS = ("phone", "web", "app", "miniprogram", "wechat", "sms")


@dataclass(frozen=True)
class Intake:
    """What a request brings in, from a call or another channel."""

    channel: str
    content: str
    caller_number: str = ""  # as received; only its ciphertext and blind index are stored
    caller_name: str = ""
    title: str = ""
    address: str = ""
    call_id: str | None = None
    did: str = ""
    hotline: str = ""
    region: str = ""
    skill: str = ""
    agent_id: str = ""
    ivr_path: str = ""
    request_type: str = ""  # empty: the classifier's proposal
    department: str = ""
    urgent: bool = False
    id_card: str = ""  # plaintext as entered; only its ciphertext and blind index are stored
    enterprise_code: str = ""
    enterprise_name: str = ""
    grid: str = ""
    received_at: float | None = None  # when the request reached the hotline (epoch)


@dataclass(frozen=True)
class Created:
    ticket: Ticket
    linked: bool  # True: the request repeated an open ticket and was linked to it
    similarity: float = 0.0
    classification: Classification | None = field(default=None, compare=False)


def _epoch(at: datetime) -> float:
    return at.timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def search_words(*parts: str, index: bool = True) -> str:
    """Segmented words joined by spaces: what full-text search matches."""
    return " ".join(w for part in parts for w in segment.search_words(part, index))


# --- state <-> row -------------------------------------------------------------------------


def state_of(row: Ticket) -> TicketState:
    extra: dict[str, Any] = json.loads(row.state)
    return TicketState(
        id=str(row.id),
        status=Status(row.status),
        created_at=_dt(row.created_at),
        updated_at=_dt(row.updated_at),
        request_type=row.request_type,
        department=row.department,
        returns=extra.get("returns", 0),
        returned_by=tuple(extra.get("returned_by", ())),
        reply=extra.get("reply"),
        rejections=extra.get("rejections", 0),
        callback=CallbackOutcome(extra["callback"]) if extra.get("callback") else None,
        rating=Rating(extra["rating"]) if extra.get("rating") else None,
        reopens=extra.get("reopens", 0),
        supervisions=tuple(
            Supervision(s["by"], Role(s["role"]), _dt(s["at"]), s["note"])
            for s in extra.get("supervisions", ())
        ),
        version=row.version,
    )


def _store_state(row: Ticket, state: TicketState) -> None:
    row.status = state.status.value
    row.version = state.version
    row.request_type = state.request_type
    row.department = state.department
    row.updated_at = _epoch(state.updated_at)
    if state.status is Status.CLOSED and row.closed_at is None:
        row.closed_at = row.updated_at
    row.state = json.dumps(
        {
            "returns": state.returns,
            "returned_by": list(state.returned_by),
            "reply": state.reply,
            "rejections": state.rejections,
            "callback": state.callback.value if state.callback else None,
            "rating": state.rating.value if state.rating else None,
            "reopens": state.reopens,
            "supervisions": [
                {"by": s.by, "role": s.role.value, "at": _epoch(s.at), "note": s.note}
                for s in state.supervisions
            ],
        },
        ensure_ascii=False,
    )


def _history(session: Session, ticket_id: int, entry: HistoryEntry) -> None:
    session.add(
        TicketHistory(
            ticket_id=ticket_id,
            seq=entry.seq,
            action=entry.action,
            actor=entry.actor_id,
            role=entry.role.value,
            at=_epoch(entry.at),
            from_status=entry.from_status.value,
            to_status=entry.to_status.value,
            note=entry.note,
            details=json.dumps(dict(entry.details), ensure_ascii=False),
        )
    )


# --- intake --------------------------------------------------------------------------------


def seal_id_card(cipher: FieldCipher | None, id_card: str) -> tuple[str, str]:
    """(ciphertext, blind index) of an ID-card number as entered ('' for none); NoDataKey
    when there is a number and no cipher to protect it."""
    value = id_card.strip().upper()
    if not value:
        return "", ""
    if cipher is None:
        raise NoDataKey("an ID-card number needs a data encryption key; none is configured")
    return cipher.encrypt(value), cipher.blind_index(value)


def seal_phone(cipher: FieldCipher | None, number: str) -> tuple[str, str]:
    """(ciphertext, blind index) of a citizen's phone number as received ('' for none);
    NoDataKey when there is a number and no cipher to protect it."""
    if not number.strip():
        return "", ""
    if cipher is None:
        raise NoDataKey("a phone number needs a data encryption key; none is configured")
    return cipher.seal_phone(number)


def phone_index(cipher: FieldCipher | None, number: str) -> str:
    """The blind index a number is looked up by; NoDataKey without a cipher."""
    if cipher is None:
        raise NoDataKey("finding tickets by phone number needs the data keys; none are configured")
    return cipher.phone_index(number)


def create(
    session: Session,
    settings: TicketSettings,
    intake: Intake,
    actor: Actor,
    at: datetime,
    *,
    cipher: FieldCipher | None = None,
) -> Created:
    """Take a request in: link it to the caller's open ticket when it repeats one (within
    the configured window and similarity), else create a ticket pre-filled with the
    classifier's proposal and its deadline. The ID-card and phone numbers are stored
    encrypted with `cipher` (NoDataKey, nothing written, when there is none)."""
    if intake.channel not in CHANNELS:
        raise InvalidAction(f"channel must be one of {', '.join(CHANNELS)}")
    if not intake.content.strip() and intake.call_id is None:
        raise MissingField("content is required")
    sealed, index = seal_id_card(cipher, intake.id_card)
    number, number_index = seal_phone(cipher, intake.caller_number)
    now = _epoch(at)
    if number_index:
        linked = _link_repeat(session, settings, intake, number_index, actor, at)
        if linked is not None:
            if sealed and not linked.ticket.id_card:  # the repeat call brought it
                linked.ticket.id_card, linked.ticket.id_card_hash = sealed, index
            return linked
    found = classify(settings.knowledge, f"{intake.title} {intake.content}")
    request_type = intake.request_type or found.request_type
    department = intake.department or found.department
    due = deadline(settings.calendar, settings.deadlines, request_type, at, intake.urgent)
    row = Ticket(
        number="",
        channel=intake.channel,
        call_id=intake.call_id,
        caller_number=number,
        caller_number_hash=number_index,
        caller_name=intake.caller_name,
        did=intake.did,
        hotline=intake.hotline,
        region=intake.region,
        skill=intake.skill,
        agent_id=intake.agent_id,
        ivr_path=intake.ivr_path,
        request_type=request_type,
        topic=found.topic or "",
        department=None,
        title=intake.title or intake.content.strip()[:40],
        content=intake.content,
        address=intake.address,
        status=Status.ACCEPTED.value,
        version=0,
        state="{}",
        proposal=json.dumps(proposal_of(found, department), ensure_ascii=False),
        confirmed=1 if intake.request_type and intake.department else 0,
        created_at=now,
        updated_at=now,
        deadline=_epoch(due),
        closed_at=None,
        repeat_of=None,
        repeats=0,
        search_text=search_words(intake.title, intake.content, intake.address),
        id_card=sealed,
        id_card_hash=index,
        enterprise_code=intake.enterprise_code.strip().upper(),
        enterprise_name=intake.enterprise_name.strip(),
        grid=intake.grid.strip(),
        received_at=intake.received_at,
    )
    session.add(row)
    session.flush()
    row.number = f"{at.astimezone(settings.calendar.zone).strftime('%Y%m%d')}{row.id:06d}"
    _store_state(row, new_ticket(str(row.id), at, request_type))
    session.add(
        TicketHistory(
            ticket_id=row.id,
            seq=0,
            action="accept",
            actor=actor.id,
            role=actor.role.value,
            at=now,
            from_status="",
            to_status=Status.ACCEPTED.value,
            note=f"{intake.channel}",
            details=json.dumps({"proposed_department": department}, ensure_ascii=False),
        )
    )
    return Created(row, linked=False, classification=found)


def proposal_of(found: Classification, department: str) -> dict[str, Any]:
    return {
        "request_type": [
            (p.value, round(p.score, 3), list(p.evidence)) for p in found.request_types
        ],
        "topic": [(p.value, p.label, round(p.score, 3), list(p.evidence)) for p in found.topics],
        "department": department,
        "departments": [(p.value, p.label, round(p.score, 3)) for p in found.departments],
        "fallback": found.fallback,
    }


def _link_repeat(
    session: Session,
    settings: TicketSettings,
    intake: Intake,
    number_index: str,
    actor: Actor,
    at: datetime,
) -> Created | None:
    """The caller's open tickets are found by the blind index of the number (equal however
    the number was written, nothing decrypted)."""
    since = _epoch(at) - settings.repeat.window_days * 86400
    open_rows = session.scalars(
        select(Ticket).where(
            Ticket.caller_number_hash == number_index,
            Ticket.created_at >= since,
            Ticket.status.in_([s.value for s in Status if s.is_open]),
        )
    ).all()
    candidates = [
        OpenTicket(str(r.id), r.caller_number_hash, f"{r.title} {r.content}", _dt(r.created_at))
        for r in open_rows
    ]
    match = find_repeat(
        settings.repeat, number_index, f"{intake.title} {intake.content}", at, candidates
    )
    if match is None:
        return None
    row = session.get(Ticket, int(match.ticket_id))
    assert row is not None
    row.repeats += 1
    session.add(
        TicketComment(
            ticket_id=row.id,
            at=_epoch(at),
            actor=actor.id,
            role=actor.role.value,
            text=f"重复来电（{intake.channel}，相似度 {match.similarity:.2f}）：{intake.content}",
        )
    )
    return Created(row, linked=True, similarity=match.similarity)


# --- changes -------------------------------------------------------------------------------


def get(session: Session, ticket_id: int, for_update: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise TicketNotFound(f"no ticket {ticket_id}")
    return row


def transition(
    session: Session,
    settings: TicketSettings,
    ticket_id: int,
    action: Action,
    actor: Actor,
    at: datetime,
    expected_version: int | None = None,
) -> tuple[Ticket, HistoryEntry]:
    row = get(session, ticket_id, for_update=True)
    if expected_version is not None and row.version != expected_version:
        raise StaleTicket(f"ticket {ticket_id} is at version {row.version}, not {expected_version}")
    state, entry = lifecycle.apply(state_of(row), action, actor, at, settings.lifecycle)
    _store_state(row, state)
    _history(session, row.id, entry)
    return row, entry


def confirm(
    session: Session, ticket_id: int, actor: Actor, request_type: str, topic: str, department: str
) -> Ticket:
    """The agent confirms or edits the proposal (only while the ticket is still 受理)."""
    row = get(session, ticket_id, for_update=True)
    if row.status != Status.ACCEPTED.value:
        raise IllegalTransition("confirm: only an accepted ticket can be edited")
    row.request_type = request_type or row.request_type
    row.topic = topic or row.topic
    proposal = json.loads(row.proposal)
    proposal["department"] = department or proposal.get("department", "")
    row.proposal = json.dumps(proposal, ensure_ascii=False)
    row.confirmed = 1
    state = replace(state_of(row), request_type=row.request_type)
    _store_state(row, state)
    session.add(
        TicketComment(
            ticket_id=row.id,
            at=datetime.now(UTC).timestamp(),
            actor=actor.id,
            role=actor.role.value,
            text=f"确认分类：{row.request_type} / {row.topic} / {proposal['department']}",
        )
    )
    return row


def attach_transcript(session: Session, call_id: str, transcript_text: str) -> int:
    """Add a call's transcript to the words its tickets are found by; returns tickets changed."""
    rows = session.scalars(select(Ticket).where(Ticket.call_id == call_id)).all()
    for row in rows:
        row.search_text = f"{row.search_text} {search_words(transcript_text)}".strip()
    return len(rows)


def comment(session: Session, ticket_id: int, actor: Actor, body: str, at: datetime) -> None:
    get(session, ticket_id)
    if not body.strip():
        raise TicketError("comment text is required")
    session.add(
        TicketComment(
            ticket_id=ticket_id, at=_epoch(at), actor=actor.id, role=actor.role.value, text=body
        )
    )


def history(session: Session, ticket_id: int) -> list[TicketHistory]:
    query = select(TicketHistory).where(TicketHistory.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(TicketHistory.seq)))


def comments(session: Session, ticket_id: int) -> list[TicketComment]:
    query = select(TicketComment).where(TicketComment.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(TicketComment.id)))


# --- queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    status: str = ""
    department: str = ""
    request_type: str = ""
    channel: str = ""
    caller_number: str = ""  # found by its blind index: `search` needs the cipher for it
    did: str = ""
    call_id: str = ""
    created_from: float | None = None
    created_to: float | None = None
    overdue_at: float | None = None  # open tickets whose deadline passed before this time
    q: str = ""  # full-text


def _filtered(session: Session, f: Filters, cipher: FieldCipher | None = None) -> Select[Any]:
    query = select(Ticket)
    if f.caller_number.strip():
        query = query.where(Ticket.caller_number_hash == phone_index(cipher, f.caller_number))
    for column, value in (
        (Ticket.status, f.status),
        (Ticket.department, f.department),
        (Ticket.request_type, f.request_type),
        (Ticket.channel, f.channel),
        (Ticket.did, f.did),
        (Ticket.call_id, f.call_id),
    ):
        if value:
            query = query.where(column == value)
    if f.created_from is not None:
        query = query.where(Ticket.created_at >= f.created_from)
    if f.created_to is not None:
        query = query.where(Ticket.created_at < f.created_to)
    if f.overdue_at is not None:
        query = query.where(
            Ticket.deadline < f.overdue_at,
            Ticket.status.in_([s.value for s in Status if s.is_open]),
        )
    if f.q.strip():
        words = search_words(f.q, index=False) or f.q.strip()
        if session.get_bind().dialect.name == "postgresql":
            query = query.where(
                func.to_tsvector("simple", Ticket.search_text).op("@@")(
                    func.plainto_tsquery("simple", words)
                )
            )
        else:
            match = " ".join('"' + w.replace('"', "") + '"' for w in words.split())
            ids = text("SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :m").bindparams(
                m=match
            )
            query = query.where(Ticket.id.in_(ids))
    return query


COUNT_CAP = 10_000


def search(
    session: Session,
    f: Filters,
    page: int = 1,
    per_page: int = 20,
    cipher: FieldCipher | None = None,
) -> tuple[int, list[Ticket]]:
    """One page, newest first, and the number of matches counted up to COUNT_CAP (a list
    shows "10000+" rather than scanning a million rows to count them). A filter by phone
    number needs `cipher` (the blind index; NoDataKey without it)."""
    query = _filtered(session, f, cipher)
    capped = query.with_only_columns(Ticket.id).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    rows: list[Ticket] = list(
        session.scalars(
            query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return int(total), rows
