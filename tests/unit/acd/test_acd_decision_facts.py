"""Decision facts of the routing core (the decision log's input): why this agent was offered
the caller, and why no agent could be, each as a table of events in and facts out."""

from __future__ import annotations

import pytest

from acd import commands as cmd
from acd.engine import Acd
from acd.errors import UnknownCaller
from acd.events import (
    AgentConfigured,
    AgentLoggedIn,
    AgentPaused,
    AgentReachability,
    AgentResumed,
    CallEnded,
    CallerArrived,
    Event,
    OfferAnswered,
    OfferFailed,
    RoutingHeld,
    TimerFired,
)
from acd.model import AgentSpec, QueuePolicy, WideningRule
from acd.states import Strategy
from tests.unit.acd.acdtable import Table, of


def center(*agents: AgentSpec, explain: bool = True, **policy: object) -> Table:
    t = Table(QueuePolicy(**policy), agents)  # type: ignore[arg-type]
    t.acd.explain = explain
    for i, a in enumerate(agents):
        t.at(float(i), AgentLoggedIn(a.id))
    return t


def test_no_decision_facts_unless_explain_is_on() -> None:
    t = center(AgentSpec("a", {"general": 5}), explain=False)
    out = t.at(10, CallerArrived("c1", "general"), CallerArrived("c2", "general"))
    assert of(cmd.Offer, out) == [cmd.Offer("c1", ("a",), 15.0)]
    assert of(cmd.OfferDecided, out) == []
    assert of(cmd.CallerNotOffered, out) == []


def test_offer_decided_lists_candidates_best_first_with_the_strategy_key() -> None:
    """longest_idle: the key is the time the agent became idle; proficiency ranks first."""
    t = center(
        AgentSpec("a", {"general": 3}),  # idle since 0, but proficiency 3
        AgentSpec("b", {"general": 5}),  # idle since 1
        AgentSpec("c", {"general": 5}),  # idle since 2
    )
    out = t.at(10, CallerArrived("c1", "general"))
    decided = of(cmd.OfferDecided, out)
    assert decided == [
        cmd.OfferDecided(
            "c1",
            ("b",),
            "longest_idle",
            (
                cmd.Candidate("b", "general", 5, (1.0,)),
                cmd.Candidate("c", "general", 5, (2.0,)),
                cmd.Candidate("a", "general", 3, (0.0,)),
            ),
            3,
        )
    ]
    # the fact comes before the offer it explains
    assert out.index(decided[0]) < out.index(of(cmd.Offer, out)[0])


def test_offer_decided_keeps_the_top_candidates_and_counts_them_all() -> None:
    agents = [AgentSpec(f"a{i}", {"general": 5}) for i in range(8)]
    t = center(*agents)
    t.acd.explain_top = 3
    decided = of(cmd.OfferDecided, t.at(20, CallerArrived("c1", "general")))[0]
    assert [x.agent_id for x in decided.candidates] == ["a0", "a1", "a2"]
    assert decided.considered == 8
    assert decided.chosen == ("a0",)


def test_offer_decided_fewest_calls_key() -> None:
    t = center(
        AgentSpec("a", {"general": 5}),
        AgentSpec("b", {"general": 5}),
        strategy=Strategy.FEWEST_CALLS,
        wrapup=0.0,
    )
    t.at(2, CallerArrived("c1", "general"))  # -> a (0 calls, idle since 0)
    t.at(3, OfferAnswered("c1", "a"))
    t.at(4, CallEnded("c1"))
    decided = of(cmd.OfferDecided, t.at(5, CallerArrived("c2", "general")))[0]
    assert decided.strategy == "fewest_calls"
    assert decided.chosen == ("b",)
    assert [(x.agent_id, x.key) for x in decided.candidates] == [
        ("b", (0.0, 1.0)),
        ("a", (1.0, 4.0)),
    ]


def test_ring_all_decision_names_every_agent_rung() -> None:
    t = center(
        AgentSpec("a", {"general": 5}), AgentSpec("b", {"general": 4}), strategy=Strategy.RING_ALL
    )
    decided = of(cmd.OfferDecided, t.at(10, CallerArrived("c1", "general")))[0]
    assert decided.chosen == ("a", "b")
    assert decided.strategy == "ring_all"


