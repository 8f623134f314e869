"""Routing rules of the unified queue, each as a table of events in and commands out."""

from __future__ import annotations

import pytest

from acd import commands as cmd
from acd.engine import Acd
from acd.errors import UnknownAgent, UnknownCaller
from acd.events import (
    AgentConfigured,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentReady,
    AgentResumed,
    CallEnded,
    CallerArrived,
    CallerHungUp,
    CallerPriorityChanged,
    CallerWithdrawn,
    CallRestored,
    OfferAnswered,
    OfferFailed,
    TimerFired,
)
from acd.model import AgentSpec, QueuePolicy, WideningRule
from acd.states import Strategy
from tests.unit.acd.acdtable import Table, of

GENERAL = AgentSpec("g5", {"general": 5})
GENERAL3 = AgentSpec("g3", {"general": 3})
LABOR = AgentSpec("l5", {"labor": 5, "general": 2})


def center(*agents: AgentSpec, **policy: object) -> Table:
    t = Table(QueuePolicy(**policy), agents)  # type: ignore[arg-type]
    for i, a in enumerate(agents):
        t.at(float(i) / 10, AgentLoggedIn(a.id))
    return t


def test_44190_6_2_1_unified_queue_orders_by_priority_then_arrival() -> None:
    t = center(GENERAL)
    t.at(1, AgentPaused("g5", "meeting"))
    t.at(2, CallerArrived("a", "general", 0))
    t.at(3, CallerArrived("b", "general", 5))
    t.at(4, CallerArrived("c", "general", 0))
    t.at(5, CallerArrived("d", "general", 5))
    assert [v.call_id for v in t.acd.queued()] == ["b", "d", "a", "c"]
    assert [v.position for v in t.acd.queued()] == [1, 2, 3, 4]
    assert t.acd.position("a") == 3


def test_higher_priority_caller_served_first_when_an_agent_frees_up() -> None:
    t = center(GENERAL)
    t.at(1, AgentPaused("g5"))
    t.at(2, CallerArrived("normal", "general", 0), CallerArrived("elderly", "general", 5))
    out = t.at(3, AgentResumed("g5"))
    assert of(cmd.Offer, out) == [cmd.Offer("elderly", ("g5",), 15.0)]


def test_equal_priority_is_first_come_first_served() -> None:
    t = center(GENERAL)
    t.at(1, AgentPaused("g5"))
    t.at(2, CallerArrived("first", "general"), CallerArrived("second", "general"))
    assert t.at(3, AgentResumed("g5"))[0] == cmd.Offer("first", ("g5",), 15.0)


def test_priority_change_reorders_the_queue() -> None:
    t = center(GENERAL)
    t.at(1, AgentPaused("g5"))
    t.at(2, CallerArrived("a", "general"), CallerArrived("b", "general"))
    t.at(3, CallerPriorityChanged("b", 9))
    assert [v.call_id for v in t.acd.queued()] == ["b", "a"]


def test_priority_change_of_unknown_caller_raises_and_changes_nothing() -> None:
    t = center(GENERAL)
    with pytest.raises(UnknownCaller) as err:
        t.at(1, CallerPriorityChanged("ghost", 3))
    assert err.value.error_id == "acd.unknown_caller"


def test_caller_offered_only_to_agents_with_its_skill() -> None:
    t = center(GENERAL, LABOR)
    out = t.at(1, CallerArrived("c", "labor"))
    assert of(cmd.Offer, out) == [cmd.Offer("c", ("l5",), 15.0)]


def test_most_proficient_free_agent_is_offered_first() -> None:
    t = center(GENERAL3, GENERAL, LABOR)
    out = t.at(1, CallerArrived("c", "general"))
    assert of(cmd.Offer, out)[0].agent_ids == ("g5",)


def test_min_proficiency_excludes_weak_agents_until_widening_lowers_it() -> None:
    rule = WideningRule(after=20, min_proficiency=1)
    t = center(LABOR, min_proficiency=3, widening=(rule,))
    out = t.at(1, CallerArrived("c", "general"))  # l5 has general 2 < 3
    assert not of(cmd.Offer, out)
    assert cmd.SetTimer(("widen", "c", 0), 21) in out
    out = t.at(21, TimerFired(("widen", "c", 0)))
    assert of(cmd.Offer, out) == [cmd.Offer("c", ("l5",), 15.0)]


def test_widening_adds_skills_after_the_configured_wait() -> None:
    t = center(GENERAL, widening=(WideningRule(after=30, add_skills=("general",)),))
    out = t.at(1, CallerArrived("c", "health"))
    assert not of(cmd.Offer, out)
    out = t.at(31, TimerFired(("widen", "c", 0)))
    assert of(cmd.Offer, out) == [cmd.Offer("c", ("g5",), 15.0)]
    assert t.acd.caller("c") is not None
    assert t.acd.caller("c").skills == ("general", "health")  # type: ignore[union-attr]


