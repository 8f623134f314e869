"""Queued callback (keep your place) and expected-wait rules of the routing core."""

from __future__ import annotations

import pytest

from acd import commands as cmd
from acd.errors import UnknownCaller
from acd.events import (
    AgentLoggedIn,
    AgentPaused,
    AgentResumed,
    CallbackAccepted,
    CallEnded,
    CallerArrived,
    CallerWithdrawn,
    OfferAnswered,
    OfferFailed,
    TimerFired,
)
from acd.model import AgentSpec, QueuePolicy
from acd.states import Strategy
from tests.unit.acd.acdtable import Table, of

A = AgentSpec("a", {"general": 5})
B = AgentSpec("b", {"general": 5})
LABOR = AgentSpec("l", {"labor": 5})


def center(*agents: AgentSpec, **policy: object) -> Table:
    t = Table(QueuePolicy(**policy), agents)  # type: ignore[arg-type]
    for a in agents:
        t.at(0, AgentLoggedIn(a.id))
    return t


def test_callback_keeps_the_callers_place_in_the_queue() -> None:
    t = center(A)
    t.at(1, AgentPaused("a"))
    t.at(2, CallerArrived("first", "general"), CallerArrived("second", "general"))
    t.at(3, CallbackAccepted("first"))
    assert [(v.call_id, v.callback) for v in t.acd.queued()] == [
        ("first", True),
        ("second", False),
    ]
    out = t.at(4, AgentResumed("a"))
    assert of(cmd.Offer, out) == [cmd.Offer("first", ("a",), 15.0, callback=True)]


def test_callback_is_no_longer_limited_by_max_wait() -> None:
    t = center(A, max_wait=60.0)
    t.at(1, AgentPaused("a"))
    t.at(2, CallerArrived("c", "general"))
    out = t.at(3, CallbackAccepted("c"))
    assert cmd.CancelTimer(("max_wait", "c", 0)) in out
    assert t.at(62, TimerFired(("max_wait", "c", 0))) == []
    assert t.acd.position("c") == 1


def test_callback_accepted_while_ringing_stops_the_ring_and_waits_again() -> None:
    t = center(A, B)
    t.at(1, AgentPaused("b"))
    t.at(2, CallerArrived("c", "general"))
    assert t.last_offer() == ("c", ("a",))
    out = t.at(3, CallbackAccepted("c"))
    assert cmd.CancelOffer("c", ("a",)) in out
    # the freed agent is offered the same caller again, now as a callback
    assert of(cmd.Offer, out) == [cmd.Offer("c", ("a",), 15.0, callback=True)]


def test_the_cancelled_rings_end_reported_later_does_not_end_the_callback_offer() -> None:
    """The PBX reports the end of the ring the engine stopped after the engine has offered
    the same agent the same caller again (as a callback): that report is the old ring's, and
    the callback offer stands (on the sandbox it failed the callback with a RINGCANCELED)."""
    t = center(A, B)
    t.at(1, AgentPaused("b"))
    t.at(2, CallerArrived("c", "general"))
    t.at(3, CallbackAccepted("c"))
    assert t.last_offer() == ("c", ("a",))
    out = t.at(3.2, OfferFailed("c", "a", "cancelled"))
    assert out == []
    assert t.acd.agent("a").state == "offered"
    # a later report is the callback ring's own
    out = t.at(20, OfferFailed("c", "a", "no_answer"))
    assert of(cmd.OfferRejected, out) == [cmd.OfferRejected("c", "a", "no_answer", 17.0)]


def test_an_outcome_crossing_the_engines_cancel_is_the_old_rings() -> None:
    """The ring ended unanswered on the PBX at the moment the engine's offer timer stopped
    it; with one agent the caller rings that agent again at once: the crossing no-answer
    does not end the new ring, nor is the agent charged twice."""
    t = Table(QueuePolicy(offer_timeout=15, no_answer_backoff=0), [A])
    t.at(0, AgentLoggedIn("a"))
    t.at(1, CallerArrived("c", "general"))
    out = t.at(16, TimerFired(("offer", "c", 1)))
    assert of(cmd.Offer, out) == [cmd.Offer("c", ("a",), 15.0)]
    assert t.at(16.1, OfferFailed("c", "a", "no_answer")) == []
    assert t.acd.agent("a").no_answer_count == 1
    assert t.acd.agent("a").state == "offered"


def test_ring_all_reserves_only_one_agent_for_a_callback() -> None:
    t = center(A, B, strategy=Strategy.RING_ALL)
    out = t.at(1, CallerArrived("c", "general", callback=True))
    offers = of(cmd.Offer, out)
    assert len(offers) == 1 and len(offers[0].agent_ids) == 1 and offers[0].callback


def test_retried_callback_arrives_with_its_first_arrival_time_and_goes_first() -> None:
    t = center(A)
    t.at(1, AgentPaused("a"))
    t.at(10, CallerArrived("live", "general"))
    t.at(20, CallerArrived("cb", "general", arrived_at=5.0, callback=True))
    assert [v.call_id for v in t.acd.queued()] == ["cb", "live"]


def test_callback_arrival_is_kept_when_no_agents_are_logged_in() -> None:
    t = Table(QueuePolicy(leave_when_no_agents=True), [A])
    t.at(1, CallerArrived("cb", "general", callback=True))
    assert t.left() == []
    assert t.acd.position("cb") == 1


def test_callback_taken_off_the_queue_until_its_next_attempt() -> None:
    t = center(A)
    t.at(1, AgentPaused("a"))
    t.at(2, CallerArrived("cb", "general", callback=True))
    t.at(3, CallerWithdrawn("cb", "callback"))
    assert t.left() == [("cb", "callback")]
    assert t.acd.queued() == []


def test_callback_accepted_for_unknown_caller_raises() -> None:
    t = center(A)
    with pytest.raises(UnknownCaller):
        t.at(1, CallbackAccepted("nobody"))


@pytest.mark.parametrize(
    ("agents", "position_of", "expected"),
    [
        ((A,), "c1", None),  # the only agent is on a break: nobody staffed, no estimate
        ((A, B), "c3", 3 * 100.0 / 2),
        ((A, B, LABOR), "c3", 3 * 100.0 / 2),  # the labor seat cannot take general calls
    ],
)
def test_expected_wait_is_position_times_handle_time_over_staffed_agents(
    agents: tuple[AgentSpec, ...], position_of: str, expected: float | None
) -> None:
    t = center(*agents)
    if expected is None:
        for a in agents:
            t.at(0.5, AgentPaused(a.id))
    else:
        for i, a in enumerate(x for x in agents if x.skills.get("general")):
            t.at(0.5, CallerArrived(f"busy{i}", "general"))
            t.at(0.6, OfferAnswered(f"busy{i}", a.id))
    for i in range(1, 4):
        t.at(1 + i, CallerArrived(f"c{i}", "general"))
    assert t.acd.expected_wait(position_of, assumed_handle=100.0) == expected


def test_expected_wait_learns_the_recent_handle_time() -> None:
    t = center(A, wrapup=10.0)
    t.at(1, CallerArrived("x", "general"))
    t.at(2, OfferAnswered("x", "a"))
    t.at(52, CallEnded("x"))  # 50 s talk + 10 s wrap-up
    t.at(53, CallerArrived("y", "general"))
    assert t.acd.expected_wait("y", assumed_handle=999.0) == 60.0