def test_caller_not_offered_says_why_for_each_logged_in_agent() -> None:
    t = center(
        AgentSpec("brk", {"general": 5}),
        AgentSpec("wrap", {"general": 5}),
        AgentSpec("talk", {"general": 5}),
        AgentSpec("low", {"general": 1}),
        AgentSpec("other", {"labor": 5}),
        AgentSpec("gone", {"general": 5}),
        wrapup=30.0,
        min_proficiency=2,
    )
    t.at(10, AgentPaused("brk", "lunch"))
    t.at(11, AgentReachability("gone", False))
    t.at(12, CallerArrived("x", "general"))  # -> wrap (idle since 1)
    t.at(13, OfferAnswered("x", "wrap"))
    t.at(14, CallEnded("x"))  # wrap in wrap-up until 44
    t.at(15, CallerArrived("y", "general"))  # -> talk
    t.at(16, OfferAnswered("y", "talk"))
    out = t.at(20, CallerArrived("c1", "general"))
    assert of(cmd.Offer, out) == []
    facts = of(cmd.CallerNotOffered, out)
    assert len(facts) == 1
    fact = facts[0]
    assert fact.call_id == "c1"
    assert fact.skills == ("general",)
    assert fact.min_proficiency == 2
    gen = wrap_gen(t, "wrap")
    assert fact.agents == (
        cmd.NotCandidate("gone", "unreachable"),
        cmd.NotCandidate("low", "proficiency", "1<2"),
        cmd.NotCandidate("wrap", "wrap_up", "", ("wrapup", "wrap", gen)),
        cmd.NotCandidate("talk", "on_call", "y"),
        cmd.NotCandidate("brk", "on_break", "lunch"),
    )  # "other" (idle, without the skill) is not listed: why_not says why
    assert t.acd.why_not("other", "c1") == cmd.NotCandidate("other", "no_skill")
    assert fact.more == 0


def wrap_gen(t: Table, agent_id: str) -> int:
    """The generation of the agent's last wrap-up timer, as the core set it."""
    timers = [
        c.key
        for _, _, cs in t.log
        for c in cs
        if isinstance(c, cmd.SetTimer) and c.key[:2] == ("wrapup", agent_id)
    ]
    return timers[-1][2]


def test_backing_off_and_ringing_another_caller() -> None:
    t = center(
        AgentSpec("a", {"general": 5}),
        AgentSpec("b", {"general": 5}),
        no_answer_backoff=10.0,
    )
    t.at(5, CallerArrived("c1", "general"))  # -> a
    out = t.at(20, TimerFired(("offer", "c1", 1)))  # a did not answer: c1 -> b, a backs off
    assert of(cmd.Offer, out) == [cmd.Offer("c1", ("b",), 15.0)]
    backoff = [c.key for c in of(cmd.SetTimer, out) if c.key[0] == "backoff"]
    out = t.at(21, CallerArrived("c2", "general"))
    fact = of(cmd.CallerNotOffered, out)[0]
    assert fact.agents == (
        cmd.NotCandidate("a", "backing_off", "", backoff[0]),
        cmd.NotCandidate("b", "ringing", "c1"),
    )


def test_auto_pause_names_the_timer_that_ends_it() -> None:
    t = center(AgentSpec("a", {"general": 5}), max_no_answer=1, auto_pause_expires=60.0)
    t.at(5, CallerArrived("c1", "general"))
    out = t.at(20, TimerFired(("offer", "c1", 1)))
    pause = [c.key for c in of(cmd.SetTimer, out) if c.key[0] == "autopause"][0]
    fact = of(cmd.CallerNotOffered, out)[0]  # c1 went back to waiting: nobody else
    assert fact.agents == (cmd.NotCandidate("a", "on_break", "no_answer", pause),)


