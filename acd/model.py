"""Configuration of the routing core: agents, widening rules and the queue policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from acd.states import Strategy

AgentId = str
CallId = str
SkillId = str

MIN_PROFICIENCY = 1
MAX_PROFICIENCY = 5


@dataclass(frozen=True)
class AgentSpec:
    """A seat: who it is and what it can handle. `skills` maps skill id to proficiency 1-5."""

    id: AgentId
    skills: Mapping[SkillId, int]
    name: str = ""
    max_concurrent: int = 1


@dataclass(frozen=True)
class WideningRule:
    """After `after` seconds of waiting, also offer the caller to `add_skills`, and/or accept
    agents down to `min_proficiency`."""

    after: float
    add_skills: tuple[SkillId, ...] = ()
    min_proficiency: int | None = None


@dataclass(frozen=True)
class NamedQueue:
    """A named queue's own rules (e.g. a 专席 with a longer wrap-up, an enterprise line that
    rings all): they hold for callers whose skill is one of `skills`, and the idle agents of
    those skills are ordered by its strategy. Ordering stays one unified queue (priority, then
    arrival); keys left unset in queue.toml are taken from [queue] when the config loads."""

    name: str
    skills: tuple[SkillId, ...]
    strategy: Strategy = Strategy.LONGEST_IDLE
    offer_timeout: float = 15.0
    wrapup: float = 5.0
    max_wait: float | None = None
    overflow_target: str = ""
    announce: bool = True  # position / expected-wait announcements (the runtime reads it)
    ring_progressively_delay: float = 5.0


@dataclass(frozen=True)
class QueuePolicy:
    strategy: Strategy = Strategy.LONGEST_IDLE
    offer_timeout: float = 15.0
    wrapup: float = 5.0
    max_no_answer: int = 3
    no_answer_backoff: float = 10.0
    max_wait: float | None = None
    overflow_target: str = ""
    widening: tuple[WideningRule, ...] = ()
    # The proficiency a caller requires at first; widening rules may lower it.
    min_proficiency: int = MIN_PROFICIENCY
    leave_when_no_agents: bool = False
    random_seed: int = 0
    # An agent whose phone refused or failed an offer is skipped this long (not counted as a
    # miss): the next caller does not ring the same broken phone at once.
    refusal_backoff: float = 5.0
    # Seconds after which an auto-pause ends by itself (None: a person resumes the agent).
    auto_pause_expires: float | None = None
    # Alert when more than this share of logged-in agents is auto-paused (None: never).
    auto_pause_share_alert: float | None = None
    # ring_progressively: seconds between one agent joining the ring and the next
    ring_progressively_delay: float = 5.0
    # Named queues with their own rules; skills in none of them follow this policy.
    queues: tuple[NamedQueue, ...] = ()
