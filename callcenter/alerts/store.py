"""Warnings in the store: one row per event `key` (a finding of the same event updates it),
its tickets in warning_tickets, and what was done about it: acknowledged (确认), turned into a
督办 on one of its tickets (state `escalated`, `ticket_id`), or a special report requested
(a report_runs row kind `special`, state `requested`, params {"warning_id": id}, that the
report builder picks up; the warning's `report_id` points at it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.alerts.engine import LEVELS, Finding
from callcenter.errors import CallcenterError
from callcenter.storage.schema import ReportRun, Ticket, WarningTicket
from callcenter.storage.schema import Warning as WarningRow
from callcenter.tickets import service as ticket_store
from callcenter.tickets.actions import Supervise
from callcenter.tickets.errors import TicketError
from callcenter.tickets.model import Actor, Status
from callcenter.tickets.settings import TicketSettings

STATES = ("open", "acknowledged", "escalated", "closed")


class WarningError(CallcenterError):
    status = 400
    error_id = "alerts.error"


class WarningNotFound(WarningError):
    status = 404
    error_id = "alerts.not_found"


class WarningConflict(WarningError):
    status = 409
    error_id = "alerts.conflict"


@dataclass(frozen=True)
class Saved:
    row: WarningRow
    new: bool  # first finding of this event (publish it, send the webhook)
    raised: bool  # its level went up


def save(session: Session, finding: Finding, now: float) -> Saved:
    """Insert the warning of a new event, or update the event's warning with the new evidence
    (counts, series, tickets; the level only goes up; the first detection time stays)."""
    row = session.scalars(select(WarningRow).where(WarningRow.key == finding.key)).first()
    evidence = json.dumps(finding.evidence, ensure_ascii=False)
    new = row is None
    raised = False
    if row is None:
        row = WarningRow(
            kind=finding.kind,
            key=finding.key,
            title=finding.title[:200],
            level=finding.level,
            score=finding.score,
            district=finding.district,
            topic=finding.topic,
            onset_at=finding.onset_at,
            detected_at=finding.detected_at,
            evidence=evidence,
            state="open",
            acked_by="",
            updated_at=now,
        )
        session.add(row)
        session.flush()
        known: set[int] = set()
    else:
        raised = LEVELS.index(finding.level) > LEVELS.index(row.level)
        if raised:
            row.level = finding.level
        row.title = finding.title[:200]
        row.score = max(row.score, finding.score)
        row.onset_at = min(row.onset_at, finding.onset_at)
        row.evidence = evidence
        row.updated_at = now
        known = set(
            session.scalars(
                select(WarningTicket.ticket_id).where(WarningTicket.warning_id == row.id)
            )
        )
    for ticket_id in dict.fromkeys(finding.ticket_ids):
        if ticket_id not in known:
            session.add(WarningTicket(warning_id=row.id, ticket_id=ticket_id))
    return Saved(row, new, raised)


def get(session: Session, warning_id: int, for_update: bool = False) -> WarningRow:
    query = select(WarningRow).where(WarningRow.id == warning_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise WarningNotFound(f"no warning {warning_id}")
    return row


def listing(session: Session, state: str = "", limit: int = 100) -> list[WarningRow]:
    """Newest first; `state` one of STATES or '' for all."""
    query = select(WarningRow)
    if state:
        query = query.where(WarningRow.state == state)
    query = query.order_by(WarningRow.detected_at.desc(), WarningRow.id.desc()).limit(limit)
    return list(session.scalars(query))


def ticket_ids(session: Session, warning_id: int) -> list[int]:
    query = select(WarningTicket.ticket_id).where(WarningTicket.warning_id == warning_id)
    return sorted(session.scalars(query))


def acknowledge(session: Session, warning_id: int, actor: str, at: float) -> WarningRow:
    row = get(session, warning_id, for_update=True)
    if row.state == "closed":
        raise WarningConflict(f"warning {warning_id} is closed")
    if row.state == "open":
        row.state = "acknowledged"
    if not row.acked_by:
        row.acked_by, row.acked_at = actor, at
    row.updated_at = at
    return row


def supervise(
    session: Session,
    settings: TicketSettings,
    warning_id: int,
    actor: Actor,
    note: str,
    at: float,
    ticket_id: int | None = None,
) -> WarningRow:
    """督办: a Supervise action on `ticket_id` (one of the warning's tickets) or, by default,
    on its most recent ticket still open; the warning becomes `escalated`."""
    row = get(session, warning_id, for_update=True)
    if row.ticket_id is not None:
        raise WarningConflict(
            f"warning {warning_id} is already supervised (ticket {row.ticket_id})"
        )
    ids = ticket_ids(session, warning_id)
    if ticket_id is not None and ticket_id not in ids:
        raise WarningConflict(f"ticket {ticket_id} is not one of warning {warning_id}'s tickets")
    if ticket_id is None:
        open_values = [s.value for s in Status if s.is_open]
        ticket_id = session.scalar(
            select(Ticket.id)
            .where(Ticket.id.in_(ids), Ticket.status.in_(open_values))
            .order_by(Ticket.created_at.desc())
            .limit(1)
        )
        if ticket_id is None:
            raise WarningConflict(f"warning {warning_id} has no open ticket to supervise")
    text = note.strip() or f"预警督办：{row.title}"
    try:
        ticket_store.transition(
            session, settings, ticket_id, Supervise(text), actor, datetime.fromtimestamp(at, UTC)
        )
    except TicketError as exc:
        raise WarningConflict(str(exc)) from exc
    row.ticket_id = ticket_id
    row.state = "escalated"
    if not row.acked_by:
        row.acked_by, row.acked_at = actor.id, at
    row.updated_at = at
    return row


def request_report(session: Session, warning_id: int, actor: str, at: float) -> WarningRow:
    """A special report (专报) on the warning: a report_runs row (kind special, state
    requested) over the event's period, for the report builder; idempotent."""
    row = get(session, warning_id, for_update=True)
    if row.report_id is not None:
        return row
    run = ReportRun(
        kind="special",
        title=f"专报：{row.title}"[:200],
        period_from=row.onset_at,
        period_to=max(row.detected_at, row.updated_at),
        params=json.dumps(
            {"warning_id": row.id, "kind": row.kind, "district": row.district, "topic": row.topic},
            ensure_ascii=False,
        ),
        figures="{}",
        files="[]",
        actor=actor,
        state="requested",
        started_at=at,
        finished_at=None,
        error="",
    )
    session.add(run)
    session.flush()
    row.report_id = run.id
    row.updated_at = at
    return row


def view(row: WarningRow) -> dict[str, Any]:
    """The warning as JSON (without its evidence)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "key": row.key,
        "title": row.title,
        "level": row.level,
        "score": row.score,
        "district": row.district,
        "topic": row.topic,
        "onset_at": row.onset_at,
        "detected_at": row.detected_at,
        "state": row.state,
        "acked_by": row.acked_by,
        "acked_at": row.acked_at,
        "ticket_id": row.ticket_id,
        "report_id": row.report_id,
        "updated_at": row.updated_at,
    }
