"""The 回访 campaign against real storage (SQLite and PostgreSQL): scheduled when a ticket
reaches 办结, placed within pacing and calling hours, the DTMF rating written onto the ticket,
retries, the hand-over to a person, and recovery after a stop."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from callcenter import domain
from callcenter.bus import Bus
from callcenter.data.crypto import ephemeral_cipher
from callcenter.outbound import survey_store as surveys
from callcenter.outbound.policy import CallingHours, Pacing, RetryPolicy
from callcenter.outbound.settings import OutboundSettings, SurveySettings
from callcenter.outbound.surveys import SurveyDialer
from callcenter.pbx.base import OutboundCall
from callcenter.storage.database import Database
from callcenter.storage.schema import Survey
from callcenter.tickets import service as store
from callcenter.tickets.actions import AcceptHandling, Action, Approve, Close, Dispatch, Reply
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import TicketSettings, load_ticket_settings
from ivr.model import TimeRange

REPO = Path(__file__).resolve().parents[2]
CIPHER = ephemeral_cipher()
ADMIN = Actor("admin", Role.ADMIN)
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
NOW = T0.timestamp() + 3600
OUTBOUND = OutboundSettings(
    survey=SurveySettings(delay=0.0, retry=RetryPolicy(2, (60.0,)), pacing=Pacing(1, 10))
)


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(REPO / "config")


def closed_ticket(database: Database, settings: TicketSettings, number: str) -> int:
    intake = store.Intake(channel="phone", content="路灯不亮", caller_number=number)
    made = database.transaction(
        lambda s: store.create(s, settings, intake, ADMIN, T0, cipher=CIPHER)
    )
    tid = made.ticket.id
    steps: list[Action] = [Dispatch("power"), AcceptHandling(), Reply("已修复"), Approve(), Close()]
    for i, action in enumerate(steps, 1):
        row, _ = database.transaction(
            partial(
                store.transition,
                settings=settings,
                ticket_id=tid,
                action=action,
                actor=ADMIN,
                at=T0 + timedelta(minutes=i),
            )
        )
    database.transaction(lambda s: surveys.schedule(s, store.get(s, tid), OUTBOUND, NOW, CIPHER))
    return tid


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def run_dialer(
    database: Database,
    settings: TicketSettings,
    events: list[tuple[str, str]],
    clock: Clock,
    outbound: OutboundSettings = OUTBOUND,
) -> tuple[SurveyDialer, list[OutboundCall]]:
    """Run the campaign: every call placed gets the (result) events given for it."""
    bus = Bus()
    placed: list[OutboundCall] = []

    def place(call: OutboundCall) -> bool:
        placed.append(call)
        for result, _ in events:
            bus.publish(domain.SurveyEvent(call.ref, result, clock()))
        return True

    dialer = SurveyDialer(
        database, outbound, settings, bus.subscribe("surveys"), place, CIPHER, clock, poll=0.01
    )
    task = asyncio.create_task(dialer.run())
    for _ in range(200):
        await asyncio.sleep(0.01)
        if dialer.finished >= len(placed) and placed:
            break
    bus.close()
    await task
    return dialer, placed


async def test_44190_6_2_3_a_rating_by_dtmf_becomes_the_tickets_evaluation(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    tid = closed_ticket(database, settings, "13800000001")
    _, placed = await run_dialer(
        database, settings, [("answered", ""), ("1", ""), ("ended:answered", "")], Clock(NOW)
    )
    assert [(c.ref, c.attempt, c.number) for c in placed] == [("1", 1, "13800000001")]
    with database.session() as s:
        state = store.state_of(store.get(s, tid))
        assert (state.status, state.rating) == ("evaluated", "满意")
        found = surveys.of_ticket(s, tid)
    assert found is not None and found["state"] == "rated" and found["rating"] == "满意"
    assert [c["outcome"] for c in found["calls"]] == ["rated:1"]  # type: ignore[attr-defined]


async def test_unsatisfied_reopens_the_ticket_per_config(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    tid = closed_ticket(database, settings, "13800000002")
    await run_dialer(
        database, settings, [("answered", ""), ("3", ""), ("ended:answered", "")], Clock(NOW)
    )
    with database.session() as s:
        state = store.state_of(store.get(s, tid))
        assert (state.status, state.rating, state.reopens) == ("handling", "不满意", 1)


async def test_no_answer_is_retried_then_handed_to_a_person(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    tid = closed_ticket(database, settings, "13800000003")
    clock = Clock(NOW)
    await run_dialer(database, settings, [("ended:no_answer", "")], clock)
    with database.session() as s:
        first = s.get(Survey, 1)
        assert first is not None and (first.state, first.attempts) == ("scheduled", 1)
        assert first.due_at == NOW + 60
    clock.now = NOW + 61
    await run_dialer(
        database, settings, [("answered", ""), ("none", ""), ("ended:answered", "")], clock
    )
    with database.session() as s:
        found = surveys.of_ticket(s, tid)
        assert store.get(s, tid).status == "closed"
        notes = [c.text for c in store.comments(s, tid)]
    assert found is not None and found["state"] == "manual"
    assert [c["outcome"] for c in found["calls"]] == ["no_answer", "no_input"]  # type: ignore[attr-defined]
    assert any("转人工回访" in n for n in notes)


async def test_surveys_wait_for_calling_hours_and_respect_pacing(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    for n in ("13800000004", "13800000005"):
        closed_ticket(database, settings, n)
    evening = CallingHours((TimeRange(20 * 60, 21 * 60),), "Asia/Shanghai")  # 20:00-21:00 only
    closed = replace(OUTBOUND, hours=evening)
    _, placed = await run_dialer(database, settings, [], Clock(NOW), closed)
    assert placed == []
    with database.session() as s:
        due = {r.due_at for r in s.query(Survey).all()}
    opening = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()  # 20:00 in Shanghai
    assert due == {opening}
    # open: one call at a time (max_concurrent = 1); the second waits for the first to end
    _, placed = await run_dialer(database, settings, [], Clock(opening), closed)
    assert len(placed) == 1


async def test_a_call_in_progress_at_a_stop_is_due_again(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    closed_ticket(database, settings, "13800000006")
    placed = database.transaction(lambda s: surveys.place_due(s, OUTBOUND, NOW, 5, CIPHER))
    assert len(placed) == 1
    assert database.transaction(lambda s: surveys.recover(s, NOW + 5)) == 1
    with database.session() as s:
        row = s.get(Survey, placed[0].survey_id)
        assert row is not None and (row.state, row.due_at) == ("scheduled", NOW + 5)


def test_a_ticket_without_a_number_goes_to_a_person(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    tid = closed_ticket(database, settings, "")
    with database.session() as s:
        found = surveys.of_ticket(s, tid)
    assert found is not None and found["state"] == "manual"


def test_metrics_read_ticket_survey_and_asr_counts_from_storage(
    database: Database, settings: TicketSettings
) -> None:
    from callcenter.live_figures.metrics import Metrics
    from callcenter.live_figures.model import LiveFigures
    from callcenter.storage.schema import AsrJob

    database.upgrade()
    closed_ticket(database, settings, "13800000007")
    closed_ticket(database, settings, "")
    database.transaction(
        lambda s: s.add_all(
            [
                AsrJob(call_id="a", created_at=NOW - 30, state="done", finished_at=NOW - 10),
                AsrJob(call_id="b", created_at=NOW - 5, state="pending"),
            ]
        )
    )
    m = Metrics(LiveFigures(), clock=lambda: NOW)
    counts = database.transaction(m.read_storage)
    assert dict(counts.tickets) == {"closed": 2}
    assert dict(counts.surveys) == {"scheduled": 1, "manual": 1}
    assert (counts.asr_pending, counts.asr_latencies) == (1, (20.0,))
    assert database.transaction(m.read_storage).asr_latencies == ()  # each job counted once


def test_a_call_that_could_not_be_placed_is_not_an_attempt(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    tid = closed_ticket(database, settings, "13800000008")
    placed = database.transaction(lambda s: surveys.place_due(s, OUTBOUND, NOW, 5, CIPHER))
    database.transaction(lambda s: surveys.unplaced(s, placed[0].survey_id, NOW))
    again = database.transaction(lambda s: surveys.place_due(s, OUTBOUND, NOW + 31, 5, CIPHER))
    assert [(p.survey_id, p.attempt) for p in again] == [(placed[0].survey_id, 1)]
    with database.session() as s:
        found = surveys.of_ticket(s, tid)
    assert found is not None and len(found["calls"]) == 1  # type: ignore[arg-type]
