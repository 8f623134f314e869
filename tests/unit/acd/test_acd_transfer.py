"""转专席: a connected caller sent to another skill's queue keeps its priority and its original
arrival, so it is ahead of that skill's later arrivals; the agent goes to wrap-up."""

from __future__ import annotations

import pytest

from acd import commands as cmd
from acd.errors import AgentUnavailable, InvalidTransition, UnknownAgent, UnknownCaller
from acd.events import (
    AgentLoggedIn,
    AgentPaused,
    AgentResumed,
    CallbackAccepted,
    CallEnded,
    CallerArrived,
    CallerTransferred,
    OfferAnswered,
)
from acd.model import AgentSpec, QueuePolicy
from tests.unit.acd.acdtable import Table, of

GENERAL = AgentSpec("g1", {"general": 5})
LABOR = AgentSpec("l1", {"labor": 5})
LABOR2 = AgentSpec("l2", {"labor": 3})


def center(*agents: AgentSpec) -> Table:
    t = Table(QueuePolicy(wrapup=30.0), agents)
    for a in agents:
        t.at(0, AgentLoggedIn(a.id))
    return t


def connected(t: Table, call_id: str, at: float, priority: int = 0) -> None:
    t.at(at, CallerArrived(call_id, "general", priority))
    assert t.last_offer() == (call_id, ("g1",))
    t.at(at + 1, OfferAnswered(call_id, "g1"))


def test_transferred_caller_is_ahead_of_later_arrivals_of_the_new_skill() -> None:
    t = center(GENERAL, LABOR)
    t.at(1, AgentPaused("l1", "meeting"))
    connected(t, "x", 10)
    t.at(20, CallerArrived("later", "labor"))  # arrived after x's original arrival
    out = t.at(40, CallerTransferred("x", "labor"))
    [tr] = of(cmd.CallTransferred, out)
    assert (tr.agent_id, tr.skill, tr.to_agent) == ("g1", "labor", "")
    assert (tr.talk_seconds, tr.held) == (29.0, 1.0)
    assert not of(cmd.CallFinished, out)
    assert [v.call_id for v in t.acd.queued()] == ["x", "later"]
    view = t.acd.caller("x")
    assert view is not None and (view.skill, view.state, view.arrived_at) == (
        "labor",
        "waiting",
        10,
    )
    assert t.acd.agent("g1").state == "wrap_up"
    out = t.at(50, AgentResumed("l1"))
    assert of(cmd.Offer, out) == [cmd.Offer("x", ("l1",), 15.0)]
    out = t.at(52, OfferAnswered("x", "l1"))
    [conn] = of(cmd.CallConnected, out)
    assert conn.waited == 12.0  # the new wait, counted from the transfer
    out = t.at(60, CallEnded("x", "caller"))
    [fin] = of(cmd.CallFinished, out)
    assert (fin.agent_id, fin.talk_seconds, fin.held) == ("l1", 8.0, 12.0)


def test_earlier_arrivals_of_the_new_skill_stay_ahead_and_priority_is_kept() -> None:
    t = center(GENERAL, LABOR)
    t.at(1, AgentPaused("l1"))
    t.at(5, CallerArrived("earlier", "labor"))
    t.at(6, CallerArrived("urgent_later", "labor", 5))
    connected(t, "x", 10, priority=5)
    t.at(11.5, CallerArrived("later", "labor", 0))
    t.at(30, CallerTransferred("x", "labor"))
    # priority first (x and urgent_later keep 5; urgent_later arrived first), then arrival
    assert [v.call_id for v in t.acd.queued()] == ["urgent_later", "x", "earlier", "later"]


def test_named_idle_agent_is_rung_at_once() -> None:
    t = center(GENERAL, LABOR, LABOR2)
    connected(t, "x", 10)
    out = t.at(20, CallerTransferred("x", "labor", "l2"))  # l1 idle longer, but l2 named
    assert of(cmd.Offer, out) == [cmd.Offer("x", ("l2",), 15.0)]
    [tr] = of(cmd.CallTransferred, out)
    assert tr.to_agent == "l2"


def test_transfer_refusals() -> None:
    t = center(GENERAL, LABOR, LABOR2)
    t.at(1, AgentPaused("l2"))
    with pytest.raises(UnknownCaller):
        t.at(2, CallerTransferred("nobody", "labor"))
    connected(t, "x", 10)
    with pytest.raises(UnknownAgent):
        t.at(20, CallerTransferred("x", "labor", "ghost"))
    with pytest.raises(AgentUnavailable):
        t.at(20, CallerTransferred("x", "labor", "l2"))  # on break
    with pytest.raises(AgentUnavailable):
        t.at(20, CallerTransferred("x", "labor", "g1"))  # no labor skill
    view = t.acd.caller("x")
    assert view is not None and view.state == "connected"  # nothing changed
    t.at(21, CallerArrived("w", "labor"))  # taken by l1 at once (offered)
    with pytest.raises(UnknownCaller):
        t.at(22, CallerTransferred("w", "general"))  # not connected


def test_a_callback_is_not_transferred() -> None:
    t = center(GENERAL)
    t.at(1, AgentPaused("g1"))
    t.at(2, CallerArrived("cb", "general"))
    t.at(3, CallbackAccepted("cb"))
    t.at(4, AgentResumed("g1"))
    t.at(5, OfferAnswered("cb", "g1"))
    with pytest.raises(InvalidTransition):
        t.at(6, CallerTransferred("cb", "labor"))