def test_restored_caller_gets_due_widening_at_once() -> None:
    t = center(GENERAL, widening=(WideningRule(after=30, add_skills=("general",)),))
    out = t.at(100, CallerArrived("c", "health", arrived_at=50))
    assert of(cmd.Offer, out) == [cmd.Offer("c", ("g5",), 15.0)]


def test_replayed_arrival_of_a_known_caller_is_ignored() -> None:
    t = center()
    t.at(1, CallerArrived("c", "general"))
    assert t.at(2, CallerArrived("c", "general", 9)) == []
    assert t.acd.caller("c").priority == 0  # type: ignore[union-attr]


def test_offer_timeout_goes_to_next_agent_and_no_answer_agent_backs_off() -> None:
    t = center(GENERAL, GENERAL3, no_answer_backoff=10)
    t.at(1, CallerArrived("c", "general"))
    out = t.at(16, TimerFired(("offer", "c", 1)))
    assert cmd.CancelOffer("c", ("g5",)) in out
    assert cmd.OfferRejected("c", "g5", "no_answer", 15) in out
    assert cmd.SetTimer(("backoff", "g5", 1), 26) in out
    assert of(cmd.Offer, out) == [cmd.Offer("c", ("g3",), 15.0)]
    t.at(17, OfferAnswered("c", "g3"), CallerArrived("d", "general"))
    waiting = t.acd.caller("d")  # g5 backs off
    assert waiting is not None and waiting.state == "waiting"
    out = t.at(26, TimerFired(("backoff", "g5", 1)))
    assert of(cmd.Offer, out) == [cmd.Offer("d", ("g5",), 15.0)]


def test_auto_pause_after_max_consecutive_no_answers() -> None:
    t = center(GENERAL, max_no_answer=2, no_answer_backoff=0)
    t.at(1, CallerArrived("c", "general"))
    t.at(2, OfferFailed("c", "g5", "no_answer"))
    assert t.acd.agent("g5").no_answer_count == 1
    out = t.at(3, OfferFailed("c", "g5", "no_answer"))
    assert cmd.AgentStateChanged("g5", "on_break", "idle", "no_answer") in out
    assert t.acd.caller("c").state == "waiting"  # type: ignore[union-attr]
    out = t.at(4, AgentResumed("g5"))
    assert of(cmd.Offer, out) == [cmd.Offer("c", ("g5",), 15.0)]
    assert t.acd.agent("g5").no_answer_count == 0


def test_answer_resets_the_no_answer_count() -> None:
    t = center(GENERAL, max_no_answer=3, no_answer_backoff=0)
    t.at(1, CallerArrived("c", "general"))
    t.at(2, OfferFailed("c", "g5", "busy"))
    t.at(3, OfferAnswered("c", "g5"))
    assert t.acd.agent("g5").no_answer_count == 0


@pytest.mark.parametrize(
    ("reason", "recorded", "counted"),
    [
        ("no_answer", "no_answer", True),
        ("busy", "refused", False),
        ("refused", "refused", False),
        ("unavailable", "unreachable", False),
        ("unreachable", "unreachable", False),
        ("error", "failed", False),
        ("failed", "failed", False),
        ("cancelled", None, False),
        ("caller_gone", None, False),
    ],
)
def test_offer_failure_reasons_recorded_and_counted(
    reason: str, recorded: str | None, counted: bool
) -> None:
    """Only a true no-answer counts towards auto-pause; a refusal or a failure is recorded as
    what it was."""
    t = center(GENERAL, no_answer_backoff=5)
    t.at(1, CallerArrived("c", "general"))
    out = t.at(2, OfferFailed("c", "g5", reason))
    assert [r.reason for r in of(cmd.OfferRejected, out)] == ([recorded] if recorded else [])
    assert (t.acd.agent("g5").no_answer_count == 1) is counted


def test_stale_timers_are_ignored() -> None:
    t = center(GENERAL)
    t.at(1, CallerArrived("c", "general"))
    t.at(2, OfferAnswered("c", "g5"))
    assert t.at(16, TimerFired(("offer", "c", 1))) == []
    t.at(20, CallEnded("c"))
    t.at(21, AgentReady("g5"))
    assert t.at(25, TimerFired(("wrapup", "g5", 1))) == []


def test_offer_skips_agent_in_wrap_up() -> None:
    t = center(GENERAL, GENERAL3, wrapup=10)
    t.at(1, CallerArrived("a", "general"))
    t.at(2, OfferAnswered("a", "g5"))
    out = t.at(5, CallEnded("a"))
    assert cmd.SetTimer(("wrapup", "g5", 1), 15) in out
    assert t.acd.agent("g5").state == "wrap_up"
    out = t.at(6, CallerArrived("b", "general"))
    assert of(cmd.Offer, out) == [cmd.Offer("b", ("g3",), 15.0)]


