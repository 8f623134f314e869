"""The strategies app_queue and mod_callcenter users know: linear / top-down, round robin with
memory (rrmemory), weighted random by proficiency (wrandom); their queue.toml names."""

from __future__ import annotations

from collections import Counter

import pytest

from acd import commands as cmd
from acd.events import (
    AgentLoggedIn,
    AgentPaused,
    AgentResumed,
    CallEnded,
    CallerArrived,
    OfferAnswered,
    TimerFired,
)
from acd.model import AgentSpec, QueuePolicy
from acd.states import Strategy, strategy_named
from acd.strategies import AgentStats, linear, weighted_random
from tests.unit.acd.acdtable import Table, of

ORDER = ("c", "a", "d", "b")  # the configured order (agents.toml), not alphabetical


def floor(strategy: Strategy, skills: dict[str, int] | None = None, seed: int = 0) -> Table:
    agents = [AgentSpec(x, {"general": (skills or {}).get(x, 3)}) for x in ORDER]
    t = Table(QueuePolicy(strategy=strategy, wrapup=0, random_seed=seed), agents)
    for i, x in enumerate(reversed(ORDER)):  # logged in in reverse order: idle time disagrees
        t.at(i, AgentLoggedIn(x))
    return t


def serve(t: Table, call_id: str, now: float) -> str:
    offer = of(cmd.Offer, t.at(now, CallerArrived(call_id, "general")))[0]
    agent = offer.agent_ids[0]
    t.at(now, OfferAnswered(call_id, agent))
    t.at(now + 1, CallEnded(call_id))
    return str(agent)


def test_linear_offers_the_first_free_agent_in_configured_order() -> None:
    t = floor(Strategy.LINEAR)
    assert [serve(t, str(i), 10 * i + 10) for i in range(3)] == ["c", "c", "c"]
    t.at(50, AgentPaused("c"))
    assert serve(t, "p", 60) == "a"  # the next in order while c is away
    t.at(70, AgentResumed("c"))
    assert serve(t, "q", 80) == "c"  # back at the top


def test_linear_busy_agents_are_passed_over_in_order() -> None:
    t = floor(Strategy.LINEAR)
    offers = [of(cmd.Offer, t.at(10, CallerArrived(str(i), "general")))[0] for i in range(4)]
    assert [o.agent_ids[0] for o in offers] == list(ORDER)


def test_rrmemory_starts_after_the_agent_offered_last_and_wraps() -> None:
    t = floor(Strategy.RR_MEMORY)
    assert [serve(t, str(i), 10 * i + 10) for i in range(6)] == ["c", "a", "d", "b", "c", "a"]


def test_rrmemory_skips_an_agent_away_and_keeps_its_turn_order() -> None:
    t = floor(Strategy.RR_MEMORY)
    assert serve(t, "1", 10) == "c"
    t.at(15, AgentPaused("a"))
    assert serve(t, "2", 20) == "d"  # a is away: the next after c in order
    t.at(25, AgentResumed("a"))
    assert serve(t, "3", 30) == "b"  # after d, not back to a
    assert serve(t, "4", 40) == "c"  # wraps
    assert serve(t, "5", 50) == "a"


def test_wrandom_prefers_higher_proficiency_by_weight_but_not_always() -> None:
    counts: Counter[str] = Counter()
    for seed in range(600):
        t = floor(Strategy.WEIGHTED_RANDOM, {"c": 1, "a": 4, "d": 1, "b": 4}, seed)
        counts[serve(t, "x", 10)] += 1
    # weights 1:4:1:4 -> a and b each about 40 %, c and d about 10 %
    assert counts["a"] + counts["b"] > 3 * (counts["c"] + counts["d"])
    assert counts["c"] > 0 and counts["d"] > 0  # lower proficiency is not a hard tier here


def test_wrandom_is_reproducible_with_the_same_seed() -> None:
    seqs = []
    for _ in range(2):
        t = floor(Strategy.WEIGHTED_RANDOM, {"c": 1, "a": 4, "d": 2, "b": 5}, 7)
        seqs.append([serve(t, str(i), 10 * i + 10) for i in range(12)])
    assert seqs[0] == seqs[1] and len(set(seqs[0])) > 1


def test_wrandom_respects_the_callers_minimum_proficiency() -> None:
    for seed in range(50):
        agents = [AgentSpec("lo", {"general": 1}), AgentSpec("hi", {"general": 3})]
        t = Table(
            QueuePolicy(strategy=Strategy.WEIGHTED_RANDOM, min_proficiency=2, random_seed=seed),
            agents,
        )
        t.at(0, AgentLoggedIn("lo"), AgentLoggedIn("hi"))
        assert of(cmd.Offer, t.at(1, CallerArrived("x", "general")))[0].agent_ids == ("hi",)


