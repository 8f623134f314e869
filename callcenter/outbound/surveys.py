"""The 回访 campaign: places due survey calls within pacing and calling hours, follows each
call's progress on the bus, and stores the outcome (the rating onto the ticket, a retry, or
a hand-over to a person). Storage work runs on worker threads; one task owns the state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from sqlalchemy.orm import Session

from callcenter import domain
from callcenter.bus import Subscription
from callcenter.data.crypto import FieldCipher
from callcenter.masking import mask_phone
from callcenter.outbound import survey_store as store
from callcenter.outbound.settings import OutboundSettings
from callcenter.pbx.base import OutboundCall
from callcenter.retry import until_done
from callcenter.storage.database import Database
from callcenter.tickets.settings import TicketSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

PlaceCall = Callable[[OutboundCall], bool]


@dataclass
class _Active:
    attempt: int
    started_at: float
    answered: bool = False
    digit: str = ""


@dataclass
class SurveyDialer:
    database: Database
    settings: OutboundSettings
    tickets: TicketSettings
    subscription: Subscription
    place_call: PlaceCall
    cipher: FieldCipher  # the numbers to call are stored encrypted
    clock: Callable[[], float] = time.time
    poll: float = 2.0
    active: dict[int, _Active] = field(default_factory=dict)
    started: list[float] = field(default_factory=list)
    finished: int = 0

    async def run(self) -> None:
        recovered = await self._db(lambda s: store.recover(s, self.clock()), "recovering surveys")
        if recovered:
            log.info("%d survey calls were in progress at the last stop: due again", recovered)
        while True:
            await self._place()
            try:
                event = await asyncio.wait_for(self.subscription.get(), self.poll)
            except TimeoutError:
                continue
            if event is None:
                return
            if isinstance(event, domain.SurveyEvent):
                await self._on_event(event)
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:  # drain what else arrived, in order
                    more = self.subscription.get_nowait()
                    if more is None:
                        return
                    if isinstance(more, domain.SurveyEvent):
                        await self._on_event(more)

    async def _place(self) -> None:
        if not self.settings.survey.enabled:
            return
        now = self.clock()
        pacing = self.settings.survey.pacing
        self.started = [t for t in self.started if t > now - 60.0]
        if pacing.next_start(now, len(self.active), self.started) != now:
            return
        slots = min(pacing.max_concurrent - len(self.active), pacing.per_minute - len(self.started))
        placed = await self._db(
            lambda s: store.place_due(s, self.settings, now, slots, self.cipher),
            "placing survey calls",
        )
        for p in placed:
            call = OutboundCall(
                ref=str(p.survey_id),
                attempt=p.attempt,
                number=p.number.lstrip("+"),
                timeout=self.settings.ring_timeout,
                caller_id=self.settings.caller_id,
            )
            if not self.place_call(call):
                await self._db(partial(_unplaced, survey_id=p.survey_id, now=now), "unplacing")
                continue
            self.active[p.survey_id] = _Active(p.attempt, now)
            self.started.append(now)
            log.info(
                "survey %d: calling %s (attempt %d)", p.survey_id, mask_phone(p.number), p.attempt
            )

    async def _on_event(self, e: domain.SurveyEvent) -> None:
        try:
            survey_id = int(e.survey_id)
        except ValueError:
            return
        call = self.active.get(survey_id)
        if call is None:
            return
        if e.result == "answered":
            call.answered = True
        elif e.result in ("1", "2", "3", "none"):
            call.digit = "" if e.result == "none" else e.result
        elif e.result.startswith("ended:"):
            status = e.result.split(":", 1)[1]
            del self.active[survey_id]
            state = await self._db(
                lambda s: store.finish(
                    s, survey_id, call.digit, status, self.settings, self.tickets, e.at
                ),
                f"storing survey {survey_id}",
            )
            self.finished += 1
            log.info("survey %d: attempt %d %s -> %s", survey_id, call.attempt, status, state)

    async def _db(self, work: Callable[[Session], T], what: str) -> T:
        return await until_done(lambda: self.database.transaction(work), what, first=0.5, cap=30.0)


def _unplaced(session: Session, survey_id: int, now: float) -> None:
    store.unplaced(session, survey_id, now)