def test_wrap_up_ends_on_its_timer_and_the_agent_takes_the_next_caller() -> None:
    t = center(GENERAL, wrapup=10)
    t.at(1, CallerArrived("a", "general"))
    t.at(2, OfferAnswered("a", "g5"))
    t.at(5, CallEnded("a"))
    assert not of(cmd.Offer, t.at(6, CallerArrived("b", "general")))
    out = t.at(15, TimerFired(("wrapup", "g5", 1)))
    assert of(cmd.Offer, out) == [cmd.Offer("b", ("g5",), 15.0)]


def test_agent_ready_ends_wrap_up_early() -> None:
    t = center(GENERAL, wrapup=60)
    t.at(1, CallerArrived("a", "general"), OfferAnswered("a", "g5"))
    t.at(5, CallEnded("a"), CallerArrived("b", "general"))
    out = t.at(6, AgentReady("g5"))
    assert cmd.CancelTimer(("wrapup", "g5", 1)) in out
    assert of(cmd.Offer, out) == [cmd.Offer("b", ("g5",), 15.0)]


def test_zero_wrap_up_makes_the_agent_idle_at_once() -> None:
    t = center(GENERAL, wrapup=0)
    t.at(1, CallerArrived("a", "general"), CallerArrived("b", "general"))
    t.at(2, OfferAnswered("a", "g5"))
    out = t.at(5, CallEnded("a"))
    assert of(cmd.Offer, out) == [cmd.Offer("b", ("g5",), 15.0)]


def test_status_is_separate_from_state() -> None:
    t = center(GENERAL)
    t.at(1, CallerArrived("a", "general"), OfferAnswered("a", "g5"))
    out = t.at(2, AgentPaused("g5", "lunch"))
    assert cmd.AgentStateChanged("g5", "on_break", "on_call", "lunch") in out
    out = t.at(3, CallEnded("a"))
    assert t.acd.agent("g5").status == "on_break"
    assert t.acd.agent("g5").state == "wrap_up"
    out = t.at(4, AgentLoggedOut("g5"))
    assert cmd.AgentStateChanged("g5", "logged_out", "wrap_up", "") in out


def test_agent_state_notices_only_on_change() -> None:
    t = center(GENERAL)
    out = t.at(1, AgentResumed("g5"))
    assert not of(cmd.AgentStateChanged, out)


def test_login_not_ready_keeps_the_break_reason() -> None:
    t = center()
    t.at(0, AgentConfigured(GENERAL))
    out = t.at(1, AgentLoggedIn("g5", ready=False, reason="training"))
    assert cmd.AgentStateChanged("g5", "on_break", "idle", "training") in out


def test_caller_hanging_up_while_waiting_is_abandoned() -> None:
    t = center(GENERAL, max_wait=300)
    t.at(1, AgentPaused("g5"))
    t.at(2, CallerArrived("a", "general"), CallerArrived("b", "general"))
    out = t.at(12, CallerHungUp("b"))
    assert cmd.CallerLeft("b", "abandoned", 10, 2, 2) in out
    assert cmd.CancelTimer(("max_wait", "b", 0)) in out
    assert not of(cmd.Overflow, out)
    assert [v.call_id for v in t.acd.queued()] == ["a"]


def test_caller_hanging_up_while_offered_releases_the_agent_without_penalty() -> None:
    t = center(GENERAL)
    t.at(1, CallerArrived("a", "general"))
    out = t.at(3, CallerHungUp("a"))
    assert cmd.CancelOffer("a", ("g5",)) in out
    assert ("a", "abandoned") in t.left()
    assert t.acd.agent("g5").state == "idle"
    assert t.acd.agent("g5").no_answer_count == 0


def test_max_wait_without_overflow_target_leaves_by_timeout() -> None:
    t = center(max_wait=60)
    out = t.at(1, CallerArrived("a", "general"))
    assert cmd.SetTimer(("max_wait", "a", 0), 61) in out
    out = t.at(61, TimerFired(("max_wait", "a", 0)))
    assert cmd.Overflow("a", "", "timeout") in out
    assert cmd.CallerLeft("a", "timeout", 60, 1, 1) in out


def test_max_wait_with_overflow_target_leaves_by_overflow() -> None:
    t = center(max_wait=60, overflow_target="voicemail,s,1")
    t.at(1, CallerArrived("a", "general"))
    out = t.at(61, TimerFired(("max_wait", "a", 0)))
    assert cmd.Overflow("a", "voicemail,s,1", "overflow") in out


