"""Strategies as sort keys, and the core's invariant over random event sequences."""

from __future__ import annotations

import random

import pytest

from acd import commands as cmd
from acd.engine import Acd
from acd.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentReady,
    AgentResumed,
    CallEnded,
    CallerArrived,
    CallerHungUp,
    OfferAnswered,
    OfferFailed,
    TimerFired,
)
from acd.model import AgentSpec, NamedQueue, QueuePolicy, WideningRule
from acd.states import Strategy
from tests.unit.acd.acdtable import Table, of


def three(strategy: Strategy, seed: int = 0) -> Table:
    agents = [AgentSpec(x, {"general": 3}) for x in ("a", "b", "c")]
    t = Table(QueuePolicy(strategy=strategy, wrapup=0, random_seed=seed), agents)
    for i, x in enumerate(("a", "b", "c")):
        t.at(i, AgentLoggedIn(x))
    return t


def serve(t: Table, call_id: str, now: float, talk: float) -> str:
    out = t.at(now, CallerArrived(call_id, "general"))
    agent = of(cmd.Offer, out)[0].agent_ids[0]
    t.at(now, OfferAnswered(call_id, agent))
    t.at(now + talk, CallEnded(call_id))
    return str(agent)


def test_longest_idle_offers_the_agent_idle_longest() -> None:
    t = three(Strategy.LONGEST_IDLE)
    assert serve(t, "1", 10, 1) == "a"  # logged in first
    assert serve(t, "2", 20, 1) == "b"
    assert serve(t, "3", 30, 1) == "c"
    assert serve(t, "4", 40, 1) == "a"  # a has been idle since 11


def test_fewest_calls_offers_the_agent_with_fewest_calls_taken() -> None:
    t = three(Strategy.FEWEST_CALLS)
    serve(t, "1", 10, 1)
    serve(t, "2", 20, 1)
    assert serve(t, "3", 30, 1) == "c"
    assert t.acd.agent("c").calls_taken == 1


def test_least_talk_time_offers_the_agent_with_least_talk() -> None:
    t = three(Strategy.LEAST_TALK_TIME)
    assert serve(t, "1", 10, 50) == "a"
    assert serve(t, "2", 100, 5) == "b"
    assert serve(t, "3", 200, 20) == "c"
    assert serve(t, "4", 300, 1) == "b"  # 5 s of talk is the least


def test_round_robin_offers_the_agent_offered_least_recently() -> None:
    t = three(Strategy.ROUND_ROBIN)
    order = [serve(t, str(i), 10 * i + 10, 1) for i in range(6)]
    assert order == ["a", "b", "c", "a", "b", "c"]


def test_random_is_reproducible_with_the_same_seed() -> None:
    t1, t2 = three(Strategy.RANDOM, 7), three(Strategy.RANDOM, 7)
    seq1 = [serve(t1, str(i), 10 * i + 10, 1) for i in range(12)]
    seq2 = [serve(t2, str(i), 10 * i + 10, 1) for i in range(12)]
    assert seq1 == seq2
    assert len(set(seq1)) > 1
    firsts = {serve(three(Strategy.RANDOM, s), "x", 10, 1) for s in range(20)}
    assert len(firsts) > 1  # different seeds give different orders


def test_ring_all_offers_one_offer_with_every_matching_agent() -> None:
    t = three(Strategy.RING_ALL)
    out = t.at(10, CallerArrived("x", "general"))
    assert [set(o.agent_ids) for o in of(cmd.Offer, out)] == [{"a", "b", "c"}]


# --- the invariant -------------------------------------------------------------------------

SKILLS = ("general", "labor", "market")
MANY_AT_ONCE = (Strategy.RING_ALL, Strategy.RING_PROGRESSIVELY)  # one caller rings several


def check_invariant(acd: Acd, commands: list[cmd.Command], eligible_before: set[str]) -> None:
    agents = {a.agent_id: a for a in acd.agents()}
    for c in commands:
        if isinstance(c, cmd.Offer):
            assert set(c.agent_ids) <= eligible_before | set(agents), c
    offered: dict[str, str] = {}
    for a in agents.values():
        if a.offered is not None:
            assert a.offered not in offered.values() or many_at_once(acd.policy)
            offered[a.agent_id] = a.offered
    idle = [a for a in agents.values() if a.status == "available" and a.state == "idle"]
    for view in acd.queued():
        if view.state != "waiting":
            continue
        for a in idle:
            skills = dict(a.skills)
            can = any(s in skills for s in view.skills)
            # an idle agent able to serve a waiting caller must be backing off
            if can:
                assert a.backing_off, (view, a)


