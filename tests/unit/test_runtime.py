"""The Runtime driven through a fake PBX driver: offers, answers, abandons, reconnects."""

from __future__ import annotations

import asyncio
import time

import pytest

from callcenter import domain
from callcenter.bus import Subscription
from callcenter.data.crypto import ephemeral_cipher
from callcenter.pbx import base as pbx
from tests.unit.fakes import caller, eventually, running_runtime, settle

NOBODY = "dialect"  # a shipped skill that no shipped agent has: callers wait forever


@pytest.mark.parametrize(
    ("did", "agent", "hotline"),
    [
        ("12345", "1001", "12345政务服务便民热线"),  # general: 1001 has proficiency 5
        ("12333", "1002", "12333人力资源和社会保障热线"),  # labor: only 1002
        ("12315", "1003", "12315市场监管投诉举报热线"),  # market: 1003 (5) beats 1001 (3)
        ("12369", "1003", "12369环保举报热线"),  # environment: only 1003
        ("12320", "1004", "12320卫生健康热线"),  # health: only 1004
        ("99999", "1001", "12345政务服务便民热线"),  # unknown DID: the default entry
    ],
)
async def test_caller_is_offered_to_the_agent_with_the_skill(
    did: str, agent: str, hotline: str
) -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did=did))
        await eventually(lambda: len(h.driver.offers) == 1)
        assert h.driver.offers == [("c1", (agent,), 15.0)]
        joined = h.of(domain.CallerJoined)
        assert len(joined) == 1
        assert joined[0].hotline == hotline
        assert [(e.call_id, e.agent_ids) for e in h.of(domain.OfferMade)] == [("c1", (agent,))]
        assert h.runtime.acd.agent(agent).state == "offered"


async def test_agent_answers_then_call_finishes() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))
        await eventually(lambda: h.stats.answered == 1)
        assert [(e.call_id, e.agent_id) for e in h.of(domain.CallConnected)] == [("c1", "1002")]
        assert h.runtime.acd.agent("1002").state == "on_call"
        assert h.runtime.acd.queued() == []
        assert h.stats.waiting == set()

        h.driver.emit(pbx.AgentLegEnded("a", "c1", "1002"))
        await eventually(lambda: h.stats.finished == 1)
        assert h.runtime.acd.agent("1002").state == "wrap_up"


async def test_caller_hangs_up_while_waiting_is_abandoned() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", skill=NOBODY))
        await eventually(lambda: h.stats.joined == 1)
        assert [v.call_id for v in h.runtime.acd.queued()] == ["c1"]
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: h.stats.abandoned == 1)
        left = h.of(domain.CallerLeft)
        assert [(e.call_id, e.reason, e.position) for e in left] == [("c1", "abandoned", 1)]
        assert h.runtime.acd.queued() == []
        assert "c1" not in h.runtime.calls
        assert h.driver.offers == []
        assert h.driver.overflows == []  # an abandoned caller is not routed anywhere


async def test_caller_hangs_up_while_ringing_cancels_the_offer() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: h.stats.abandoned == 1)
        await eventually(lambda: h.driver.cancelled == [("c1", ("1002",))])
        assert h.runtime.acd.agent("1002").state == "idle"


async def test_agent_not_answering_offers_the_next_agent() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12345"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentNotAnswered("a", "c1", "1001", "no_answer"))
        await eventually(lambda: len(h.driver.offers) == 2)
        assert h.driver.offers[1][:2] == ("c1", ("1002",))  # general 4 is next
        assert h.stats.rejected == 1


@pytest.mark.parametrize(
    ("did", "calls_before", "expected"),
    [
        ("12345", 0, 0),  # first call, plain number
        ("12345", 1, 3),  # repeat caller within 24 h: +3
        ("12349", 0, 5),  # the elderly line has priority 5 of its own
        ("12349", 1, 8),
    ],
)
async def test_caller_priority_from_rules(did: str, calls_before: int, expected: int) -> None:
    number = "13900001111"
    recent = [(number, time.time() - 60)] * calls_before
    async with running_runtime(recent_callers=recent) as h:
        h.driver.emit(caller("c1", did=did, number=number, skill=NOBODY))
        await eventually(lambda: h.stats.joined == 1)
        joined = h.of(domain.CallerJoined)
        assert joined[0].priority == expected
        assert h.runtime.acd.queued()[0].priority == expected
        await settle()
        # the effective priority is kept on the PBX only when it differs from the dialplan's
        assert h.driver.priorities == ([("c1", expected)] if expected else [])


async def test_repeat_callers_are_keyed_by_the_blind_index() -> None:
    """The stored calls give the blind index of their numbers (nothing decrypted): a new
    call from the same number, written differently, is a repeat caller (+3)."""
    cipher = ephemeral_cipher()
    recent = [(cipher.phone_index("13900001111"), time.time() - 60)]
    async with running_runtime(recent_callers=recent, caller_key=cipher.phone_index) as h:
        h.driver.emit(caller("c1", number="+86 139 0000 1111", skill=NOBODY))
        h.driver.emit(caller("c2", number="13700002222", skill=NOBODY))
        await eventually(lambda: h.stats.joined == 2)
        assert [e.priority for e in h.of(domain.CallerJoined)] == [3, 0]


