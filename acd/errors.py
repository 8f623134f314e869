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