def many_at_once(policy: QueuePolicy) -> bool:
    strategies = {policy.strategy, *(q.strategy for q in policy.queues)}
    return bool(strategies & set(MANY_AT_ONCE))


# named queues mixing strategies over the skills (per-skill index keys, rrmemory turns)
MIXED = [
    (
        NamedQueue("l", ("labor",), Strategy.RR_MEMORY),
        NamedQueue("m", ("market",), Strategy.WEIGHTED_RANDOM),
    ),
    (
        NamedQueue("l", ("labor",), Strategy.RING_ALL, wrapup=0),
        NamedQueue("m", ("market",), Strategy.LINEAR),
    ),
    (
        NamedQueue("g", ("general",), Strategy.RING_PROGRESSIVELY, offer_timeout=8),
        NamedQueue("l", ("labor",), Strategy.FEWEST_CALLS, wrapup=7),
    ),
]


@pytest.mark.parametrize(
    ("strategy", "queues"),
    [(s, ()) for s in Strategy] + [(Strategy.LONGEST_IDLE, m) for m in MIXED],
)
def test_no_waiting_caller_could_be_offered_to_an_idle_agent(
    strategy: Strategy, queues: tuple[NamedQueue, ...]
) -> None:
    rng = random.Random(strategy.value + str(len(queues) and queues[0].strategy))
    for run in range(40):
        agents = [
            AgentSpec(
                f"a{i}", {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))}
            )
            for i in range(6)
        ]
        policy = QueuePolicy(
            strategy=strategy,
            wrapup=rng.choice((0, 3)),
            max_no_answer=3,
            no_answer_backoff=rng.choice((0, 5)),
            widening=(WideningRule(20, ("general",)),),
            random_seed=run,
            queues=queues,
        )
        acd = Acd(policy, agents)
        timers: dict[tuple[str, str, int], float] = {}
        now = 0.0
        calls = 0
        connected: set[str] = set()
        for _ in range(150):
            now += rng.random() * 3
            due = sorted((at, k) for k, at in timers.items() if at <= now)
            events: list[object] = [TimerFired(k) for _, k in due]
            for _, k in due:
                timers.pop(k)
            r = rng.random()
            if r < 0.3:
                calls += 1
                events.append(CallerArrived(f"c{calls}", rng.choice(SKILLS), rng.randint(0, 3)))
            else:
                views = acd.queued()
                agent = rng.choice(agents).id
                offered = [v for v in views if v.state == "offered"]
                if r < 0.5 and offered:
                    v = rng.choice(offered)
                    events.append(OfferAnswered(v.call_id, rng.choice(v.agent_ids)))
                elif r < 0.6 and offered:
                    v = rng.choice(offered)
                    events.append(OfferFailed(v.call_id, v.agent_ids[0], "no_answer"))
                elif r < 0.7 and connected:
                    events.append(CallEnded(rng.choice(sorted(connected))))
                elif r < 0.75 and views:
                    events.append(CallerHungUp(rng.choice(views).call_id))
                elif r < 0.8:
                    events.append(AgentPaused(agent, "break"))
                elif r < 0.9:
                    events.append(
                        AgentResumed(agent) if rng.random() < 0.8 else AgentLoggedIn(agent)
                    )
                elif r < 0.95:
                    events.append(AgentReady(agent))
                else:
                    events.append(AgentLoggedOut(agent))
            for event in events:
                before = {
                    a.agent_id
                    for a in acd.agents()
                    if a.status == "available" and a.state == "idle"
                }
                out = acd.handle(event, now)  # type: ignore[arg-type]
                for c in out:
                    if isinstance(c, cmd.SetTimer):
                        timers[c.key] = c.at
                    elif isinstance(c, cmd.CancelTimer):
                        timers.pop(c.key, None)
                    elif isinstance(c, cmd.CallConnected):
                        assert c.call_id not in connected, "a caller connected twice"
                        connected.add(c.call_id)
                    elif isinstance(c, cmd.CallFinished):
                        connected.discard(c.call_id)
                check_invariant(acd, out, before)
