"""What the routing core tells the records (and so the queue_log): the caller's position at
joining and when leaving, hold time and original position on completion, who hung up first,
and a cancelled ring for every ring that ended unanswered through no fault of the phone."""

from __future__ import annotations

from acd import commands as cmd
from acd.events import (
    AgentLoggedIn,
    AgentPaused,
    AgentResumed,
    CallbackAccepted,
    CallEnded,
    CallerArrived,
    CallerHungUp,
    CallerWithdrawn,
    OfferAnswered,
    OfferFailed,
    TimerFired,
)
from acd.model import AgentSpec, QueuePolicy
from acd.states import Strategy
from tests.unit.acd.acdtable import Table, of

A = AgentSpec("a", {"general": 5})
B = AgentSpec("b", {"general": 4})


def center(*agents: AgentSpec, **policy: object) -> Table:
    t = Table(QueuePolicy(**policy), agents)  # type: ignore[arg-type]
    for a in agents:
        t.at(0, AgentLoggedIn(a.id))
    return t


def test_join_position_is_where_the_caller_goes_in_the_unified_queue() -> None:
    t = center(A)
    t.at(1, AgentPaused("a"))
    t.at(2, CallerArrived("c1", "general", 0), CallerArrived("c2", "general", 0))
    assert t.acd.join_position("c3", 0, 3.0) == 3  # behind both
    assert t.acd.join_position("c3", 5, 3.0) == 1  # a higher priority goes first
    assert t.acd.join_position("c2", 0, 2.0) == 2  # already queued: its position


def test_leaving_caller_carries_its_position_at_joining() -> None:
    t = center(A)
    t.at(1, AgentPaused("a"))
    t.at(2, CallerArrived("c1", "general", 0), CallerArrived("c2", "general", 0))
    t.at(3, CallerArrived("c3", "general", 0))
    t.at(4, CallerHungUp("c1"))
    out = t.at(10, CallerHungUp("c3"))
    assert of(cmd.CallerLeft, out) == [cmd.CallerLeft("c3", "abandoned", 7.0, 2, 3)]


def test_completion_has_hold_time_original_position_and_who_hung_up() -> None:
    t = center(A)
    t.at(1, AgentPaused("a"))
    t.at(2, CallerArrived("c1", "general", 0), CallerArrived("c2", "general", 0))
    t.at(5, AgentResumed("a"))
    t.at(6, OfferAnswered("c1", "a"))
    out = t.at(36, CallEnded("c1", by="agent"))
    assert of(cmd.CallFinished, out) == [cmd.CallFinished("c1", "a", 30.0, 4.0, 1, "agent")]
    t.at(40, AgentResumed("a"))
    t.at(45, OfferAnswered("c2", "a"))  # rang after the wrap-up
    out = t.at(50, CallerHungUp("c2"))
    assert of(cmd.CallFinished, out) == [cmd.CallFinished("c2", "a", 5.0, 43.0, 2, "caller")]


def test_caller_hanging_up_while_ringing_cancels_the_ring() -> None:
    t = center(A)
    out = t.at(1, CallerArrived("c1", "general", 0))
    assert of(cmd.Offer, out)
    out = t.at(4.5, CallerHungUp("c1"))
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("c1", "a", "abandoned", 3.5)]
    assert not of(cmd.OfferRejected, out)  # not a miss
    assert t.acd.agent("a").no_answer_count == 0
    # the cancelled ring comes before the caller's leaving, as in app_queue
    kinds = [type(c) for c in out if isinstance(c, cmd.OfferCancelled | cmd.CallerLeft)]
    assert kinds == [cmd.OfferCancelled, cmd.CallerLeft]


def test_ring_all_answered_by_one_cancels_the_other_rings() -> None:
    t = center(A, B, strategy=Strategy.RING_ALL)
    t.at(1, CallerArrived("c1", "general", 0))
    out = t.at(3, OfferAnswered("c1", "b"))
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("c1", "a", "answered_elsewhere", 2.0)]


def test_ring_ended_by_timeout_exit_callback_or_withdrawal_is_cancelled() -> None:
    t = center(A, max_wait=10.0)
    t.at(1, CallerArrived("c1", "general", 0))
    out = t.at(11, TimerFired(("max_wait", "c1", 0)))
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("c1", "a", "timeout", 10.0)]

    t = center(A)
    t.at(1, CallerArrived("c2", "general", 0))
    out = t.at(2, CallbackAccepted("c2"))
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("c2", "a", "callback", 1.0)]

    t = center(A)
    t.at(1, CallerArrived("c3", "general", 0))
    out = t.at(3, OfferFailed("c3", "a", "cancelled"))
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("c3", "a", "cancelled", 2.0)]

    t = center(A)
    t.at(1, CallerArrived("c4", "general", 0))
    out = t.at(4, CallerWithdrawn("c4", "fallback"))
    assert of(cmd.OfferCancelled, out) == [cmd.OfferCancelled("c4", "a", "fallback", 3.0)]


def test_unanswered_ring_is_a_rejection_not_a_cancel() -> None:
    t = center(A, B)
    t.at(1, CallerArrived("c1", "general", 0))
    out = t.at(16, TimerFired(("offer", "c1", 1)))
    assert of(cmd.OfferRejected, out) == [cmd.OfferRejected("c1", "a", "no_answer", 15.0)]
    assert not of(cmd.OfferCancelled, out)
