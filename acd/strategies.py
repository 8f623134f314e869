"""Routing strategies: each is a sort key over an idle agent; the smallest key is offered first.

Keys are computed when an agent enters the idle index and do not change while it is there,
so the index stays sorted without rescans. The index is per (skill, proficiency): a key may
use the proficiency of that index (weighted random does).
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
    order: int = 0  # the agent's place in the configured agent list (agents.toml), from 0


StrategyKey = tuple[float, ...]


def longest_idle(s: AgentStats, proficiency: int) -> StrategyKey:
    return (s.idle_since,)


def fewest_calls(s: AgentStats, proficiency: int) -> StrategyKey:
    return (float(s.calls_taken), s.idle_since)


def least_talk_time(s: AgentStats, proficiency: int) -> StrategyKey:
    return (s.talk_seconds, s.idle_since)


def round_robin(s: AgentStats, proficiency: int) -> StrategyKey:
    """The agent offered least recently goes first."""
    return (float(s.last_offer_seq),)


def random_order(s: AgentStats, proficiency: int) -> StrategyKey:
    return (s.random_draw,)


def linear(s: AgentStats, proficiency: int) -> StrategyKey:
    """Configured order (app_queue `linear`, mod_callcenter `top-down`). Round robin with
    memory uses the same key; the engine starts its search after the agent offered last."""
    return (float(s.order),)


def weighted_random(s: AgentStats, proficiency: int) -> StrategyKey:
    """A draw weighted by proficiency (Efraimidis-Spirakis: the largest u ** (1 / w) of
    independent uniform draws u is a sample with chance proportional to the weight w), so a
    proficiency-4 agent is chosen about twice as often as a proficiency-2 one. Compared across
    proficiency levels, not level by level."""
    return (-(s.random_draw ** (1.0 / proficiency)),)


KEYS: dict[Strategy, Callable[[AgentStats, int], StrategyKey]] = {
    Strategy.LONGEST_IDLE: longest_idle,
    Strategy.FEWEST_CALLS: fewest_calls,
    Strategy.LEAST_TALK_TIME: least_talk_time,
    Strategy.ROUND_ROBIN: round_robin,
    Strategy.RANDOM: random_order,
    Strategy.RING_ALL: longest_idle,
    Strategy.LINEAR: linear,
    Strategy.RR_MEMORY: linear,
    Strategy.WEIGHTED_RANDOM: weighted_random,
    Strategy.RING_PROGRESSIVELY: longest_idle,  # the order in which agents join the ring
}

# Strategies whose keys need a fresh random draw each time the agent becomes idle.
DRAWS = frozenset({Strategy.RANDOM, Strategy.WEIGHTED_RANDOM})

# Strategies whose keys are compared across proficiency levels (the others offer the highest
# proficiency first and use the key within a level).
ACROSS_PROFICIENCY = frozenset({Strategy.WEIGHTED_RANDOM})
