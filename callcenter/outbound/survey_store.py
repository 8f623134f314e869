"""Satisfaction surveys (回访) in storage: scheduled when a ticket reaches 办结, one row per
attempt, the rating written onto the ticket (回访 then 评价) in the same transaction.

The number to call is the ticket's, encrypted at rest (GB/T 44192 8.2): a survey keeps the
ticket's ciphertext and blind index as they are, and the numbers are decrypted only to dial
them (`place_due`), each batch one row of the data access log."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callcenter.data.audit import record_access
from callcenter.data.crypto import FieldCipher, Undecryptable
from callcenter.outbound.callbacks import dialable
from callcenter.outbound.settings import OutboundSettings
from callcenter.storage.schema import Survey, SurveyAttempt, Ticket, TicketComment
from callcenter.tickets import service as store
from callcenter.tickets.actions import Evaluate, Revisit
from callcenter.tickets.errors import TicketError
from callcenter.tickets.model import Actor, CallbackOutcome, Rating, Role
from callcenter.tickets.settings import TicketSettings
from ivr.announce import SURVEY_DIGITS

log = logging.getLogger(__name__)
SURVEYOR = Actor("survey", Role.AGENT)  # the automatic 回访员


@dataclass(frozen=True)
class Placed:
    survey_id: int
    attempt: int
    number: str


def schedule(
    session: Session,
    ticket: Ticket,
    settings: OutboundSettings,
    now: float,
    cipher: FieldCipher | None = None,
) -> None:
    """A ticket reached 办结: its survey call is due after the configured delay, within
    calling hours. Without a number to call (none, one that cannot be dialled, or one that
    cannot be decrypted with `cipher` to check it) it goes straight to a person (人工回访).
    The survey keeps the ticket's ciphertext and blind index."""
    survey = settings.survey
    if not survey.enabled:
        return
    if session.scalars(select(Survey.id).where(Survey.ticket_id == ticket.id)).first():
        return  # closed again after a reopen: the first survey stands
    number = ""
    if ticket.caller_number and cipher is not None:
        try:  # checked, not shown: a masked use, as a masked display (no access-log row)
            number = cipher.decrypt(ticket.caller_number).strip()
        except Undecryptable:
            log.error("ticket %s: its number cannot be decrypted: survey by hand", ticket.id)
    state = "scheduled" if dialable(number) else "manual"
    session.add(
        Survey(
            ticket_id=ticket.id,
            number=ticket.caller_number,
            number_hash=ticket.caller_number_hash,
            state=state,
            attempts=0,
            due_at=settings.hours.next_open(now + survey.delay),
            rating="",
            created_at=now,
            updated_at=now,
        )
    )


def recover(session: Session, now: float) -> int:
    """At start: attempts that were in progress when the engine stopped are over (their
    outcome unknown); those surveys are due again now."""
    rows = session.scalars(select(Survey).where(Survey.state == "calling")).all()
    for row in rows:
        _end_attempt(session, row.id, row.attempts, "interrupted", now)
        row.state, row.due_at, row.updated_at = "scheduled", now, now
    return len(rows)


def place_due(
    session: Session, settings: OutboundSettings, now: float, limit: int, cipher: FieldCipher
) -> list[Placed]:
    """Start up to `limit` due surveys (state calling, one more attempt), their numbers
    decrypted to dial them (one data access log row per batch that decrypted any); a survey
    due outside calling hours moves to their next opening instead, and one whose number no
    key can decrypt goes to a person (manual)."""
    if limit <= 0:
        return []
    rows = session.scalars(
        select(Survey)
        .where(Survey.state == "scheduled", Survey.due_at <= now)
        .order_by(Survey.due_at, Survey.id)
        .limit(limit)
        .with_for_update()
    ).all()
    placed: list[Placed] = []
    for row in rows:
        if not settings.hours.is_open(now):
            row.due_at, row.updated_at = settings.hours.next_open(now), now
            continue
        try:
            number = cipher.decrypt(row.number)
        except Undecryptable as exc:
            log.error("survey %d: its number cannot be decrypted (%s): by hand", row.id, exc)
            row.state, row.updated_at = "manual", now
            _comment(session, row.ticket_id, "回访号码无法解密，转人工回访。", now)
            continue
        row.state, row.attempts, row.updated_at = "calling", row.attempts + 1, now
        session.add(SurveyAttempt(survey_id=row.id, attempt=row.attempts, started_at=now))
        placed.append(Placed(row.id, row.attempts, number))
    if placed:
        record_access(
            session,
            SURVEYOR.id,
            "system",
            "decrypt",
            "surveys",
            "",
            ("number",),
            f"dial satisfaction surveys: {len(placed)} numbers (surveys "
            + ",".join(str(p.survey_id) for p in placed)
            + ")",
        )
    return placed


