"""A caller never waits on a dead agent phone; a refusal is not a no-answer (issue 15).

Tables of events in and commands out: reachability is a fact fed in by events, an offer's
outcome says what happened (no answer, refused, failed, unreachable), misses are counted only
for true no-answers, an auto-pause may end by itself, and the supervisor is alerted when too
many agents are auto-paused at once."""

from __future__ import annotations

import pytest

from acd import commands as cmd
from acd.events import (
    AgentReachability,
    AgentResumed,
    CallerArrived,
    CallerHungUp,
    OfferFailed,
    TimerFired,
)
from acd.model import AgentSpec
from acd.states import AUTO_PAUSE_REASON
from tests.unit.acd.acdtable import of
from tests.unit.acd.test_acd_routing import center

A = AgentSpec("a", {"general": 5})
B = AgentSpec("b", {"general": 4})
C = AgentSpec("c", {"general": 3})
D = AgentSpec("d", {"general": 2})


def test_unreachable_agent_is_not_offered_calls_until_reachable_again() -> None:
    t = center(A, B)
    t.at(1, AgentReachability("a", False))
    out = t.at(2, CallerArrived("x", "general"))
    assert [o.agent_ids for o in of(cmd.Offer, out)] == [("b",)]
    t.at(3, AgentReachability("b", False))  # b is ringing x: x moves on, nobody is left
    view = t.acd.caller("x")
    assert view is not None and view.state == "waiting"
    out = t.at(4, AgentReachability("a", True))
    assert [o.agent_ids for o in of(cmd.Offer, out)] == [("a",)]
    assert t.acd.agent("b").reachable is False


def test_agent_turning_unreachable_while_ringing_moves_the_caller_on_at_once() -> None:
    t = center(A, B, offer_timeout=15)
    t.at(1, CallerArrived("x", "general"))
    assert t.last_offer() == ("x", ("a",))
    out = t.at(3, AgentReachability("a", False))
    # no waiting for the offer timeout (16): b rings in the same instant
    assert cmd.CancelOffer("x", ("a",)) in out
    assert [(r.agent_id, r.reason) for r in of(cmd.OfferRejected, out)] == [("a", "unreachable")]
    assert [o.agent_ids for o in of(cmd.Offer, out)] == [("b",)]
    assert t.acd.agent("a").no_answer_count == 0


@pytest.mark.parametrize("cause", [486, 488, 603, 480])
def test_refusals_are_recorded_with_their_cause_and_never_auto_pause(cause: int) -> None:
    """The soak: each 488 counted as a no-answer and emptied the floor within 36 s."""
    t = center(A, max_no_answer=3, no_answer_backoff=10, refusal_backoff=0)
    t.at(1, CallerArrived("x", "general"))
    for n in range(5):
        out = t.at(2 + n, OfferFailed("x", "a", "refused", cause))
        assert [(r.reason, r.cause) for r in of(cmd.OfferRejected, out)] == [("refused", cause)]
        assert [o.agent_ids for o in of(cmd.Offer, out)] == [("a",)]
    a = t.acd.agent("a")
    assert (a.status, a.no_answer_count) == ("available", 0)


def test_refused_caller_moves_to_the_next_agent_at_once() -> None:
    t = center(A, B, offer_timeout=15)
    t.at(1, CallerArrived("x", "general"))
    out = t.at(1.2, OfferFailed("x", "a", "refused", 488))
    assert [o.agent_ids for o in of(cmd.Offer, out)] == [("b",)]


def test_refusing_agent_is_skipped_briefly_not_counted() -> None:
    t = center(A, B, refusal_backoff=2, no_answer_backoff=30)
    t.at(1, CallerArrived("x", "general"))
    out = t.at(2, OfferFailed("x", "a", "refused", 486))
    assert cmd.SetTimer(("backoff", "a", 1), 4.0) in out  # refusal_backoff, not 30
    assert t.acd.agent("a").backing_off is True
    assert t.acd.agent("a").no_answer_count == 0


