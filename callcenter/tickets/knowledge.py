"""The knowledge base the classifier reads: departments, topics and request-type cue words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

REQUEST_TYPES = ("咨询", "求助", "投诉", "举报", "意见建议")


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    skill: str = ""  # the seat skill (skills.toml) that knows this department's matters


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    department: str
    terms: Mapping[str, float]  # keyword or phrase -> weight
    type_hint: str = ""  # the request type this topic usually is


@dataclass(frozen=True)
class TypeCues:
    request_type: str
    terms: Mapping[str, float]  # cue word -> weight


@dataclass(frozen=True, eq=False)  # identity: hashable, so prepared terms are cached
class KnowledgeBase:
    topics: tuple[Topic, ...]
    types: tuple[TypeCues, ...]
    departments: Mapping[str, Department]
    fallback_department: str
    default_type: str = "咨询"
    type_hint_weight: float = 2.0
    stop_words: frozenset[str] = field(default_factory=frozenset)

    def all_terms(self) -> set[str]:
        terms = {t for topic in self.topics for t in topic.terms}
        return terms | {t for cues in self.types for t in cues.terms}
