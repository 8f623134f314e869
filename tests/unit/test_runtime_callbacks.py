"""Announcements and queued callbacks in the Runtime, driven through the fake PBX driver."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from acd import events as ev
from callcenter import domain
from callcenter.config import Config, load_config
from callcenter.outbound.callbacks import PendingCallback
from callcenter.outbound.policy import CallingHours, RetryPolicy
from callcenter.outbound.settings import AnnounceSettings, CallbackSettings, OutboundSettings
from callcenter.pbx import base as pbx
from ivr.model import TimeRange
from tests.unit.fakes import SHIPPED_CONFIG, caller, eventually, running_runtime

NOBODY = "dialect"  # no shipped agent has it: nobody staffed, no estimate
LABOR_AWAY = {"1002": ("on_break", "meeting")}  # 12333's only agent is away


def fast(offer_over: float = 30.0) -> Config:
    """The shipped config with quick announcements and retries, and no calling-hours limit."""
    cfg = load_config(SHIPPED_CONFIG)
    outbound = OutboundSettings(
        announce=AnnounceSettings(first_after=0.05, every=0.2, assumed_handle_time=60.0),
        callback=CallbackSettings(offer_when_wait_over=offer_over, retry=RetryPolicy(2, (0.05,))),
    )
    return replace(cfg, outbound=outbound, queue=replace(cfg.queue, wrapup=0.0))


async def test_waiting_caller_hears_position_and_a_callback_offer_when_nobody_can_take_it() -> None:
    async with running_runtime(fast()) as h:
        h.driver.emit(caller("c1", skill=NOBODY))
        await eventually(lambda: len(h.driver.announcements) >= 2)
        call_id, prompts, offered = h.driver.announcements[0]
        assert (call_id, prompts, offered) == ("c1", ("queue_next", "callback_offer"), True)
        said = h.of(domain.Announced)[0]
        assert (said.position, said.expected_wait, said.callback_offered) == (1, None, True)


async def test_short_expected_wait_is_announced_without_a_callback_offer() -> None:
    async with running_runtime(fast(offer_over=3600.0), agent_statuses=LABOR_AWAY) as h:
        await h.runtime.request(ev.AgentLoggedIn("1002", ready=True))
        for i in range(3):
            h.driver.emit(caller(f"busy{i}", did="12333", number=f"1390000000{i}"))
        await eventually(lambda: len(h.driver.announcements) >= 2)
        said = {e.call_id: e for e in h.of(domain.Announced)}
        # busy0 is ringing the only agent: busy2 has two ahead, 3 x 60 s over one agent
        assert said["busy2"].position == 3 and said["busy2"].expected_wait == 3 * 60.0
        assert not said["busy2"].callback_offered
        prompts = dict((c, p) for c, p, _ in h.driver.announcements)["busy2"]
        assert prompts == (
            "queue_ahead",
            "digit_liang",
            "queue_people",
            "queue_wait",
            "digit_3",
            "queue_minutes",
        )


async def test_anonymous_caller_is_not_offered_a_callback() -> None:
    async with running_runtime(fast()) as h:
        h.driver.emit(caller("c1", skill=NOBODY, number="anonymous"))
        await eventually(lambda: len(h.driver.announcements) >= 1)
        assert h.driver.announcements[0][2] is False


async def test_callback_keeps_the_place_then_reserves_an_agent_and_bridges() -> None:
    async with running_runtime(fast(), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(caller("c1", did="12333"))
        h.driver.emit(caller("c2", did="12333", number="13900000000"))
        await eventually(lambda: len(h.runtime.acd.queued()) == 2)
        h.driver.emit(pbx.CallbackRequested("a", "c1", "13812345678"))
        h.driver.emit(pbx.CallerGone("a", "c1"))  # the caller hangs up after the confirmation
        await eventually(lambda: bool(h.of(domain.CallbackRequested)))
        await eventually(
            lambda: (
                [(v.call_id, v.callback) for v in h.runtime.acd.queued()]
                == [("c1", True), ("c2", False)]
            )
        )
        assert [(e.call_id, e.reason) for e in h.of(domain.CallerLeft)] == [("c1", "callback")]

        await h.runtime.request(ev.AgentResumed("1002"))
        await eventually(lambda: len(h.driver.callbacks) == 1)
        call, agent, ring = h.driver.callbacks[0]
        assert (call.ref, call.attempt, call.number, call.caller_id, agent, ring) == (
            "c1",
            1,
            "13812345678",
            "12345",
            "1002",
            15.0,
        )
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))  # the reserved agent picks up
        await eventually(lambda: bool(h.of(domain.CallbackAttempt)))
        assert h.of(domain.CallConnected) == []  # nobody talks to the citizen yet
        h.driver.emit(pbx.CallbackDialed("a", "c1", "answered"))
        await eventually(lambda: len(h.of(domain.CallConnected)) == 1)
        h.driver.emit(pbx.AgentLegEnded("a", "c1", "1002"))
        h.driver.emit(pbx.CallbackDialed("a", "c1", "ended"))
        await eventually(lambda: bool(h.of(domain.CallbackClosed)))
        assert [(e.outcome, e.attempts) for e in h.of(domain.CallbackClosed)] == [("completed", 1)]
        assert [e.outcome for e in h.of(domain.CallbackAttempt)] == ["agent", "answered"]
        assert [e.call_id for e in h.of(domain.CallClosed)] == ["c1"]
        assert [e.call_id for e in h.of(domain.CallFinished)] == ["c1"]
        # the live caller behind it is next
        await eventually(lambda: [o[0] for o in h.driver.offers] == ["c2"])


async def test_unanswered_callback_is_retried_in_its_place_then_closed_unreached() -> None:
    async with running_runtime(fast(), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallbackRequested("a", "c1", "13812345678"))
        await eventually(lambda: bool(h.of(domain.CallbackRequested)))
        await h.runtime.request(ev.AgentResumed("1002"))
        for attempt in (1, 2):
            await eventually(lambda n=attempt: len(h.driver.callbacks) == n)  # type: ignore[misc]
            assert h.driver.callbacks[-1][0].attempt == attempt
            h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))
            h.driver.emit(pbx.CallbackDialed("a", "c1", "no_answer"))
            h.driver.emit(pbx.AgentLegEnded("a", "c1", "1002"))
            h.driver.emit(pbx.CallbackDialed("a", "c1", "ended"))
        await eventually(lambda: bool(h.of(domain.CallbackClosed)))
        assert [(e.outcome, e.attempts) for e in h.of(domain.CallbackClosed)] == [("unreached", 2)]
        assert [e.call_id for e in h.of(domain.CallClosed)] == ["c1"]
        assert [e.attempts for e in h.of(domain.CallbackScheduled)] == [1]
        assert [e.outcome for e in h.of(domain.CallbackAttempt)] == ["agent", "no_answer"] * 2
        assert h.of(domain.CallConnected) == [] and h.runtime.acd.queued() == []


async def test_agent_not_answering_the_reservation_costs_no_attempt() -> None:
    async with running_runtime(fast(), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallbackRequested("a", "c1", "13812345678"))
        await h.runtime.request(ev.AgentResumed("1002"))
        await eventually(lambda: len(h.driver.callbacks) == 1)
        h.driver.emit(pbx.AgentNotAnswered("a", "c1", "1002", "no_answer"))
        await eventually(lambda: bool(h.of(domain.OfferRejected)))
        assert h.of(domain.CallbackAttempt) == []
        assert [(v.call_id, v.callback) for v in h.runtime.acd.queued()] == [("c1", True)]


async def test_pending_callbacks_from_storage_are_queued_again_at_start() -> None:
    pending = [
        PendingCallback("old", "a", "13812345678", "labor", 0, time.time() - 3, 1, 0.0),
        PendingCallback("later", "a", "13812345679", "labor", 0, time.time() - 2, 0, 0.0),
    ]
    async with running_runtime(fast(), agent_statuses=LABOR_AWAY, pending_callbacks=pending) as h:
        await eventually(lambda: len(h.runtime.acd.queued()) == 2)
        assert [(v.call_id, v.callback) for v in h.runtime.acd.queued()] == [
            ("old", True),
            ("later", True),
        ]
        await h.runtime.request(ev.AgentResumed("1002"))
        await eventually(lambda: len(h.driver.callbacks) == 1)
        assert h.driver.callbacks[0][0].ref == "old"


async def test_callback_taken_while_an_agent_rings_out_of_calling_hours_waits_for_them() -> None:
    later = (datetime.now(ZoneInfo("Asia/Shanghai")).hour + 2) % 24  # closed now
    hours = CallingHours((TimeRange(later * 60, later * 60 + 60),), "Asia/Shanghai")
    cfg = fast()
    cfg = replace(cfg, outbound=replace(cfg.outbound, hours=hours))
    async with running_runtime(cfg, agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        await h.runtime.request(ev.AgentResumed("1002"))
        await eventually(lambda: [o[0] for o in h.driver.offers] == ["c1"])  # 1002 rings
        h.driver.emit(pbx.CallbackRequested("a", "c1", "13812345678"))
        await eventually(lambda: bool(h.of(domain.CallbackScheduled)))
        # off the queue until calling hours open, the agent's ring stopped, the place kept
        assert h.runtime.acd.queued() == []
        assert h.runtime.callbacks.callbacks["c1"].state == "scheduled"
        assert [e.call_id for e in h.of(domain.CallbackScheduled)] == ["c1"]
        assert [e.call_id for e in h.of(domain.CallerLeft)] == ["c1"]
        assert h.runtime.acd.agent("1002").state == "idle"
