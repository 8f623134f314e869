"""Writes the domain events of calls and agents into the store (and the queue_log file).

Events are drained in batches and written in one transaction on a worker thread, so the
event loop never waits on the database. A failed write is retried with back-off: events are
never dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from callcenter import domain
from callcenter.bus import Subscription
from callcenter.data.crypto import FieldCipher
from callcenter.masking import mask_phone
from callcenter.queue_log import (
    LEAVE_EVENT,
    QUEUE_NAME,
    TRANSFER_CONTEXT,
    Members,
    QueueLogWriter,
    agent_status_lines,
    format_line,
    member,
    queue_log_lines,
    seconds,
)
from callcenter.retry import until_done
from callcenter.storage.database import Database
from callcenter.storage.schema import (
    AgentStatusRecord,
    CallbackAttemptRecord,
    CallbackRecord,
    CallRecord,
    EmergencyLink,
    QueueEvent,
)

log = logging.getLogger(__name__)

FALLBACK_QUEUE = "cc-fallback"  # app_queue's queue of the dialplan's fallback route


class CallRecorder:
    def __init__(
        self,
        database: Database,
        subscription: Subscription,
        queue_log: QueueLogWriter | None = None,
        max_batch: int = 500,
        *,
        cipher: FieldCipher,
        linger: float = 0.0,
    ) -> None:
        """`linger`: seconds to wait after an event before writing, so the events that follow
        it (a join is followed by its offer within milliseconds) go in the same transaction,
        and the write's thread does not compete with the owner task while it routes the call."""
        self.database = database
        self.cipher = cipher
        self.subscription = subscription
        self.queue_log = queue_log
        self.max_batch = max_batch
        self.linger = linger
        self.written = 0
        self.batches = 0

    async def run(self) -> None:
        closed = False
        while not closed:
            first = await self.subscription.get()
            if first is None:
                return
            if self.linger > 0:
                await asyncio.sleep(self.linger)
            batch: list[domain.DomainEvent] = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self.subscription.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if item is None:
                    closed = True
                    break
                batch.append(item)
            await self._write(batch)

    async def _write(self, batch: Sequence[domain.DomainEvent]) -> None:
        members = self.queue_log.members if self.queue_log is not None else None
        lines = await until_done(
            lambda: self.database.transaction(lambda s: apply(s, batch, self.cipher, members)),
            f"storing {len(batch)} events",
            first=0.2,
            cap=10.0,
        )
        self.written += len(batch)
        self.batches += 1
        if self.queue_log is not None:
            for line in lines:
                self.queue_log.write(line)
            self.queue_log.flush()


