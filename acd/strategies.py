"""Routing strategies: each is a sort key over an idle agent; the smallest key is offered first.

Keys are computed when an agent enters the idle index and do not change while it is there,
so the index stays sorted without rescans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from acd.states import Strategy


@dataclass(frozen=True)
class AgentStats:
    """What the strategies may look at."""

    idle_since: float
    calls_taken: int
    talk_seconds: float
    last_offer_seq: int
    random_draw: float


StrategyKey = tuple[float, ...]


def longest_idle(s: AgentStats) -> StrategyKey:
    return (s.idle_since,)


def fewest_calls(s: AgentStats) -> StrategyKey:
    return (float(s.calls_taken), s.idle_since)


def least_talk_time(s: AgentStats) -> StrategyKey:
    return (s.talk_seconds, s.idle_since)


def round_robin(s: AgentStats) -> StrategyKey:
    """The agent offered least recently goes first."""
    return (float(s.last_offer_seq),)


def random_order(s: AgentStats) -> StrategyKey:
    return (s.random_draw,)


KEYS: dict[Strategy, Callable[[AgentStats], StrategyKey]] = {
    Strategy.LONGEST_IDLE: longest_idle,
    Strategy.FEWEST_CALLS: fewest_calls,
    Strategy.LEAST_TALK_TIME: least_talk_time,
    Strategy.ROUND_ROBIN: round_robin,
    Strategy.RANDOM: random_order,
    Strategy.RING_ALL: longest_idle,
}