def unplaced(session: Session, survey_id: int, now: float) -> None:
    """The call could not be placed (no PBX link): due again shortly, attempt not counted."""
    row = session.get(Survey, survey_id)
    if row is not None and row.state == "calling":
        session.execute(
            delete(SurveyAttempt).where(
                SurveyAttempt.survey_id == row.id, SurveyAttempt.attempt == row.attempts
            )
        )
        row.state, row.attempts, row.due_at, row.updated_at = (
            "scheduled",
            row.attempts - 1,
            now + 30.0,
            now,
        )


def finish(
    session: Session,
    survey_id: int,
    digit: str,
    status: str,
    outbound: OutboundSettings,
    tickets: TicketSettings,
    now: float,
) -> str:
    """An attempt ended. `digit` is what the citizen pressed ("" none), `status` how the
    call went ("answered", "no_answer", ...). Returns the survey's new state."""
    row = session.get(Survey, survey_id)
    if row is None or row.state != "calling":
        return row.state if row is not None else ""
    rating = SURVEY_DIGITS.get(digit, "")
    outcome = f"rated:{digit}" if rating else ("no_input" if status == "answered" else status)
    _end_attempt(session, row.id, row.attempts, outcome, now)
    row.updated_at = now
    if rating:
        row.state, row.rating = "rated", rating
        _rate_ticket(session, row.ticket_id, Rating(rating), tickets, now)
        return row.state
    due = outbound.survey.retry.next_attempt_at(row.attempts, now, outbound.hours)
    if due is None:
        row.state = "manual"
        _comment(
            session,
            row.ticket_id,
            f"自动回访{row.attempts}次未获评价（最后一次：{outcome}），转人工回访。",
            now,
        )
    else:
        row.state, row.due_at = "scheduled", due
    return row.state


def _rate_ticket(
    session: Session, ticket_id: int, rating: Rating, settings: TicketSettings, now: float
) -> None:
    when = datetime.fromtimestamp(now, UTC)
    try:
        store.transition(
            session,
            settings,
            ticket_id,
            Revisit(CallbackOutcome.REACHED, "自动回访"),
            SURVEYOR,
            when,
        )
        store.transition(session, settings, ticket_id, Evaluate(rating, "按键评价"), SURVEYOR, when)
    except TicketError as exc:
        # the ticket moved on meanwhile (reopened, revisited by hand): keep the answer visible
        log.warning("survey of ticket %s: rating not applied: %s", ticket_id, exc)
        _comment(
            session, ticket_id, f"自动回访评价：{rating.value}（工单状态已变，未自动写入）", now
        )


def _comment(session: Session, ticket_id: int, text: str, now: float) -> None:
    session.add(
        TicketComment(
            ticket_id=ticket_id, at=now, actor=SURVEYOR.id, role=SURVEYOR.role.value, text=text
        )
    )


def _end_attempt(session: Session, survey_id: int, attempt: int, outcome: str, now: float) -> None:
    found = session.scalars(
        select(SurveyAttempt).where(
            SurveyAttempt.survey_id == survey_id, SurveyAttempt.attempt == attempt
        )
    ).first()
    if found is not None:
        found.ended_at, found.outcome = now, outcome


def of_ticket(session: Session, ticket_id: int) -> dict[str, object] | None:
    """The ticket's survey and its attempts, for the ticket's detail view."""
    row = session.scalars(select(Survey).where(Survey.ticket_id == ticket_id)).first()
    if row is None:
        return None
    attempts = session.scalars(
        select(SurveyAttempt).where(SurveyAttempt.survey_id == row.id).order_by(SurveyAttempt.id)
    ).all()
    return {
        "id": row.id,
        "state": row.state,
        "attempts": row.attempts,
        "due_at": row.due_at,
        "rating": row.rating,
        "calls": [
            {
                "attempt": a.attempt,
                "started_at": a.started_at,
                "ended_at": a.ended_at,
                "outcome": a.outcome,
            }
            for a in attempts
        ],
    }


__all__ = ["Placed", "finish", "of_ticket", "place_due", "recover", "schedule"]
