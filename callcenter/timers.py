"""The owner task's timer wheel: keyed timers in a heap with lazy cancellation."""

from __future__ import annotations

import heapq

from acd.events import TimerKey


class Timers:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerKey]] = []
        self._due: dict[TimerKey, float] = {}
        self._seq = 0

    def set(self, key: TimerKey, at: float) -> None:
        self._due[key] = at
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, key))

    def cancel(self, key: TimerKey) -> None:
        self._due.pop(key, None)

    def due(self, key: TimerKey) -> float | None:
        """When this timer fires (None: not set, fired or cancelled)."""
        return self._due.get(key)

    def next_at(self) -> float | None:
        while self._heap:
            at, _, key = self._heap[0]
            if self._due.get(key) == at:
                return at
            heapq.heappop(self._heap)
        return None

    def pop_due(self, now: float) -> list[TimerKey]:
        fired: list[TimerKey] = []
        while self._heap and self._heap[0][0] <= now:
            at, _, key = heapq.heappop(self._heap)
            if self._due.get(key) == at:
                del self._due[key]
                fired.append(key)
        return fired

    def __len__(self) -> int:
        return len(self._due)
