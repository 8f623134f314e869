"""Table helpers for the routing core: a scenario is (time, event) steps; assertions read the
commands each step produced."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from acd import commands as cmd
from acd.engine import Acd
from acd.model import AgentSpec, QueuePolicy


class Table:
    def __init__(self, policy: QueuePolicy, agents: Iterable[AgentSpec]) -> None:
        self.acd = Acd(policy, agents)
        self.log: list[tuple[float, Any, list[cmd.Command]]] = []

    def at(self, now: float, *events: Any) -> list[cmd.Command]:
        out: list[cmd.Command] = []
        for event in events:
            produced = self.acd.handle(event, now)
            self.log.append((now, event, produced))
            out.extend(produced)
        return out

    def offers(self) -> list[tuple[str, tuple[str, ...]]]:
        return [
            (c.call_id, c.agent_ids)
            for _, _, cs in self.log
            for c in cs
            if isinstance(c, cmd.Offer)
        ]

    def last_offer(self) -> tuple[str, tuple[str, ...]]:
        return self.offers()[-1]

    def left(self) -> list[tuple[str, str]]:
        return [
            (c.call_id, c.reason)
            for _, _, cs in self.log
            for c in cs
            if isinstance(c, cmd.CallerLeft)
        ]


def of(kind: type, commands: Sequence[cmd.Command]) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]