async def test_second_call_of_same_number_is_a_repeat_caller() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", number="13900002222", skill=NOBODY))
        h.driver.emit(caller("c2", number="13900002222", skill=NOBODY))
        await eventually(lambda: h.stats.joined == 2)
        assert [e.priority for e in h.of(domain.CallerJoined)] == [0, 3]
        # the repeat caller (priority 3) is ahead of the first one
        assert [v.call_id for v in h.runtime.acd.queued()] == ["c2", "c1"]


async def test_link_down_then_up_keeps_callers_found_by_snapshot() -> None:
    async with running_runtime() as h:
        keep = caller("keep", skill=NOBODY)
        gone = caller("gone", skill=NOBODY)
        h.driver.emit(keep)
        h.driver.emit(gone)
        await eventually(lambda: h.stats.joined == 2)

        h.driver.emit(pbx.LinkDown("a", "connection reset"))
        await eventually(lambda: h.runtime.link_up["a"] is False)
        assert [e.up for e in h.of(domain.PbxConnection)][-1] is False

        # while down, "gone" hung up; the snapshot after reconnect only finds "keep"
        h.driver.snapshot_result = [
            pbx.CallerEntered(**{**keep.__dict__, "restored": True}),
        ]
        h.driver.emit(pbx.LinkUp("a"))
        await eventually(lambda: h.stats.abandoned == 1)

        assert h.runtime.link_up["a"] is True
        assert h.runtime.reconnects["a"] == 2
        assert [v.call_id for v in h.runtime.acd.queued()] == ["keep"]
        assert set(h.runtime.calls) == {"keep"}
        assert h.stats.joined == 2  # the replayed CallerJoined of "keep" is not counted twice
        assert h.stats.waiting == {"keep"}
        left = [(e.call_id, e.reason) for e in h.of(domain.CallerLeft)]
        assert left == [("gone", "abandoned")]


async def test_reconnect_restores_connected_call_and_reoffers_ringing_caller() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("talk", did="12345"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "talk", "1001"))
        ringing = caller("ring", did="12333")
        h.driver.emit(ringing)
        await eventually(lambda: len(h.driver.offers) == 2)
        assert h.driver.offers[1][:2] == ("ring", ("1002",))

        h.driver.emit(pbx.LinkDown("a", "timeout"))
        h.driver.snapshot_result = [
            pbx.CallInProgress("a", "talk", "1001", "general", time.time()),
            pbx.CallerEntered(**{**ringing.__dict__, "restored": True}),
        ]
        h.driver.emit(pbx.LinkUp("a"))
        # the offer in flight may never have reached the PBX: it is made again
        await eventually(lambda: len(h.driver.offers) == 3)
        assert h.driver.offers[2][:2] == ("ring", ("1002",))
        assert h.runtime.acd.agent("1001").state == "on_call"
        assert h.stats.abandoned == 0
        assert h.stats.rejected == 0  # a cancelled offer is not the agent's fault


async def test_heartbeat_is_sent_while_link_is_up() -> None:
    async with running_runtime() as h:
        await eventually(lambda: len(h.driver.heartbeats) >= 1, timeout=3.0)


async def test_stop_closes_the_driver() -> None:
    async with running_runtime() as h:
        driver = h.driver
        assert driver.connects == 1
        assert driver.snapshots == 1
    assert driver.closed


async def test_an_arriving_caller_is_offered_within_three_loop_passes() -> None:
    """The join->ring path through the runtime: the pump hands the event to the owner, the
    owner decides and queues the offer, the node's sender sends it; no helper task between
    (the owner once waited on its inbox through wait_for, a task of its own: five passes)."""
    async with running_runtime() as h:
        # a timer pending (as there is while any offer rings): the owner waits with a deadline
        h.runtime.timers.set(("test", "", 0), time.time() + 3600)
        h.driver.emit(caller("c0", did="12345", skill=NOBODY))
        await settle()
        h.driver.emit(caller("c1", did="12345"))
        for _ in range(3):
            await asyncio.sleep(0)
        assert h.driver.offers == [("c1", ("1001",), 15.0)]


async def test_the_ring_goes_to_the_pbx_before_any_subscriber_hears_of_the_join() -> None:
    """The owner's step holds its domain events until it ends (bus.held): the node's sender,
    woken by the offer, runs before storage, statistics or the console see the join."""
    async with running_runtime() as h:
        seen: list[tuple[str, int]] = []  # (event, offers the driver had been asked for)

        async def probe(subscription: Subscription) -> None:
            async for e in subscription:
                seen.append((type(e).__name__, len(h.driver.offers)))

        task = asyncio.create_task(probe(h.bus.subscribe("probe")))
        try:
            h.driver.emit(caller("c1", did="12333"))
            await eventually(lambda: ("OfferMade", 1) in seen)
        finally:
            task.cancel()
        assert ("CallerJoined", 1) in seen  # the offer was out when the join was heard
        names = [name for name, _ in seen]
        assert names.index("CallerJoined") < names.index("OfferMade")  # order kept
