"""Frequent requests the knowledge base does not answer (GB/T 44192 7.1.1 c: 知识库完善更新).

Over a period, tickets are grouped by their topic; each group is described by its most
characteristic segmented words (frequent in the group, rare elsewhere: share x log(N/df)).
Those words are searched in the entries in force; a group whose best entry covers less than
`threshold` of the words' weight is a gap, listed with its ticket count, its words, the best
entry found and example ticket numbers, the most frequent first.

It reads the tickets' indexed words (`search_text`), one pass in batches: a year of a large
city takes a while, so the API runs it in a worker thread.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.knowledge_base.search import STOP_WORDS, rank
from callcenter.storage.schema import Ticket

THRESHOLD = 0.3
WORDS_PER_GROUP = 8
MIN_SHARE = 0.05  # a describing word is in at least this share of the group's tickets
EXAMPLES = 5
UNCLASSIFIED = ""


def useful(word: str) -> bool:
    return len(word) >= 2 and word.isalnum() and not word.isdigit() and word not in STOP_WORDS


@dataclass
class _Group:
    tickets: int = 0
    words: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Gap:
    topic: str
    tickets: int
    words: tuple[str, ...]
    coverage: float  # of the best entry, 0..1
    best_entry: int | None
    best_title: str
    examples: tuple[str, ...]  # ticket numbers

    def to_json(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "tickets": self.tickets,
            "words": list(self.words),
            "coverage": round(self.coverage, 3),
            "best_entry": self.best_entry,
            "best_title": self.best_title,
            "examples": list(self.examples),
        }


def describing_words(
    group: Counter[str], size: int, df: Counter[str], total: int, limit: int = WORDS_PER_GROUP
) -> dict[str, float]:
    """The words that characterise a group of `size` tickets among `total`, with their
    weights (share in the group x log(total / tickets with the word)), best first."""
    scored = [
        (n / size * math.log(total / df[w]), w)
        for w, n in group.items()
        if n / size >= MIN_SHARE and df[w] < total
    ]
    scored.sort(key=lambda x: (-x[0], x[1]))
    return {w: score for score, w in scored[:limit]}


def _groups(session: Session, since: float, until: float) -> tuple[dict[str, _Group], Counter[str]]:
    query = (
        select(Ticket.number, Ticket.topic, Ticket.search_text)
        .where(Ticket.created_at >= since, Ticket.created_at < until)
        .order_by(Ticket.created_at.desc())
        .execution_options(yield_per=2000)
    )
    groups: dict[str, _Group] = defaultdict(_Group)
    df: Counter[str] = Counter()
    for number, topic, words in session.execute(query):
        seen = {w for w in words.split() if useful(w)}
        g = groups[topic or UNCLASSIFIED]
        g.tickets += 1
        g.words.update(seen)
        df.update(seen)
        if len(g.examples) < EXAMPLES:
            g.examples.append(number)
    return groups, df


def gaps(
    session: Session,
    since: float,
    until: float,
    min_count: int = 10,
    threshold: float = THRESHOLD,
    now: float | None = None,
) -> list[Gap]:
    """Groups of at least `min_count` tickets created in [since, until) whose best entry in
    force (at `now`, default `until`) covers less than `threshold` of their words."""
    groups, df = _groups(session, since, until)
    total = sum(g.tickets for g in groups.values())
    found: list[Gap] = []
    for topic, g in groups.items():
        if g.tickets < min_count:
            continue
        words = describing_words(g.words, g.tickets, df, total)
        if not words:
            continue
        best = rank(session, list(words), until if now is None else now, 1, words)
        coverage = best[0].coverage if best else 0.0
        if coverage < threshold:
            found.append(
                Gap(
                    topic,
                    g.tickets,
                    tuple(words),
                    coverage,
                    best[0].entry_id if best else None,
                    best[0].title if best else "",
                    tuple(g.examples),
                )
            )
    found.sort(key=lambda x: (-x.tickets, x.topic))
    return found
