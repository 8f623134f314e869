"""A caller's priority: the number's own, the queue's priority rules, and what the call
itself asks for.

The rules (queue.toml `[[queue.priority]]`) add a boost to a repeat caller, a caller on a
list (e.g. elderly) or a call to a DID: `caller_priority`.

Priority and skill asked for by the call itself come on top of the number's:

A dialplan engineer sets channel variables before the caller reaches the hold
(`CC_PRIORITY_BOOST`, `CC_SKILL_OVERRIDE`), and an upstream SIP proxy that the operator
trusts (trunks.toml `trust_headers = true`) sends headers (`X-CC-Priority-Boost`,
`X-CC-Skill`). The PBX driver hands them over as raw text (`pbx.CallRequest`); this module
decides what counts. Nothing here trusts the text: a boost that is not a whole number within
`BOOST_LIMIT`, an unknown skill, or a header from a source that is not a trusted trunk is
reported as a problem and ignored, and the caller keeps the number's priority and skill.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Annotated, Protocol

from pydantic.dataclasses import dataclass

from callcenter.config_models import STRICT, Checked, Float, Int, Str, one_of
from callcenter.pbx.base import CallRequest

PRIORITY_RULES = ("repeat_caller", "caller_list", "did")


@dataclass(frozen=True, config=STRICT)
class PriorityRule:
    """queue.toml `[[queue.priority]]`: `boost` for a repeat caller (`min_calls` within
    `within_hours`), a caller on the list `list` ([lists]) or a call to DID `did`."""

    rule: Annotated[Str, one_of(*PRIORITY_RULES)]
    boost: Int
    within_hours: Annotated[
        Float, Checked(lambda v: None if v > 0 else "must be more than zero", exclusiveMinimum=0)
    ] = 24.0
    min_calls: Annotated[
        Int, Checked(lambda v: None if v >= 0 else "must be zero or more", minimum=0)
    ] = 1
    list: Str = ""
    did: Str = ""


class Number(Protocol):
    """What the rules read of a number's entry (numbers.toml)."""

    @property
    def did(self) -> str: ...

    @property
    def priority(self) -> int: ...


def caller_priority(
    number: Number,
    caller_number: str,
    recent_calls: int,
    rules: Sequence[PriorityRule],
    lists: Mapping[str, frozenset[str]],
) -> int:
    """The number's own priority plus the boost of every matching rule."""
    priority = number.priority
    for rule in rules:
        if (
            (rule.rule == "repeat_caller" and recent_calls >= rule.min_calls)
            or (rule.rule == "caller_list" and caller_number in lists.get(rule.list, frozenset()))
            or (rule.rule == "did" and number.did == rule.did)
        ):
            priority += rule.boost
    return priority


def repeat_window(rules: Sequence[PriorityRule]) -> float:
    """Seconds of calls the repeat-caller rules look back on (the widest; 24 h without one)."""
    hours = [r.within_hours for r in rules if r.rule == "repeat_caller"]
    return max(hours, default=24.0) * 3600.0


# A boost from the call is a whole number from -BOOST_LIMIT to +BOOST_LIMIT.
BOOST_LIMIT = 50
_BOOST = re.compile(r"^[+-]?[0-9]{1,6}$")

DIALPLAN = "dialplan"
HEADER_PREFIX = "header:"  # "header:<trunk name>"


@dataclass(frozen=True)
class Decision:
    """The caller's priority and skill, where each came from, and what was ignored."""

    priority: int
    skill: str
    priority_source: str  # "number", "number+dialplan", "number+header:proxy", ...
    skill_source: str  # "number", "dialplan" or "header:<trunk>"
    problems: tuple[str, ...] = ()


def decide(
    priority: int,
    skill: str,
    requests: Sequence[CallRequest],
    known_skills: Collection[str],
    trusted_sources: Collection[str],
) -> Decision:
    """Apply each request in order (the dialplan's, then a trusted header's): boosts add up,
    the last valid skill wins. `priority` is the number's own with its rules applied;
    `trusted_sources` are the names of the trunks whose headers count."""
    sources = ["number"]
    skill_source = "number"
    problems: list[str] = []
    for request in requests:
        source = request.source
        if source.startswith(HEADER_PREFIX) and source[len(HEADER_PREFIX) :] not in trusted_sources:
            if request.priority_boost or request.skill:
                problems.append(f"{source}: not a trusted trunk, its headers are ignored")
            continue
        if source != DIALPLAN and not source.startswith(HEADER_PREFIX):
            problems.append(f"unknown source {source!r} ignored")
            continue
        text = request.priority_boost.strip()
        if text:
            boost = int(text) if _BOOST.match(text) else None
            if boost is None or abs(boost) > BOOST_LIMIT:
                problems.append(
                    f"{source}: priority boost {text[:20]!r} ignored "
                    f"(a whole number from -{BOOST_LIMIT} to {BOOST_LIMIT})"
                )
            elif boost:
                priority += boost
                sources.append(source)
        wanted = request.skill.strip()
        if wanted:
            if wanted in known_skills:
                skill, skill_source = wanted, source
            else:
                problems.append(f"{source}: unknown skill {wanted[:40]!r} ignored")
    return Decision(priority, skill, "+".join(sources), skill_source, tuple(problems))
