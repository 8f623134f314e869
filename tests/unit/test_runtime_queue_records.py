"""The runtime carries the PBX's and the routing core's facts to the records: the agent
channel's id on the answer, who hung up first, positions, and cancelled rings."""

from __future__ import annotations

from callcenter import domain
from callcenter.pbx import base as pbx
from tests.unit.fakes import caller, eventually, running_runtime

NOBODY = "dialect"  # a shipped skill that no shipped agent has: callers wait forever


async def test_answer_carries_the_agent_channel_id_and_completion_who_hung_up() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1002", "1700000000.77"))
        await eventually(lambda: len(h.of(domain.CallConnected)) == 1)
        assert h.of(domain.CallConnected)[0].agent_leg == "1700000000.77"
        h.driver.emit(pbx.AgentLegEnded("a", "c1", "1002", "caller"))
        await eventually(lambda: len(h.of(domain.CallFinished)) == 1)
        (done,) = h.of(domain.CallFinished)
        assert (done.ended_by, done.original_position) == ("caller", 1)
        assert done.held >= 0.0


async def test_caller_hanging_up_on_a_connected_call_completed_by_the_caller() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1002", "x.1"))
        await eventually(lambda: len(h.of(domain.CallConnected)) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: len(h.of(domain.CallFinished)) == 1)
        assert h.of(domain.CallFinished)[0].ended_by == "caller"


async def test_join_position_and_original_position_of_a_leaving_caller() -> None:
    async with running_runtime() as h:
        for i, call_id in enumerate(("c1", "c2", "c3")):  # three numbers: no repeat caller
            h.driver.emit(caller(call_id, number=f"1381234567{i}", skill=NOBODY))
        await eventually(lambda: len(h.of(domain.CallerJoined)) == 3)
        assert [e.position for e in h.of(domain.CallerJoined)] == [1, 2, 3]
        h.driver.emit(pbx.CallerGone("a", "c1"))
        h.driver.emit(pbx.CallerGone("a", "c3"))
        await eventually(lambda: len(h.of(domain.CallerLeft)) == 2)
        left = [(e.call_id, e.position, e.original_position) for e in h.of(domain.CallerLeft)]
        assert left == [("c1", 1, 1), ("c3", 2, 3)]


async def test_caller_hanging_up_while_ringing_leaves_a_cancelled_ring() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: len(h.of(domain.OfferCancelled)) == 1)
        (ring,) = h.of(domain.OfferCancelled)
        assert (ring.call_id, ring.agent_id, ring.reason) == ("c1", "1002", "abandoned")
        assert h.of(domain.OfferRejected) == []


async def test_caller_channel_gone_first_after_the_agent_hung_up_is_completed_by_the_agent() -> (
    None
):
    """Asterisk may report the caller's Hangup before the agent leg's: the driver's `by`
    (whose HangupRequest came first) decides, not the order of the Hangups."""
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1002", "x.1"))
        await eventually(lambda: len(h.of(domain.CallConnected)) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1", "agent"))
        await eventually(lambda: len(h.of(domain.CallFinished)) == 1)
        assert h.of(domain.CallFinished)[0].ended_by == "agent"
        assert len(h.of(domain.CallFinished)) == 1
