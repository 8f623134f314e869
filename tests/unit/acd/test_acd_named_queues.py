"""Several queue policies in one center: a named queue's offer timeout, wrap-up, strategy,
max wait and overflow target hold for the callers of its skills, while the queue stays one
(priority, then arrival) across all of them."""

from __future__ import annotations

from acd import commands as cmd
from acd.events import (
    AgentLoggedIn,
    CallEnded,
    CallerArrived,
    OfferAnswered,
    TimerFired,
)
from acd.model import AgentSpec, NamedQueue, QueuePolicy
from acd.states import Strategy
from tests.unit.acd.acdtable import Table, of

LEGAL = NamedQueue(
    "legal", ("legal",), offer_timeout=40, wrapup=60, max_wait=300, overflow_target="cc-legal,s,1"
)
ENTERPRISE = NamedQueue("enterprise", ("enterprise",), strategy=Strategy.RING_ALL)
POLICY = QueuePolicy(offer_timeout=15, wrapup=5, max_wait=600, queues=(LEGAL, ENTERPRISE))


def floor() -> Table:
    agents = [
        AgentSpec("g1", {"general": 3}),
        AgentSpec("l1", {"legal": 4, "general": 2}),
        AgentSpec("e1", {"enterprise": 3}),
        AgentSpec("e2", {"enterprise": 3}),
    ]
    t = Table(POLICY, agents)
    for i, a in enumerate(("g1", "l1", "e1", "e2")):
        t.at(i, AgentLoggedIn(a))
    return t


def test_offer_timeout_comes_from_the_callers_queue() -> None:
    t = floor()
    legal = of(cmd.Offer, t.at(10, CallerArrived("L", "legal")))[0]
    general = of(cmd.Offer, t.at(10, CallerArrived("G", "general")))[0]
    assert (legal.agent_ids, legal.timeout) == (("l1",), 40.0)
    assert (general.agent_ids, general.timeout) == (("g1",), 15.0)


def test_wrapup_comes_from_the_queue_of_the_call_just_finished() -> None:
    t = floor()
    t.at(10, CallerArrived("L", "legal"), OfferAnswered("L", "l1"))
    out = t.at(100, CallEnded("L"))
    assert cmd.SetTimer(("wrapup", "l1", 1), 160.0) in out  # legal: 60 s
    t.at(160, TimerFired(("wrapup", "l1", 1)))
    # the same agent after a general call: [queue]'s 5 s
    t.at(170, CallerArrived("G1", "general"), OfferAnswered("G1", "g1"))
    t.at(171, CallerArrived("G2", "general"))
    t.at(171, OfferAnswered("G2", "l1"))
    out = t.at(200, CallEnded("G2"))
    assert [c for c in out if isinstance(c, cmd.SetTimer) and c.key[0] == "wrapup"] == [
        cmd.SetTimer(("wrapup", "l1", 2), 205.0)
    ]


def test_strategy_per_queue_ring_all_for_the_enterprise_line_only() -> None:
    t = floor()
    ent = of(cmd.Offer, t.at(10, CallerArrived("E", "enterprise")))[0]
    assert set(ent.agent_ids) == {"e1", "e2"}
    gen = of(cmd.Offer, t.at(10, CallerArrived("G", "general")))[0]
    assert gen.agent_ids == ("g1",)  # longest idle: one agent


def test_max_wait_and_overflow_target_per_queue() -> None:
    t = floor()
    for a in ("l1", "g1"):
        t.at(5, CallerArrived(f"busy-{a}", "legal" if a == "l1" else "general"))
        t.at(5, OfferAnswered(f"busy-{a}", a))
    out_l = t.at(10, CallerArrived("L", "legal"))
    out_g = t.at(10, CallerArrived("G", "general"))
    assert cmd.SetTimer(("max_wait", "L", 0), 310.0) in out_l
    assert cmd.SetTimer(("max_wait", "G", 0), 610.0) in out_g
    out = t.at(310, TimerFired(("max_wait", "L", 0)))
    assert of(cmd.Overflow, out) == [cmd.Overflow("L", "cc-legal,s,1", "overflow")]
    out = t.at(610, TimerFired(("max_wait", "G", 0)))
    assert of(cmd.Overflow, out) == [cmd.Overflow("G", "", "timeout")]


def test_one_unified_queue_across_named_queues() -> None:
    """l1 serves legal and general: a freed l1 takes the caller first by priority, then by
    arrival, whichever named queue the caller is in."""
    t = floor()
    t.at(5, CallerArrived("busy-l", "legal"), OfferAnswered("busy-l", "l1"))
    t.at(5, CallerArrived("busy-g", "general"), OfferAnswered("busy-g", "g1"))
    t.at(10, CallerArrived("G-early", "general"))
    t.at(11, CallerArrived("L-late", "legal"))
    t.at(12, CallerArrived("G-vip", "general", priority=5))
    out = t.at(20, CallEnded("busy-l"))
    t.at(80, TimerFired(("wrapup", "l1", 1)))  # legal wrap-up: 60 s
    assert t.last_offer() == ("G-vip", ("l1",))  # priority first
    t.at(81, OfferAnswered("G-vip", "l1"))
    t.at(90, CallEnded("G-vip"))
    t.at(95, TimerFired(("wrapup", "l1", 2)))  # general wrap-up: 5 s
    assert t.last_offer() == ("G-early", ("l1",))  # then arrival, across queues
    assert not of(cmd.Offer, out)


def test_strategy_per_skill_index_linear_for_one_queue_longest_idle_for_the_rest() -> None:
    queues = (NamedQueue("hotline", ("labor",), strategy=Strategy.LINEAR, wrapup=0),)
    agents = [
        AgentSpec("x", {"labor": 3, "general": 3}),
        AgentSpec("y", {"labor": 3, "general": 3}),
    ]
    t = Table(QueuePolicy(wrapup=0, queues=queues), agents)
    t.at(0, AgentLoggedIn("y"))
    t.at(1, AgentLoggedIn("x"))
    # labor: agents.toml order (x first); general: longest idle (y first)
    assert of(cmd.Offer, t.at(10, CallerArrived("L", "labor")))[0].agent_ids == ("x",)
    t.at(10, OfferAnswered("L", "x"))
    t.at(11, CallEnded("L"))
    assert of(cmd.Offer, t.at(20, CallerArrived("G", "general")))[0].agent_ids == ("y",)
    t.at(20, OfferAnswered("G", "y"))
    t.at(21, CallEnded("G"))
    assert of(cmd.Offer, t.at(30, CallerArrived("L2", "labor")))[0].agent_ids == ("x",)
