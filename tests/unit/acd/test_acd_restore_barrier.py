"""Restoring the queue is a barrier: no offer while routing is held, and on release the
first offers go to the best callers of the whole queue (priority, then arrival)."""

from __future__ import annotations

from acd import commands as cmd
from acd.engine import Acd
from acd.events import (
    AgentLoggedIn,
    AgentPaused,
    AgentResumed,
    CallerArrived,
    RoutingHeld,
    RoutingReleased,
)
from acd.model import AgentSpec, QueuePolicy

AGENTS = [AgentSpec("a1", {"general": 5}), AgentSpec("a2", {"general": 5})]


def offers(commands: list[cmd.Command]) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.call_id, c.agent_ids) for c in commands if isinstance(c, cmd.Offer)]


def test_restored_callers_are_offered_best_first_once_released() -> None:
    acd = Acd(QueuePolicy(), AGENTS)
    acd.handle(AgentLoggedIn("a1"), 0)
    acd.handle(AgentLoggedIn("a2"), 0)
    acd.handle(RoutingHeld(), 1)
    made: list[cmd.Command] = []
    # the snapshot, oldest first: three ordinary callers, then two priority-5 callers
    for i, (call_id, priority) in enumerate(
        [("old1", 0), ("old2", 0), ("old3", 0), ("vip1", 5), ("vip2", 5)]
    ):
        made += acd.handle(CallerArrived(call_id, "general", priority, 100.0 + i), 2)
    assert offers(made) == []  # held: nothing offered while restoring
    released = offers(acd.handle(RoutingReleased(), 3))
    assert [call_id for call_id, _ in released] == ["vip1", "vip2"]
    assert [v.call_id for v in acd.queued() if v.state == "waiting"] == ["old1", "old2", "old3"]


def test_a_known_waiting_caller_outranks_a_restored_one_on_release() -> None:
    acd = Acd(QueuePolicy(), AGENTS[:1])
    acd.handle(AgentLoggedIn("a1"), 0)
    acd.handle(AgentPaused("a1", "meeting"), 0)
    acd.handle(CallerArrived("known", "general", 5, 10.0), 10)
    acd.handle(RoutingHeld(), 20)
    held = acd.handle(AgentResumed("a1"), 21) + acd.handle(
        CallerArrived("restored", "general", 0, 5.0), 22
    )
    assert offers(held) == []
    assert offers(acd.handle(RoutingReleased(), 23)) == [("known", ("a1",))]


def test_release_without_hold_changes_nothing() -> None:
    acd = Acd(QueuePolicy(), AGENTS[:1])
    acd.handle(AgentLoggedIn("a1"), 0)
    assert offers(acd.handle(CallerArrived("c", "general", 0, 1.0), 1)) == [("c", ("a1",))]
    assert acd.handle(RoutingReleased(), 2) == []
