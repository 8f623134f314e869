"""An agent paused, put on break by a supervisor or logged out while its phone rings: the ring
stops at once, the caller goes to the next agent, and the agent is charged no miss."""

from __future__ import annotations

import pytest

from acd import commands as cmd
from acd.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    CallbackAccepted,
    CallerArrived,
    CallerHungUp,
    OfferFailed,
    TimerFired,
)
from acd.model import AgentSpec, QueuePolicy
from acd.states import Strategy
from tests.unit.acd.acdtable import Table, of


def two(strategy: Strategy = Strategy.LONGEST_IDLE) -> Table:
    agents = [AgentSpec(x, {"general": 3}) for x in ("a", "b")]
    t = Table(QueuePolicy(strategy=strategy, offer_timeout=15, max_no_answer=1), agents)
    t.at(0, AgentLoggedIn("a"))
    t.at(1, AgentLoggedIn("b"))
    return t


STOPS = [
    ("self_pause", AgentPaused("a", reason="lunch"), "paused"),
    ("supervisor_break", AgentPaused("a", reason="supervisor: meeting"), "paused"),
    ("login_not_ready", AgentLoggedIn("a", ready=False, reason="training"), "paused"),
    ("logout", AgentLoggedOut("a"), "logged_out"),
]


@pytest.mark.parametrize(("name", "stop", "cause"), STOPS, ids=[s[0] for s in STOPS])
def test_stopping_a_ringing_agent_offers_the_caller_to_the_next_agent_at_once(
    name: str, stop: object, cause: str
) -> None:
    t = two()
    assert of(cmd.Offer, t.at(10, CallerArrived("x", "general")))[0].agent_ids == ("a",)
    out = t.at(12.5, stop)
    assert of(cmd.CancelOffer, out) == [cmd.CancelOffer("x", ("a",))]
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("x", "a", cause, 2.5)]
    assert [o.agent_ids for o in of(cmd.Offer, out)] == [("b",)]  # same event, no wait
    assert cmd.CancelTimer(("offer", "x", 1)) in out  # the first ring's timeout is gone
    assert of(cmd.OfferRejected, out) == []  # no miss


@pytest.mark.parametrize(("name", "stop", "cause"), STOPS, ids=[s[0] for s in STOPS])
def test_stopping_a_ringing_agent_charges_no_miss(name: str, stop: object, cause: str) -> None:
    t = two()
    t.at(10, CallerArrived("x", "general"))
    out = t.at(12, stop)
    a = t.acd.agent("a")
    assert a.no_answer_count == 0
    assert not a.backing_off
    assert a.offered is None
    # max_no_answer=1: a miss would have auto-paused with reason no_answer
    assert a.reason != "no_answer"
    assert not [c for c in out if isinstance(c, cmd.SetTimer) and c.key[0] == "backoff"]
    # the PBX then reports the ring it hung up: nothing more happens
    assert t.at(12.2, OfferFailed("x", "a", "cancelled")) == []
    # the stale offer timer of the first ring does nothing either
    assert of(cmd.CancelOffer, t.at(25, TimerFired(("offer", "x", 1)))) == []


def test_pause_while_ringing_with_nobody_else_free_leaves_the_caller_waiting() -> None:
    t = two()
    t.at(5, AgentPaused("b"))
    t.at(10, CallerArrived("x", "general"))
    out = t.at(11, AgentPaused("a"))
    assert of(cmd.Offer, out) == []
    assert t.acd.caller("x") is not None
    assert t.acd.caller("x").state == "waiting"  # type: ignore[union-attr]


def test_ring_all_pause_stops_only_that_agents_ring() -> None:
    t = two(Strategy.RING_ALL)
    assert set(of(cmd.Offer, t.at(10, CallerArrived("x", "general")))[0].agent_ids) == {"a", "b"}
    out = t.at(11, AgentPaused("a"))
    assert of(cmd.CancelOffer, out) == [cmd.CancelOffer("x", ("a",))]
    assert of(cmd.Offer, out) == []  # b still rings
    assert t.acd.caller("x").agent_ids == ("b",)  # type: ignore[union-attr]


def test_pause_of_an_agent_not_ringing_cancels_nothing() -> None:
    t = two()
    out = t.at(10, AgentPaused("a"))
    assert of(cmd.CancelOffer, out) == [] and of(cmd.OfferCancelled, out) == []


@pytest.mark.parametrize(
    ("leave", "cause"),
    [(CallerHungUp("x"), "abandoned"), (TimerFired(("max_wait", "x", 0)), "timeout")],
)
def test_a_caller_leaving_while_ringing_cancels_the_ring_with_its_reason(
    leave: object, cause: str
) -> None:
    agents = [AgentSpec("a", {"general": 3})]
    t = Table(QueuePolicy(max_wait=60), agents)
    t.at(0, AgentLoggedIn("a"))
    t.at(100, CallerArrived("x", "general"))
    out = t.at(103, leave)
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("x", "a", cause, 3.0)]
    left = [i for i, c in enumerate(out) if isinstance(c, cmd.CallerLeft)]
    cancelled = [i for i, c in enumerate(out) if isinstance(c, cmd.OfferCancelled)]
    assert cancelled[0] < left[0]  # RINGCANCELED comes before ABANDON, as app_queue writes


def test_callback_taken_while_ringing_cancels_the_ring() -> None:
    t = two()
    t.at(10, CallerArrived("x", "general"))
    out = t.at(14, CallbackAccepted("x"))
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("x", "a", "callback", 4.0)]
