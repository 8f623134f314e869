"""The same citizen calling again and again: `count` requests from one caller number within
`days` days. (The same problem reported again and again is a `cluster.SimilarGroups` counting
requests rather than callers.)"""

from __future__ import annotations

from collections import deque

DAY = 86400.0


class RepeatCallers:
    """Feed requests in time order; `add` returns the caller's requests in the window (ticket
    ids, oldest first) when there are at least `count` of them, else None."""

    def __init__(self, count: int, days: float) -> None:
        self.count = count
        self.span = days * DAY
        self.recent: dict[str, deque[tuple[float, int]]] = {}
        self._added = 0

    def add(self, caller: str, at: float, ticket_id: int) -> list[tuple[float, int]] | None:
        if not caller:
            return None
        seen = self.recent.setdefault(caller, deque())
        horizon = at - self.span
        while seen and seen[0][0] < horizon:
            seen.popleft()
        seen.append((at, ticket_id))
        self._added += 1
        if self._added % 50_000 == 0:  # forget numbers silent for the whole window
            self.recent = {k: v for k, v in self.recent.items() if v and v[-1][0] >= horizon}
        return list(seen) if len(seen) >= self.count else None