def test_keys() -> None:
    s = AgentStats(
        idle_since=5.0, calls_taken=2, talk_seconds=9.0, last_offer_seq=4, random_draw=0.25, order=3
    )
    assert linear(s, 2) == (3.0,)
    assert weighted_random(s, 1) == (-0.25,)
    assert weighted_random(s, 2) == (-0.5,)  # a higher weight draws closer to 1


@pytest.mark.parametrize(
    ("name", "strategy"),
    [
        ("linear", Strategy.LINEAR),
        ("top-down", Strategy.LINEAR),
        ("sequentially-by-agent-order", Strategy.LINEAR),
        ("rrmemory", Strategy.RR_MEMORY),
        ("round-robin", Strategy.RR_MEMORY),
        ("wrandom", Strategy.WEIGHTED_RANDOM),
        ("ringall", Strategy.RING_ALL),
        ("ring-all", Strategy.RING_ALL),
        ("leastrecent", Strategy.LONGEST_IDLE),
        ("longest-idle-agent", Strategy.LONGEST_IDLE),
        ("fewestcalls", Strategy.FEWEST_CALLS),
        ("agent-with-fewest-calls", Strategy.FEWEST_CALLS),
        ("agent-with-least-talk-time", Strategy.LEAST_TALK_TIME),
        ("longest_idle", Strategy.LONGEST_IDLE),
        ("round_robin", Strategy.ROUND_ROBIN),
        ("random", Strategy.RANDOM),
        ("nonsense", None),
    ],
)
def test_app_queue_and_mod_callcenter_names(name: str, strategy: Strategy | None) -> None:
    assert strategy_named(name) is strategy


# --- ring-progressively (mod_callcenter) ------------------------------------------------------


def progressive(timeout: float = 15, delay: float = 5) -> Table:
    agents = [AgentSpec(x, {"general": 3}) for x in ("a", "b", "c")]
    policy = QueuePolicy(
        strategy=Strategy.RING_PROGRESSIVELY,
        offer_timeout=timeout,
        ring_progressively_delay=delay,
        wrapup=0,
    )
    t = Table(policy, agents)
    for i, x in enumerate(("a", "b", "c")):
        t.at(i, AgentLoggedIn(x))
    return t


def test_ring_progressively_adds_the_next_agent_every_delay_while_the_first_rings_on() -> None:
    t = progressive()
    out = t.at(10, CallerArrived("x", "general"))
    assert of(cmd.Offer, out) == [cmd.Offer("x", ("a",), 15.0)]
    assert cmd.SetTimer(("progress", "x", 1), 15.0) in out
    out = t.at(15, TimerFired(("progress", "x", 1)))
    assert of(cmd.Offer, out) == [cmd.Offer("x", ("a", "b"), 10.0)]  # same deadline: 25
    assert of(cmd.CancelOffer, out) == []  # a rings on
    assert cmd.SetTimer(("offer", "x", 2), 25.0) in out
    out = t.at(20, TimerFired(("progress", "x", 2)))
    assert of(cmd.Offer, out) == [cmd.Offer("x", ("a", "b", "c"), 5.0)]
    assert not [c for c in out if isinstance(c, cmd.SetTimer) and c.key[0] == "progress"]
    # c answers: the others stop ringing, with no miss; the ring time is c's own
    out = t.at(22, OfferAnswered("x", "c"))
    assert of(cmd.CancelOffer, out) == [cmd.CancelOffer("x", ("a", "b"))]
    assert of(cmd.CallConnected, out)[0].ring_seconds == 2.0
    assert [t.acd.agent(x).no_answer_count for x in ("a", "b")] == [0, 0]


def test_ring_progressively_offer_timeout_counts_from_the_first_ring() -> None:
    t = progressive()
    t.at(10, CallerArrived("x", "general"))
    t.at(15, TimerFired(("progress", "x", 1)))
    out = t.at(25, TimerFired(("offer", "x", 2)))
    rejected = of(cmd.OfferRejected, out)
    assert [(r.agent_id, r.reason, r.ring_seconds) for r in rejected] == [
        ("a", "no_answer", 15.0),
        ("b", "no_answer", 10.0),
    ]


def test_ring_progressively_waits_for_a_free_agent_at_the_next_step() -> None:
    t = progressive()
    t.at(5, AgentPaused("b"), AgentPaused("c"))
    t.at(10, CallerArrived("x", "general"))
    out = t.at(15, TimerFired(("progress", "x", 1)))
    assert of(cmd.Offer, out) == []
    assert cmd.SetTimer(("progress", "x", 1), 20.0) in out
    t.at(17, AgentResumed("b"))
    out = t.at(20, TimerFired(("progress", "x", 1)))
    assert of(cmd.Offer, out) == [cmd.Offer("x", ("a", "b"), 5.0)]


def test_ring_progressively_a_stale_step_does_nothing() -> None:
    t = progressive()
    t.at(10, CallerArrived("x", "general"))
    t.at(12, OfferAnswered("x", "a"))
    assert t.at(15, TimerFired(("progress", "x", 1))) == []
