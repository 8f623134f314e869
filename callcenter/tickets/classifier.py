"""Proposes request type, topic and department for a request text.

Method. The text is segmented with jieba (knowledge-base terms added to its dictionary). A term
matches where it occurs as whole tokens (it starts and ends on token boundaries) or inside a
single token; occurrences that cut a token in two do not count. For a topic (or a request
type) with terms k of weight w(k):

    score = sum over matched k of  w(k) × idf(k) × (1 + ln count(k))
    idf(k) = ln(1 + N / df(k))

N is the number of topics (types), df(k) the number of topics (types) that list k, so a term
shared by many topics says less than one only a single topic uses. A department's score is
the sum of its topics' scores. A type's score adds, to its cue score, `type_hint_weight` × the
share of each matched topic that hints this type. Nothing matched: the fallback department and
the default type, flagged `fallback=True`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from callcenter.tickets import text as segment
from callcenter.tickets.knowledge import KnowledgeBase


@dataclass(frozen=True)
class Proposal:
    """One ranked proposal: a topic id, department id or request type, with its evidence."""

    value: str
    label: str
    score: float
    evidence: tuple[str, ...]  # matched terms, strongest first


@dataclass(frozen=True)
class Classification:
    request_types: tuple[Proposal, ...]  # best first; never empty
    topics: tuple[Proposal, ...]  # best first; empty when nothing matched
    departments: tuple[Proposal, ...]  # best first; the fallback alone when nothing matched
    fallback: bool

    @property
    def request_type(self) -> str:
        return self.request_types[0].value

    @property
    def topic(self) -> str | None:
        return self.topics[0].value if self.topics else None

    @property
    def department(self) -> str:
        return self.departments[0].value


def count_matches(text: str, terms: Iterable[str]) -> Counter[str]:
    """How often each term occurs in the text, aligned with tokens (see module doc)."""
    normalized = segment.normalize(text)
    toks = segment.tokens(text)
    starts = {t.start for t in toks}
    ends = {t.end for t in toks}
    owner = [0] * len(normalized)
    for i, t in enumerate(toks):
        for pos in range(t.start, t.end):
            owner[pos] = i
    counts: Counter[str] = Counter()
    for term in terms:
        key = segment.normalize(term)
        if not key:
            continue
        at = normalized.find(key)
        while at != -1:
            end = at + len(key)
            if (at in starts and end in ends) or owner[at] == owner[end - 1]:
                counts[term] += 1
            at = normalized.find(key, at + 1)
    return counts


def _idf(groups: Iterable[Mapping[str, float]]) -> dict[str, float]:
    listed = list(groups)
    df: Counter[str] = Counter(term for g in listed for term in g)
    n = len(listed)
    return {term: math.log(1 + n / d) for term, d in df.items()}


def _score(
    terms: Mapping[str, float], idf: Mapping[str, float], counts: Counter[str]
) -> tuple[float, tuple[str, ...]]:
    parts = {
        term: weight * idf[term] * (1 + math.log(counts[term]))
        for term, weight in terms.items()
        if counts[term] > 0
    }
    evidence = tuple(sorted(parts, key=lambda t: (-parts[t], t)))
    return sum(parts.values()), evidence


@cache
def _prepared(kb: KnowledgeBase) -> tuple[dict[str, float], dict[str, float]]:
    segment.add_words(kb.all_terms())
    return _idf(t.terms for t in kb.topics), _idf(c.terms for c in kb.types)


def prepare(kb: KnowledgeBase) -> None:
    """Load the knowledge base's terms into the segmenter now (else on first classify)."""
    _prepared(kb)


def classify(kb: KnowledgeBase, text: str) -> Classification:
    topic_idf, type_idf = _prepared(kb)
    counts = count_matches(text, kb.all_terms())

    topics: list[Proposal] = []
    for topic in kb.topics:
        score, evidence = _score(topic.terms, topic_idf, counts)
        if score > 0:
            topics.append(Proposal(topic.id, topic.name, round(score, 4), evidence))
    order = {t.id: i for i, t in enumerate(kb.topics)}
    topics.sort(key=lambda p: (-p.score, order[p.value]))

    by_id = {t.id: t for t in kb.topics}
    total = sum(p.score for p in topics)
    type_scores: dict[str, float] = defaultdict(float)
    type_evidence: dict[str, tuple[str, ...]] = {}
    for cues in kb.types:
        score, evidence = _score(cues.terms, type_idf, counts)
        type_scores[cues.request_type] = score
        type_evidence[cues.request_type] = evidence
    for p in topics:
        hint = by_id[p.value].type_hint
        if hint:
            type_scores[hint] += kb.type_hint_weight * p.score / total
            type_evidence[hint] = (*type_evidence.get(hint, ()), f"topic:{p.value}")
    type_order = {c.request_type: i for i, c in enumerate(kb.types)}
    types = [
        Proposal(name, name, round(score, 4), type_evidence.get(name, ()))
        for name, score in type_scores.items()
        if score > 0
    ]
    types.sort(key=lambda p: (-p.score, type_order.get(p.value, len(type_order))))
    if not types:
        types = [Proposal(kb.default_type, kb.default_type, 0.0, ())]

    dept_scores: dict[str, float] = defaultdict(float)
    dept_evidence: dict[str, list[str]] = defaultdict(list)
    for p in topics:
        dept = by_id[p.value].department
        dept_scores[dept] += p.score
        dept_evidence[dept].append(f"topic:{p.value}")
    first_seen = {d: i for i, d in enumerate(dept_scores)}
    departments = sorted(
        (
            Proposal(d, kb.departments[d].name, round(s, 4), tuple(dept_evidence[d]))
            for d, s in dept_scores.items()
        ),
        key=lambda p: (-p.score, first_seen[p.value]),
    )
    fallback = not departments
    if fallback:
        fb = kb.fallback_department
        departments = [Proposal(fb, kb.departments[fb].name, 0.0, ())]
    return Classification(tuple(types), tuple(topics), tuple(departments), fallback)
