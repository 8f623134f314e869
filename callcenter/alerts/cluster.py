"""Groups of similar requests about one place: 集中反映 clusters and repeated problems.

Method. A request's words are those the ticket store segmented with jieba for full-text search
(`tickets.search_text`: title, content and address, the project's dictionary-only tokenizer in
`callcenter.tickets.text`), or its title and content cut the same way; the word set is
summarised by a MinHash signature (`datasketch`, `num_perm` permutations) and indexed in a
MinHash LSH whose bands are tuned to the Jaccard `threshold`. An arriving request queries the
index for candidates, keeps those about the same place (`place`: the grid, street or district
code) within the window whose estimated Jaccard similarity reaches the threshold, and joins
their group (the oldest one; groups it links are merged). A group is reported once it holds
`min_size` distinct callers (a cluster: many neighbours) or `min_size` requests (a repeated
problem: whoever calls). Requests older than the window leave the index.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from datasketch import MinHash, MinHashLSH

from callcenter.tickets import text as segment

NUM_PERM = 64
SCHEME = "affine32"
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)


def words_of(text: str) -> frozenset[str]:
    """The content words of a request (no punctuation), as a set."""
    return frozenset(segment.content_words(text, frozenset()))


def signature(words: frozenset[str]) -> MinHash:
    found = MinHash(num_perm=NUM_PERM, seed=1, permutations=_TEMPLATE.permutations, scheme=SCHEME)
    found.update_batch([w.encode("utf-8") for w in sorted(words)])
    return found


def place_of(grid: str, scope: str) -> str:
    """The place a request is about at this scope: a grid code DDDDDDSSSGGG gives its
    street (first 9) or district (first 6)."""
    if scope == "district":
        return grid[:6]
    if scope == "street":
        return grid[:9]
    return grid


@dataclass(frozen=True)
class Request:
    ticket_id: int
    at: float
    caller: str
    place: str
    words: frozenset[str]
    minhash: MinHash | None = None  # the signature of `words`, when already computed


@dataclass
class Group:
    label: int  # the first request's ticket id
    place: str
    first_at: float
    last_at: float
    ticket_ids: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    callers: set[str] = field(default_factory=set)
    words: frozenset[str] = frozenset()  # words every member shares

    def size(self, distinct_callers: bool) -> int:
        return len(self.callers) if distinct_callers else len(self.ticket_ids)


@dataclass
class _Entry:
    at: float
    place: str
    label: int
    minhash: MinHash


class SimilarGroups:
    """Feed requests in time order with `add`; it returns the request's group when that group
    is large enough to report (every time it grows from then on)."""

    def __init__(
        self, window: float, threshold: float, min_size: int, distinct_callers: bool
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.min_size = min_size
        self.distinct_callers = distinct_callers
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self.entries: dict[int, _Entry] = {}
        self.order: deque[int] = deque()
        self.groups: dict[int, Group] = {}

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self.order and self.entries[self.order[0]].at < horizon:
            key = self.order.popleft()
            entry = self.entries.pop(key)
            self.lsh.remove(key)
            group = self.groups.get(entry.label)
            if group is not None and group.last_at < horizon:
                del self.groups[entry.label]

    def add(self, request: Request) -> Group | None:
        self._expire(request.at)
        if not request.words or not request.place:
            return None
        mh = request.minhash if request.minhash is not None else signature(request.words)
        labels: set[int] = set()
        for key in self.lsh.query(mh):
            entry = self.entries[key]
            if entry.place == request.place and mh.jaccard(entry.minhash) >= self.threshold:
                labels.add(entry.label)
        label = min(labels) if labels else request.ticket_id
        group = self.groups.get(label)
        if group is None:
            group = self.groups[label] = Group(
                label, request.place, request.at, request.at, words=request.words
            )
        for other in sorted(labels - {label}):  # the request links two groups: merge them
            merged = self.groups.pop(other, None)
            if merged is None:
                continue
            group.ticket_ids.extend(merged.ticket_ids)
            group.times.extend(merged.times)
            group.callers |= merged.callers
            group.first_at = min(group.first_at, merged.first_at)
            group.words &= merged.words
            for tid in merged.ticket_ids:
                if tid in self.entries:
                    self.entries[tid].label = label
        group.ticket_ids.append(request.ticket_id)
        group.times.append(request.at)
        if request.caller:
            group.callers.add(request.caller)
        group.last_at = request.at
        group.words &= request.words
        self.entries[request.ticket_id] = _Entry(request.at, request.place, label, mh)
        self.order.append(request.ticket_id)
        self.lsh.insert(request.ticket_id, mh)
        return group if group.size(self.distinct_callers) >= self.min_size else None