def apply(
    session: Session,
    batch: Sequence[domain.DomainEvent],
    cipher: FieldCipher,
    members: Members | None = None,
) -> list[str]:
    """Write a batch; returns its queue_log lines, in order (agents named as `members`
    says). A caller announced again (found by a snapshot after a restart or a reconnect)
    already has its record: it gets no second ENTERQUEUE, in the table or the file.
    Citizens' numbers are stored as ciphertext with their blind index (`cipher`)."""
    lines: list[str] = []
    for e in batch:
        again = isinstance(e, domain.CallerJoined) and _known(session, e.call_id)
        if not again:
            lines += queue_log_lines(e, members)
        if isinstance(e, domain.CallerJoined):
            row = session.get(CallRecord, e.call_id)
            if row is None:
                session.add(_call_row(e, e.at, cipher))
                _event(session, e.at, e.call_id, "NONE", "ENTERQUEUE", did=e.did)
            else:  # re-announced after an engine restart: keep the first record
                row.priority = e.priority
        elif isinstance(e, domain.OfferRejected):
            # a refusal or a failure is not a no-answer: its own event, with the SIP response
            name = {"no_answer": "RINGNOANSWER", "refused": "RINGREFUSED"}.get(
                e.reason, "RINGFAILED"
            )
            _event(
                session,
                e.at,
                e.call_id,
                e.agent_id,
                name,
                ring_ms=int(e.ring_seconds * 1000),
                reason=e.reason,
                cause=e.cause,
            )
        elif isinstance(e, domain.OfferCancelled):
            # the engine stopped the ring (agent paused / logged out, caller gone): no miss
            _event(
                session,
                e.at,
                e.call_id,
                e.agent_id,
                "RINGCANCELED",
                ring_ms=int(e.ring_seconds * 1000),
                reason=e.reason,
            )
        elif isinstance(e, domain.CallConnected):
            row = session.get(CallRecord, e.call_id)
            if row is not None:
                row.agent_id = e.agent_id
                row.connected_at = e.at
            _event(
                session,
                e.at,
                e.call_id,
                e.agent_id,
                "CONNECT",
                holdtime=round(e.waited, 3),
                ring_ms=round(e.ring_seconds * 1000),
                agent_leg=e.agent_leg,
            )
        elif isinstance(e, domain.CallerLeft):
            row = session.get(CallRecord, e.call_id)
            if row is not None:
                row.left_at = e.at
                row.leave_reason = e.reason
                row.waited = e.waited
                row.position = e.position
            if e.reason in LEAVE_EVENT:
                _event(
                    session,
                    e.at,
                    e.call_id,
                    "NONE",
                    LEAVE_EVENT[e.reason],
                    position=e.position,
                    origposition=e.original_position,
                    waittime=round(e.waited, 3),
                    reason=e.reason,
                )
        elif isinstance(e, domain.CallFinished):
            row = session.get(CallRecord, e.call_id)
            if row is not None:
                row.ended_at = e.at
                # after a transfer the earlier segments' talk is already there
                row.talk_seconds = (row.talk_seconds or 0.0) + e.talk_seconds
            _event(
                session,
                e.at,
                e.call_id,
                e.agent_id,
                "COMPLETECALLER" if e.ended_by == "caller" else "COMPLETEAGENT",
                holdtime=round(e.held, 3),
                calltime=round(e.talk_seconds, 3),
                origposition=e.original_position,
            )
        elif isinstance(e, domain.CallTransferred):
            row = session.get(CallRecord, e.call_id)
            if row is not None:
                # the row keeps the skill it entered with; each segment's talk adds up
                row.talk_seconds = (row.talk_seconds or 0.0) + e.talk_seconds
            _event(
                session,
                e.at,
                e.call_id,
                e.agent_id,
                "BLINDTRANSFER",
                exten=e.skill,
                context=TRANSFER_CONTEXT,
                holdtime=round(e.held, 3),
                calltime=round(e.talk_seconds, 3),
                origposition=e.original_position,
                to_agent=e.to_agent,
            )
        elif isinstance(e, domain.AgentStateChanged):
            status = session.get(AgentStatusRecord, e.agent_id)
            previous = status.status if status is not None else "logged_out"
            if status is None:
                status = AgentStatusRecord(
                    agent_id=e.agent_id, status=e.status, reason=e.reason, updated_at=e.at
                )
                session.add(status)
            status.status, status.reason, status.updated_at = e.status, e.reason, e.at
            for name in _status_events(previous, e.status):
                _event(session, e.at, "NONE", e.agent_id, name, reason=e.reason)
            lines += agent_status_lines(e.at, e.agent_id, previous, e.status, e.reason, members)
        elif isinstance(e, domain.EmergencyLinked):
            session.add(
                EmergencyLink(
                    call_id=e.call_id,
                    line=e.line,
                    mode=e.mode,
                    actor=e.actor,
                    target=e.target,
                    status=e.status,
                    at=e.at,
                )
            )
        elif isinstance(e, domain.CallReconciled):
            lines += _reconcile(session, e, cipher, members)
        elif isinstance(
            e,
            domain.CallbackRequested
            | domain.CallbackAttempt
            | domain.CallbackScheduled
            | domain.CallbackClosed,
        ):
            _callback(session, e, cipher)
        session.flush()
    return lines


def _callback(
    session: Session,
    e: domain.CallbackRequested
    | domain.CallbackAttempt
    | domain.CallbackScheduled
    | domain.CallbackClosed,
    cipher: FieldCipher,
) -> None:
    if isinstance(e, domain.CallbackRequested):
        if session.get(CallbackRecord, e.call_id) is None:
            number, index = cipher.seal_phone(e.number)
            session.add(
                CallbackRecord(
                    call_id=e.call_id,
                    node=e.node,
                    number=number,
                    number_hash=index,
                    skill=e.skill,
                    priority=e.priority,
                    arrived_at=e.arrived_at,
                    requested_at=e.at,
                    state="waiting",
                    attempts=0,
                    due_at=0.0,
                    agent_id="",
                    updated_at=e.at,
                    kind=e.kind,
                    missed_call_id=e.missed_call_id,
                    missed_reason=e.reason,
                )
            )
        return
    row = session.get(CallbackRecord, e.call_id)
    if row is None:
        log.warning("callback %s: no record to update", e.call_id)
        return
    row.updated_at = e.at
    if isinstance(e, domain.CallbackAttempt):
        session.add(
            CallbackAttemptRecord(
                call_id=e.call_id,
                attempt=e.attempt,
                agent_id=e.agent_id,
                outcome=e.outcome,
                at=e.at,
            )
        )
        row.state, row.attempts, row.agent_id = "dialing", e.attempt, e.agent_id
        if e.outcome == "agent" and row.first_dialed_at is None:
            row.first_dialed_at = e.at
    elif isinstance(e, domain.CallbackScheduled):
        row.state, row.attempts, row.due_at = "scheduled", e.attempts, e.due_at
    else:
        row.state, row.attempts = e.outcome, e.attempts


