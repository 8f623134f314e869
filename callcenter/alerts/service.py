"""The live early warning: warm the engine with recent tickets, then each new ticket through
it (database work in a worker thread, one at a time), warnings saved, published on the bus
(`Bus.publish_warning`) and POSTed to the webhook when new or raised in level."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.alerts import store
from callcenter.alerts.engine import AlertEngine, TicketFacts
from callcenter.alerts.evaluate import engine_for, names_of
from callcenter.alerts.notify import WebhookError, body_of, deliver
from callcenter.alerts.settings import AlertSettings
from callcenter.bus import Bus, WarningRaised
from callcenter.data.crypto import FieldCipher, clear_or_empty
from callcenter.masking import mask_phone
from callcenter.storage.database import Database
from callcenter.storage.schema import Ticket
from callcenter.tickets.settings import TicketSettings

log = logging.getLogger(__name__)
COLUMNS = (
    Ticket.id,
    Ticket.created_at,
    Ticket.caller_number_hash,
    Ticket.grid,
    Ticket.topic,
    Ticket.title,
    Ticket.content,
    Ticket.search_text,
)


def facts(
    session: Session, ticket_id: int, cipher: FieldCipher | None = None
) -> TicketFacts | None:
    """The ticket as the detectors read it: the caller by the blind index of the number, and
    the number masked for a warning's title (decrypted with `cipher` to mask it; none
    without)."""
    r = session.execute(
        select(*COLUMNS, Ticket.caller_number).where(Ticket.id == ticket_id)
    ).first()
    if r is None:
        return None
    shown = mask_phone(clear_or_empty(cipher, r[8] or ""))
    return TicketFacts(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], shown)


class AlertService:
    def __init__(
        self,
        db: Database,
        settings: AlertSettings,
        tickets: TicketSettings,
        bus: Bus | None,
        cipher: FieldCipher | None = None,
    ) -> None:
        self.db = db
        self.cipher = cipher  # masks the caller's number in a repeat-caller warning's title
        self.settings = settings
        self.bus = bus
        self.engine: AlertEngine = engine_for(settings, tickets, names_of(db, tickets))
        self._lock = threading.Lock()
        self._last = 0.0

    def warm(self, now: float) -> int:
        """Feed the last `weeks` weeks (and the repeat windows) without saving: blocking."""
        days = max(7 * self.settings.surge.weeks, self.settings.repeat.caller_days)
        since = now - (days + 1) * 86400
        with self._lock, self.db.session() as s:
            rows = s.execute(
                select(*COLUMNS).where(Ticket.created_at >= since).order_by(Ticket.created_at)
            )
            n = 0
            for r in rows:
                self.engine.observe(TicketFacts(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]))
                self._last = r[1]
                n += 1
        return n

    def process(self, ticket_id: int) -> list[tuple[store.Saved, bytes]]:
        """Blocking: one ticket through the engine; the warnings it gives saved."""
        with self._lock:
            with self.db.session() as s:
                found = facts(s, ticket_id, self.cipher)
            if found is None or found.at < self._last:  # unknown, or already seen in warm
                return []
            self._last = found.at
            findings = self.engine.observe(found)
            if not findings:
                return []

            def work(s: Session) -> list[tuple[store.Saved, bytes]]:
                out = []
                for f in findings:
                    saved = store.save(s, f, time.time())
                    if saved.new or saved.raised:
                        out.append((saved, body_of(store.view(saved.row), f.evidence)))
                return out

            return self.db.transaction(work)

    async def on_ticket(self, ticket_id: int) -> list[int]:
        """A ticket was created: check it; returns the ids of warnings raised."""
        saved = await asyncio.to_thread(self.process, ticket_id)
        for s, body in saved:
            r = s.row
            if self.bus is not None:
                self.bus.publish_warning(
                    WarningRaised(r.id, r.kind, r.level, r.title, s.new, r.detected_at)
                )
            if self.settings.webhook.url:
                try:
                    await asyncio.to_thread(deliver, self.settings.webhook, body)
                except WebhookError as exc:
                    log.warning(
                        "warning %s: %s (%s)", r.id, exc, json.loads(body)["warning"]["key"]
                    )
        return [s.row.id for s, _ in saved]
