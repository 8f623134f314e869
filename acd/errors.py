"""Typed errors of the routing core, each with a stable `error_id`."""

from __future__ import annotations


class AcdError(Exception):
    error_id = "acd.error"


class UnknownAgent(AcdError):
    error_id = "acd.unknown_agent"

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id!r}")
        self.agent_id = agent_id


class UnknownCaller(AcdError):
    error_id = "acd.unknown_caller"

    def __init__(self, call_id: str) -> None:
        super().__init__(f"no waiting caller {call_id!r}")
        self.call_id = call_id


class InvalidTransition(AcdError):
    error_id = "acd.invalid_transition"


class AgentUnavailable(AcdError):
    """The agent named for a transfer cannot take the call now (not idle, or lacks the skill)."""

    error_id = "acd.agent_unavailable"

    def __init__(self, agent_id: str, why: str) -> None:
        super().__init__(f"agent {agent_id!r} cannot take the call: {why}")
        self.agent_id = agent_id
        self.why = why
