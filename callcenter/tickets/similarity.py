"""Repeat-request detection (重复诉求 / 并单).

Similarity of two texts is the cosine of their content-word count vectors: jieba tokens
without punctuation and without the knowledge base's stop words,

    sim(a, b) = Σ_w a_w·b_w / (‖a‖·‖b‖)     (0 when either text has no content word)

A new request repeats one of the caller's open tickets when that ticket was created within
`window_days` before the request and their similarity is at least `threshold`; the most similar
such ticket (then the most recent) is returned.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callcenter.tickets import text as segment
from callcenter.tickets.model import to_utc


@dataclass(frozen=True)
class RepeatPolicy:
    window_days: float = 30.0
    threshold: float = 0.5
    stop_words: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class OpenTicket:
    ticket_id: str
    caller_number: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class RepeatMatch:
    ticket_id: str
    similarity: float
    shared_words: tuple[str, ...]  # evidence, most frequent first


def word_counts(text: str, stop_words: frozenset[str]) -> Counter[str]:
    return Counter(segment.content_words(text, stop_words))


def cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[word] for word, count in a.items())
    if dot == 0:
        return 0.0
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm


def similarity(a: str, b: str, stop_words: frozenset[str] = frozenset()) -> float:
    return cosine(word_counts(a, stop_words), word_counts(b, stop_words))


def find_repeat(
    policy: RepeatPolicy,
    caller_number: str,
    text: str,
    at: datetime,
    open_tickets: Iterable[OpenTicket],
) -> RepeatMatch | None:
    """The caller's open ticket this request repeats, or None.

    `open_tickets` are normally the caller's open tickets as storage found them by number;
    any ticket of another caller number is ignored.
    """
    now = to_utc(at)
    earliest = now - timedelta(days=policy.window_days)
    new = word_counts(text, policy.stop_words)
    best: tuple[float, datetime, OpenTicket, Counter[str]] | None = None
    for ticket in open_tickets:
        if ticket.caller_number != caller_number:
            continue
        created = to_utc(ticket.created_at)
        if not earliest <= created <= now:
            continue
        words = word_counts(ticket.text, policy.stop_words)
        score = cosine(new, words)
        if score < policy.threshold:
            continue
        if best is None or (score, created) > (best[0], best[1]):
            best = (score, created, ticket, words)
    if best is None:
        return None
    score, _, ticket, words = best
    shared = new & words
    evidence = tuple(w for w, _ in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0])))
    return RepeatMatch(ticket.ticket_id, round(score, 4), evidence)