def _reconcile(
    session: Session, e: domain.CallReconciled, cipher: FieldCipher, members: Members | None
) -> list[str]:
    """Fill what the call's record is missing from what the PBX kept, with the queue events
    of what was missing (a fallback caller's answer in the fallback queue, as app_queue
    logs it); a complete record is left as it is. Returns the queue_log lines."""
    lines: list[str] = []

    def event(
        at: float, agent: str, name: str, log_data: tuple[object, ...], **data: object
    ) -> None:
        queue = FALLBACK_QUEUE if data.get("queue") == FALLBACK_QUEUE else QUEUE_NAME
        _event(session, at, e.call_id, agent, name, **data)
        written = member(members, agent).name if agent != "NONE" else agent
        lines.append(format_line(at, e.call_id, written, name, *log_data, queue=queue))

    row = session.get(CallRecord, e.call_id)
    if row is None:
        row = _call_row(e, e.joined_at, cipher)
        session.add(row)
        number = mask_phone(e.caller_number)
        event(e.joined_at, "NONE", "ENTERQUEUE", ("", number, 1), did=e.did)
    answered = bool(e.agent_id and e.connected_at)
    fallback = {"queue": FALLBACK_QUEUE} if e.route == "fallback" else {}
    if row.left_at is None:
        if e.route == "fallback":
            row.left_at, row.leave_reason = e.fellback_at, "fallback"
            row.waited = e.fellback_at - row.joined_at
            wait = round(row.waited, 3)
            log_data: tuple[object, ...] = (1, 1, seconds(row.joined_at, e.fellback_at))
            event(
                row.left_at, "NONE", "EXITWITHTIMEOUT", log_data, waittime=wait, reason="fallback"
            )
        elif answered:
            row.left_at, row.leave_reason = e.connected_at, "answered"
            row.waited = e.connected_at - row.joined_at
        else:
            row.left_at, row.leave_reason = e.ended_at, "abandoned"
            row.waited = e.ended_at - row.joined_at
            wait = round(row.waited, 3)
            log_data = (1, 1, seconds(row.joined_at, e.ended_at))
            event(e.ended_at, "NONE", "ABANDON", log_data, waittime=wait, reason="abandoned")
    if answered and row.agent_id is None:
        row.agent_id, row.connected_at = e.agent_id, e.connected_at
        if e.route == "fallback":
            row.waited = e.connected_at - row.joined_at  # the citizen's wait, both routes
            number = mask_phone(e.caller_number)
            event(e.fellback_at, "NONE", "ENTERQUEUE", ("", number, 1), did=e.did, **fallback)
        hold = e.connected_at - (e.fellback_at or row.joined_at)
        # the agent channel's uniqueid is not kept by the PBX's record: left empty
        log_data = (seconds(e.fellback_at or row.joined_at, e.connected_at), "", 0)
        event(e.connected_at, e.agent_id, "CONNECT", log_data, holdtime=round(hold, 3), **fallback)
    if answered and row.ended_at is None and row.connected_at is not None:
        row.ended_at = e.ended_at
        row.talk_seconds = max(0.0, e.ended_at - row.connected_at)
        talk = round(row.talk_seconds, 3)
        start = e.fellback_at or row.joined_at
        log_data = (seconds(start, row.connected_at), seconds(row.connected_at, e.ended_at), 1)
        event(
            e.ended_at,
            row.agent_id or e.agent_id,
            "COMPLETEAGENT",
            log_data,
            calltime=talk,
            **fallback,
        )
    return lines


def _call_row(
    e: domain.CallerJoined | domain.CallReconciled, joined_at: float, cipher: FieldCipher
) -> CallRecord:
    """A call's new record: the caller's number sealed (ciphertext and blind index)."""
    stored, index = cipher.seal_phone(e.caller_number)
    return CallRecord(
        call_id=e.call_id,
        node=e.node,
        did=e.did,
        hotline=e.hotline,
        region=e.region,
        caller_number=stored,
        caller_number_hash=index,
        skill=e.skill,
        priority=e.priority,
        joined_at=joined_at,
    )


def _known(session: Session, call_id: str) -> bool:
    return session.get(CallRecord, call_id) is not None


def _status_events(before: str, after: str) -> list[str]:
    if before == after:
        return []
    events = []
    if before == "logged_out":
        events.append("ADDMEMBER")
    if after == "logged_out":
        return ["REMOVEMEMBER"]
    if after == "on_break":
        events.append("PAUSE")
    elif before == "on_break":
        events.append("UNPAUSE")
    return events


def _event(
    session: Session, at: float, call_id: str, agent_id: str, name: str, **data: object
) -> None:
    session.add(
        QueueEvent(
            at=at,
            call_id=call_id,
            agent_id=agent_id,
            event=name,
            data=json.dumps(data, ensure_ascii=False),
        )
    )