def test_true_no_answers_still_auto_pause() -> None:
    t = center(A, max_no_answer=2, no_answer_backoff=0)
    t.at(1, CallerArrived("x", "general"))
    t.at(16, TimerFired(("offer", "x", 1)))
    t.at(31, TimerFired(("offer", "x", 2)))
    a = t.acd.agent("a")
    assert (a.status, a.reason) == ("on_break", AUTO_PAUSE_REASON)


def test_auto_pause_expires_when_configured() -> None:
    t = center(A, max_no_answer=1, no_answer_backoff=0, auto_pause_expires=60)
    t.at(1, CallerArrived("x", "general"))
    out = t.at(16, TimerFired(("offer", "x", 1)))
    assert cmd.SetTimer(("autopause", "a", 1), 76.0) in out
    assert t.acd.agent("a").status == "on_break"
    out = t.at(76, TimerFired(("autopause", "a", 1)))
    assert t.acd.agent("a").status == "available"
    assert t.acd.agent("a").no_answer_count == 0
    # back by itself, it is offered the caller still waiting
    assert of(cmd.Offer, out) == [cmd.Offer("x", ("a",), 15.0)]


def test_auto_pause_without_expiry_waits_for_a_person() -> None:
    t = center(A, max_no_answer=1, no_answer_backoff=0)
    t.at(1, CallerArrived("x", "general"))
    out = t.at(16, TimerFired(("offer", "x", 1)))
    assert not [c for c in of(cmd.SetTimer, out) if c.key[0] == "autopause"]
    assert t.acd.agent("a").status == "on_break"


def test_a_stale_expiry_does_not_resume_a_later_pause() -> None:
    t = center(A, max_no_answer=1, no_answer_backoff=0, auto_pause_expires=60)
    t.at(1, CallerArrived("x", "general"))
    t.at(16, TimerFired(("offer", "x", 1)))
    t.at(20, AgentResumed("a"))  # a person resumed it; it misses again
    t.at(35, TimerFired(("offer", "x", 2)))
    t.at(76, TimerFired(("autopause", "a", 1)))  # the first pause's timer
    assert t.acd.agent("a").status == "on_break"
    t.at(95, TimerFired(("autopause", "a", 2)))
    assert t.acd.agent("a").status == "available"


def test_alert_when_more_than_the_share_of_agents_is_auto_paused() -> None:
    t = center(A, B, C, D, max_no_answer=1, no_answer_backoff=0, auto_pause_share_alert=0.5)
    alerts: list[tuple[bool, int, int]] = []
    for n, agent in enumerate(("a", "b", "c")):
        now = 10.0 * (n + 1)
        t.at(now, CallerArrived(f"x{n}", "general"))
        assert t.last_offer() == (f"x{n}", (agent,))
        out = t.at(now + 15, TimerFired(("offer", f"x{n}", 1)))
        alerts += [(x.active, x.auto_paused, x.logged_in) for x in of(cmd.AutoPauseAlert, out)]
        if n < 2:
            assert alerts == []  # 2 of 4 is not more than half
            # the caller went on to the next agent; answer nothing, let it ring out too
            t.at(now + 16, CallerHungUp(f"x{n}"))
    assert alerts == [(True, 3, 4)]
    assert t.acd.auto_pause_alert() == (True, 3, 4)
    out = t.at(60, AgentResumed("a"))
    assert [(x.active, x.auto_paused) for x in of(cmd.AutoPauseAlert, out)] == [(False, 2)]


def test_no_alert_without_a_configured_share() -> None:
    t = center(A, max_no_answer=1, no_answer_backoff=0)
    t.at(1, CallerArrived("x", "general"))
    out = t.at(16, TimerFired(("offer", "x", 1)))
    assert of(cmd.AutoPauseAlert, out) == []
    assert t.acd.auto_pause_alert() == (False, 1, 1)
