"""Where export feeds read from: `ticket_history` (append-only, one row per action) joined with
its ticket, turned into events stamped with the stage of GB/T 44192 5.1.

The pure parts are table-tested: `stage_of` (action -> stage), `safe_ids` (the gap rule that
keeps a feed from skipping a history row committed late with a smaller id) and
`event_department` (which department an event belongs to, as of that event).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.data.crypto import FieldCipher, clear_or_empty
from callcenter.storage.schema import Ticket, TicketHistory

Event = dict[str, object]

CST = timezone(timedelta(hours=8), "CST")

# GB/T 44192 5.1: 受理、派单、办理、答复、督办、办结、回访、评价.
STAGES: tuple[str, ...] = ("受理", "派单", "办理", "答复", "督办", "办结", "回访", "评价")

# Every history action (callcenter.tickets.actions, plus "accept" written at intake) and its
# stage. Review of a reply (审核通过 / 审核不通过) belongs to 答复; 退单 and 重办 to 办理.
STAGE_OF_ACTION: dict[str, str] = {
    "accept": "受理",
    "dispatch": "派单",
    "redispatch": "派单",
    "accept_handling": "办理",
    "return": "办理",
    "reopen": "办理",
    "reply": "答复",
    "reject_reply": "答复",
    "approve": "答复",
    "supervise": "督办",
    "close": "办结",
    "revisit": "回访",
    "evaluate": "评价",
}

ROUTING_ACTIONS = ("dispatch", "redispatch", "return")


def stage_of(action: str) -> str:
    """The stage of a history action; "" for an action this table does not know (such an
    event reaches only feeds that take every stage)."""
    return STAGE_OF_ACTION.get(action, "")


def safe_ids(
    cursor: int,
    ids: Sequence[int],
    first_seen: Mapping[int, float],
    now: float,
    grace: float,
) -> tuple[list[int], dict[int, float]]:
    """The gap rule. `ids` are the history ids read after `cursor`, ascending. A missing id
    may belong to a transaction that has not committed yet (PostgreSQL hands out ids before
    commit), so the ids safe to send stop at the first missing id, unless every id of that
    gap has been missing for longer than `grace` seconds (a rolled-back insert: skip it).

    Returns the safe ids (a prefix of `ids`) and when each missing id between `cursor` and
    the last id read was first seen missing (`first_seen`, or `now` for a new one)."""
    seen: dict[int, float] = {}
    safe: list[int] = []
    blocked = False
    expected = cursor + 1
    for current in ids:
        if current < expected:
            raise ValueError(f"ids must be ascending and above the cursor: {current}")
        missing = range(expected, current)
        for gap in missing:
            seen[gap] = first_seen.get(gap, now)
        if any(now - seen[gap] <= grace for gap in missing):
            blocked = True
        if not blocked:
            safe.append(current)
        expected = current + 1
    return safe, seen


def event_department(
    action: str, details: Mapping[str, str], before: str | None
) -> tuple[str | None, str | None]:
    """(the department this event belongs to, the ticket's department after it), given the
    department before it. A dispatch belongs to the department it goes to; a return (退单)
    to the department giving the ticket back, after which the ticket has none."""
    if action in ("dispatch", "redispatch"):
        target = details.get("department") or before
        return target, target
    if action == "return":
        return details.get("department") or before, None
    return before, before


def iso_cst(epoch: float) -> str:
    """ISO 8601 in China Standard Time, e.g. 2026-11-24T10:00:00.250+08:00."""
    return datetime.fromtimestamp(epoch, CST).isoformat(timespec="milliseconds")


def build_event(
    feed: str,
    history: TicketHistory,
    ticket: Ticket,
    department: str | None,
    cipher: FieldCipher | None = None,
) -> Event:
    """One feed event of one history row (before masking): the caller's number decrypted
    with `cipher` ('' without one or when no key can), for the feed's redactor to mask or
    send in clear."""
    details: dict[str, str] = json.loads(history.details or "{}")
    return {
        "event_id": f"{feed}:{history.id}",
        "seq": history.id,
        "ticket_number": ticket.number,
        "stage": stage_of(history.action),
        "action": history.action,
        "at": iso_cst(history.at),
        "status": history.to_status,
        "department": department,
        "request_type": ticket.request_type,
        "topic": ticket.topic,
        "channel": ticket.channel,
        "caller_number": clear_or_empty(cipher, ticket.caller_number),
        "title": ticket.title,
        "note": history.note,
        "rating": details.get("rating") if history.action == "evaluate" else None,
        "callback": details.get("outcome") if history.action == "revisit" else None,
        "details": details,
    }


@dataclass(frozen=True)
class Scan:
    events: list[Event]  # in history order, at most `batch`
    position: int  # the cursor once these events are acknowledged
    full: bool  # the batch is full: more may follow at once


def _departments(
    session: Session, rows: Sequence[tuple[TicketHistory, Ticket]]
) -> dict[int, str | None]:
    """The department of each row's event, from the routing actions of its ticket so far."""
    tickets = {h.ticket_id for h, _ in rows}
    prior = session.execute(
        select(TicketHistory.ticket_id, TicketHistory.action, TicketHistory.details)
        .where(
            TicketHistory.ticket_id.in_(tickets),
            TicketHistory.id < rows[0][0].id,
            TicketHistory.action.in_(ROUTING_ACTIONS),
        )
        .order_by(TicketHistory.id)
    )
    current: dict[int, str | None] = {}
    for ticket_id, action, details in prior:
        _, current[ticket_id] = event_department(
            action, json.loads(details), current.get(ticket_id)
        )
    result: dict[int, str | None] = {}
    for h, _ in rows:
        details = json.loads(h.details or "{}")
        result[h.id], current[h.ticket_id] = event_department(
            h.action, details, current.get(h.ticket_id)
        )
    return result


def scan(
    session: Session,
    feed: str,
    stages: Collection[str],
    department: str | None,
    after: int,
    batch: int,
    gaps: MutableMapping[int, float],
    now: float,
    grace: float,
    chunk: int = 500,
    cipher: FieldCipher | None = None,
) -> Scan:
    """The next batch of a feed's events after history id `after`: rows read in id order,
    cut at a gap still within its grace (see `safe_ids`), filtered by stage and department.
    `gaps` keeps when each missing id was first seen, across calls."""
    events: list[Event] = []
    position = after
    while True:
        rows: list[tuple[TicketHistory, Ticket]] = [
            (h, t)
            for h, t in session.execute(
                select(TicketHistory, Ticket)
                .join(Ticket, Ticket.id == TicketHistory.ticket_id)
                .where(TicketHistory.id > position)
                .order_by(TicketHistory.id)
                .limit(chunk)
            )
        ]
        if not rows:
            return Scan(events, position, False)
        safe, seen = safe_ids(position, [h.id for h, _ in rows], gaps, now, grace)
        gaps.update(seen)
        departments = _departments(session, rows)
        for h, t in rows[: len(safe)]:
            if stages and stage_of(h.action) not in stages:
                position = h.id
                continue
            if department is not None and departments[h.id] != department:
                position = h.id
                continue
            events.append(build_event(feed, h, t, departments[h.id], cipher))
            position = h.id
            if len(events) == batch:
                return Scan(events, position, True)
        if len(safe) < len(rows) or len(rows) < chunk:
            return Scan(events, position, False)