def test_no_agents_caller_leaves_at_once_when_configured() -> None:
    t = center(LABOR, leave_when_no_agents=True)
    out = t.at(1, CallerArrived("a", "health"))
    assert cmd.CallerLeft("a", "no_agents", 0, 1, 1) in out
    assert cmd.Overflow("a", "", "no_agents") in out


def test_no_agents_counts_widened_skills_and_paused_agents() -> None:
    t = center(LABOR, leave_when_no_agents=True, widening=(WideningRule(30, ("labor",)),))
    t.at(1, AgentPaused("l5"))
    t.at(2, CallerArrived("a", "health"))
    assert t.left() == []  # l5 is logged in (paused) and reachable after widening


def test_waiting_callers_leave_when_the_last_capable_agent_logs_out() -> None:
    t = center(LABOR, leave_when_no_agents=True)
    t.at(1, AgentPaused("l5"))
    t.at(2, CallerArrived("a", "labor"))
    out = t.at(3, AgentLoggedOut("l5"))
    assert cmd.CallerLeft("a", "no_agents", 1, 1, 1) in out


def test_caller_withdrawn_by_the_dialplan_fallback_is_recorded_without_routing() -> None:
    t = center()
    t.at(1, CallerArrived("a", "general"))
    out = t.at(21, CallerWithdrawn("a", "fallback"))
    assert cmd.CallerLeft("a", "fallback", 20, 1, 1) in out
    assert not of(cmd.Overflow, out)


def test_answer_after_the_engines_own_timeout_still_connects() -> None:
    t = center(GENERAL, no_answer_backoff=100)
    t.at(1, CallerArrived("a", "general"))
    t.at(16, TimerFired(("offer", "a", 1)))
    out = t.at(16.2, OfferAnswered("a", "g5"))
    assert cmd.CallConnected("a", "g5", 15.2, 15.2) in out  # it rang since the offer at 1
    assert t.acd.agent("g5").state == "on_call"


def test_answered_call_reports_wait_and_position_zero() -> None:
    t = center(GENERAL)
    t.at(1, CallerArrived("a", "general"))
    out = t.at(4, OfferAnswered("a", "g5"))
    assert cmd.CallerLeft("a", "answered", 3, 1) in out
    out = t.at(10, CallEnded("a"))
    assert cmd.CallFinished("a", "g5", 6, 3, 1) in out


def test_max_concurrent_agent_is_offered_until_at_capacity() -> None:
    multi = AgentSpec("m", {"general": 5}, max_concurrent=2)
    t = center(multi)
    t.at(1, CallerArrived("a", "general"), OfferAnswered("a", "m"))
    out = t.at(2, CallerArrived("b", "general"))
    assert of(cmd.Offer, out) == [cmd.Offer("b", ("m",), 15.0)]
    t.at(3, OfferAnswered("b", "m"))
    assert not of(cmd.Offer, t.at(4, CallerArrived("c", "general")))


def test_call_restored_puts_the_agent_on_call() -> None:
    t = center(GENERAL)
    t.at(1, CallRestored("x", "g5", "general", 0.5))
    assert t.acd.agent("g5").state == "on_call"
    assert not of(cmd.Offer, t.at(2, CallerArrived("a", "general")))
    out = t.at(3, CallEnded("x"))
    assert cmd.CallFinished("x", "g5", 2.5) in out


def test_agent_events_for_unknown_agents_raise_and_change_nothing() -> None:
    acd = Acd(QueuePolicy(), [GENERAL])
    for event in (AgentLoggedIn("zz"), AgentPaused("zz"), AgentResumed("zz"), AgentLoggedOut("zz")):
        with pytest.raises(UnknownAgent) as err:
            acd.handle(event, 1)
        assert err.value.error_id == "acd.unknown_agent"
    assert [a.agent_id for a in acd.agents()] == ["g5"]


def test_reconfigured_agent_skills_take_effect() -> None:
    t = center(GENERAL)
    t.at(1, AgentConfigured(AgentSpec("g5", {"labor": 4})))
    out = t.at(2, CallerArrived("a", "labor"))
    assert of(cmd.Offer, out) == [cmd.Offer("a", ("g5",), 15.0)]


def test_ring_all_offers_every_free_agent_and_first_answer_wins() -> None:
    t = center(GENERAL, GENERAL3, LABOR, strategy=Strategy.RING_ALL)
    out = t.at(1, CallerArrived("a", "general"))
    offer = of(cmd.Offer, out)[0]
    assert set(offer.agent_ids) == {"g5", "g3", "l5"}
    out = t.at(2, OfferAnswered("a", "g3"))
    cancel = of(cmd.CancelOffer, out)[0]
    assert set(cancel.agent_ids) == {"g5", "l5"}
    assert t.acd.agent("g5").state == "idle" and t.acd.agent("g5").no_answer_count == 0
