"""Every handled call becomes a ticket: when an answered call is over, a draft ticket (受理)
is created pre-filled from the call (caller, DID and merged hotline, region, skill, agent,
call id that links the recording); when its transcript arrives, the caller's words become
the ticket's content, the classifier's proposal is refreshed (until an agent confirmed it)
and the transcript becomes searchable."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import domain
from callcenter.bus import Subscription
from callcenter.data.crypto import FieldCipher
from callcenter.retry import until_done
from callcenter.storage.database import Database
from callcenter.storage.schema import Ticket
from callcenter.tickets import service as store
from callcenter.tickets.calendar import deadline
from callcenter.tickets.classifier import classify
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import TicketSettings

log = logging.getLogger(__name__)
SYSTEM = Actor("system", Role.AGENT)


@dataclass
class CallTicketMaker:
    database: Database
    settings: TicketSettings
    subscription: Subscription
    cipher: FieldCipher  # the caller's number is stored encrypted
    made: int = 0
    _joined: dict[str, domain.CallerJoined] = field(default_factory=dict)
    _agents: dict[str, str] = field(default_factory=dict)

    async def run(self) -> None:
        async for e in self.subscription:
            if isinstance(e, domain.CallerJoined):
                self._joined.setdefault(e.call_id, e)
            elif isinstance(e, domain.CallConnected):
                self._agents[e.call_id] = e.agent_id
            elif isinstance(e, domain.CallClosed):
                joined = self._joined.pop(e.call_id, None)
                agent = self._agents.pop(e.call_id, None)
                if joined is not None and agent is not None:
                    await self._create(joined, agent, e.at)

    async def _create(self, j: domain.CallerJoined, agent: str, at: float) -> None:
        intake = store.Intake(
            channel="phone",
            content="",
            caller_number=j.caller_number,
            call_id=j.call_id,
            did=j.did,
            hotline=j.hotline,
            region=j.region,
            skill=j.skill,
            agent_id=agent,
            ivr_path=j.ivr_path,
        )
        when = datetime.fromtimestamp(at, UTC)
        await until_done(
            lambda: self.database.transaction(lambda s: _once(s, self, intake, when)),
            f"creating the ticket of call {j.call_id}",
            first=0.5,
            cap=30.0,
        )
        self.made += 1


def _once(session: Session, maker: CallTicketMaker, intake: store.Intake, when: datetime) -> None:
    exists = session.scalars(select(Ticket.id).where(Ticket.call_id == intake.call_id)).first()
    if exists is None:
        store.create(session, maker.settings, intake, SYSTEM, when, cipher=maker.cipher)


def apply_transcript(
    session: Session, settings: TicketSettings, call_id: str, caller_text: str, full_text: str
) -> int:
    """Put a finished transcript on the call's tickets; returns how many were updated."""
    rows = session.scalars(select(Ticket).where(Ticket.call_id == call_id)).all()
    for row in rows:
        row.search_text = f"{row.search_text} {store.search_words(full_text)}".strip()
        if row.confirmed or row.content.strip():
            continue
        row.content = caller_text
        row.title = caller_text.strip()[:40]
        found = classify(settings.knowledge, caller_text)
        proposal = json.loads(row.proposal) if row.proposal else {}
        proposal.update(store.proposal_of(found, found.department))
        row.proposal = json.dumps(proposal, ensure_ascii=False)
        row.request_type = found.request_type
        row.topic = found.topic or ""
        created = datetime.fromtimestamp(row.created_at, UTC)
        due = deadline(settings.calendar, settings.deadlines, row.request_type, created)
        row.deadline = due.timestamp()
    return len(rows)