def test_caller_not_offered_lists_the_top_and_counts_the_rest() -> None:
    agents = [AgentSpec(f"a{i}", {"general": 5}) for i in range(6)]
    t = center(*agents)
    t.acd.explain_top = 2
    for a in agents:
        t.at(10, AgentPaused(a.id, "meeting"))
    fact = of(cmd.CallerNotOffered, t.at(20, CallerArrived("c1", "general")))[0]
    assert [w.agent_id for w in fact.agents] == ["a0", "a1"]
    assert fact.more == 4


def test_widening_is_examined_again_with_the_new_skills() -> None:
    t = center(
        AgentSpec("lab", {"labor": 5}),
        AgentSpec("gen", {"general": 5}),
        widening=(WideningRule(after=30, add_skills=("general",)),),
    )
    t.at(5, AgentPaused("gen", "training"))
    fact = of(cmd.CallerNotOffered, t.at(10, CallerArrived("c1", "environment")))[0]
    assert fact.skills == ("environment",)
    assert fact.agents == ()  # nobody logged in has the skill
    t.at(12, AgentPaused("lab", "meeting"))
    fact = of(cmd.CallerNotOffered, t.at(40, TimerFired(("widen", "c1", 0))))[0]
    assert fact.skills == ("environment", "general")
    assert fact.agents == (cmd.NotCandidate("gen", "on_break", "training"),)


def test_why_not_asks_about_one_agent_and_knows_the_restore_barrier() -> None:
    t = center(AgentSpec("a", {"general": 5}), AgentSpec("b", {"labor": 5}))
    t.at(5, AgentPaused("a", "meeting"))
    t.at(6, CallerArrived("c1", "general"))
    assert t.acd.why_not("a", "c1") == cmd.NotCandidate("a", "on_break", "meeting")
    assert t.acd.why_not("b", "c1") == cmd.NotCandidate("b", "no_skill")
    t.at(7, RoutingHeld(), AgentResumed("a"))
    assert t.acd.why_not("a", "c1") == cmd.NotCandidate("a", "held")
    assert t.acd.not_offered("c1").agents[0] == cmd.NotCandidate("a", "held")
    with pytest.raises(UnknownCaller):
        t.acd.why_not("a", "nobody")


def test_new_skills_of_an_agent_are_seen_by_the_next_fact() -> None:
    t = center(AgentSpec("a", {"labor": 5}))
    t.at(1, AgentPaused("a", "meeting"))
    fact = of(cmd.CallerNotOffered, t.at(2, CallerArrived("c1", "general")))[0]
    assert fact.agents == ()  # a lacks the skill and is not idle: not listed
    t.at(3, AgentConfigured(AgentSpec("a", {"labor": 5, "general": 2})))
    assert t.acd.not_offered("c1").agents == (cmd.NotCandidate("a", "on_break", "meeting"),)


def test_refused_offer_then_requeued_caller_is_examined_again() -> None:
    t = center(AgentSpec("a", {"general": 5}), refusal_backoff=5.0)
    t.at(5, CallerArrived("c1", "general"))
    out = t.at(6, OfferFailed("c1", "a", "refused", 486))
    fact = of(cmd.CallerNotOffered, out)[0]
    assert fact.agents[0].reason == "backing_off"


def test_facts_do_not_change_routing() -> None:
    """The same events with and without explain give the same actions."""

    def run(explain: bool) -> list[cmd.Command]:
        acd = Acd(QueuePolicy(wrapup=3.0), [AgentSpec(x, {"general": 5}) for x in "abc"])
        acd.explain = explain
        out: list[cmd.Command] = []
        events: list[Event] = [
            AgentLoggedIn("a"),
            AgentLoggedIn("b"),
            CallerArrived("1", "general"),
            CallerArrived("2", "general"),
            CallerArrived("3", "general"),
            OfferFailed("1", "a", "no_answer"),
            OfferAnswered("2", "b"),
            AgentLoggedIn("c"),
            CallEnded("2"),
            TimerFired(("wrapup", "b", 1)),
        ]
        for now, e in enumerate(events):
            out += acd.handle(e, float(now))
        return [c for c in out if not isinstance(c, cmd.OfferDecided | cmd.CallerNotOffered)]

    assert run(True) == run(False)
