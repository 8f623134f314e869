"""转专席 through the Runtime and a fake PBX driver: the PBX is told to put the caller back on
hold with the new skill, the next agent of that skill is rung, records show both segments."""

from __future__ import annotations

import pytest

from acd import events as ev
from acd.errors import AgentUnavailable, UnknownCaller
from callcenter import domain
from callcenter.pbx import base as pbx
from callcenter.queue_log import queue_log_lines
from tests.unit.fakes import caller, eventually, running_runtime


async def test_transfer_to_labor_rings_the_labor_agent_and_records_both_segments() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12345"))  # general: 1001 first
        await eventually(lambda: len(h.driver.offers) == 1)
        assert h.driver.offers[0][:2] == ("c1", ("1001",))
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1001"))
        await eventually(lambda: h.runtime.acd.agent("1001").state == "on_call")

        await h.runtime.transfer("c1", "labor")
        await eventually(lambda: len(h.driver.offers) == 2)
        assert h.driver.transfers == [("c1", "labor")]
        assert h.driver.offers[1][:2] == ("c1", ("1002",))
        assert h.runtime.acd.agent("1001").state == "wrap_up"
        assert h.runtime.calls["c1"].skill == "labor"
        await eventually(lambda: len(h.of(domain.CallTransferred)) == 1)
        [moved] = h.of(domain.CallTransferred)
        assert (moved.agent_id, moved.skill, moved.to_agent) == ("1001", "labor", "")
        [line] = queue_log_lines(moved)
        assert line.split("|")[3:6] == ["1001", "BLINDTRANSFER", "labor"]

        h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))
        await eventually(lambda: len(h.of(domain.CallConnected)) == 2)
        assert [e.agent_id for e in h.of(domain.CallConnected)] == ["1001", "1002"]
        h.driver.emit(pbx.AgentLegEnded("a", "c1", "1002", "agent"))
        await eventually(lambda: len(h.of(domain.CallFinished)) == 1)
        assert h.of(domain.CallFinished)[0].agent_id == "1002"


async def test_transfer_to_a_named_busy_agent_or_an_unconnected_call_is_refused() -> None:
    async with running_runtime() as h:
        with pytest.raises(UnknownCaller):
            await h.runtime.transfer("nobody", "labor")
        h.driver.emit(caller("c1", did="12345"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1001"))
        await eventually(lambda: h.runtime.acd.agent("1001").state == "on_call")
        await h.runtime.request(ev.AgentPaused("1002", "meeting"))
        with pytest.raises(AgentUnavailable):
            await h.runtime.transfer("c1", "labor", "1002")
        assert h.driver.transfers == []
        assert h.runtime.acd.agent("1001").state == "on_call"
