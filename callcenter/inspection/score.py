"""A call's score from its findings, and which review step may follow which.

Score = max_score − the points every failed finding deducts (each rule capped by its
max_points), never below 0; a failed finding of a fatal rule makes it 0 (一票否决).

Reviews (append-only rows) move a score's state:
  review    supervisor  scored → reviewed (optionally with a new final score)
  dispute   agent       scored, reviewed → disputed (the agent of the call, with a reason)
  resolve   supervisor  disputed → reviewed (the final score kept, or the one given)
  override  supervisor  any state → overridden (a final score is required)
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.errors import CallcenterError
from callcenter.inspection.config import InspectionRules
from callcenter.inspection.rules import (
    CallFacts,
    Finding,
    Severity,
    check_closing,
    check_confirmation,
    check_emergency,
    check_forbidden,
    check_greeting,
    check_interruption,
    check_silence,
)

STATES = ("scored", "reviewed", "disputed", "overridden")
ACTIONS = ("review", "dispute", "resolve", "override")
# action -> (roles allowed, states it applies to, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "review": (("supervisor", "admin"), ("scored",), "reviewed"),
    "dispute": (("agent",), ("scored", "reviewed"), "disputed"),
    "resolve": (("supervisor", "admin"), ("disputed",), "reviewed"),
    "override": (("supervisor", "admin"), STATES, "overridden"),
}


@dataclass(frozen=True)
class Scored:
    score: float
    max_score: float
    findings: tuple[Finding, ...]


def evaluate(rules: InspectionRules, facts: CallFacts) -> list[Finding]:
    """Every enabled rule's findings on this call."""
    out: list[Finding] = []
    if rules.greeting.common.enabled:
        out += check_greeting(rules.greeting, facts)
    if rules.closing.common.enabled:
        out += check_closing(rules.closing, facts)
    if rules.forbidden_words.common.enabled:
        out += check_forbidden(rules.forbidden_words, facts)
    if rules.interruption.common.enabled:
        out += check_interruption(rules.interruption, facts)
    if rules.long_silence.common.enabled:
        out += check_silence(rules.long_silence, facts)
    if rules.confirmation.common.enabled:
        out += check_confirmation(rules.confirmation, facts)
    if rules.emergency_transfer.common.enabled:
        out += check_emergency(rules.emergency_transfer, facts)
    return out


def total(max_score: float, findings: list[Finding]) -> float:
    """max_score plus the (negative) points of the findings, at least 0; 0 on a fatal one."""
    if any(not f.passed and f.severity is Severity.FATAL for f in findings):
        return 0.0
    return round(max(0.0, max_score + sum(f.points for f in findings)), 2)


def score_call(rules: InspectionRules, facts: CallFacts) -> Scored:
    findings = evaluate(rules, facts)
    return Scored(total(rules.max_score, findings), rules.max_score, tuple(findings))


# The HTTP status of each refusal (any other is a 400).
REFUSED_STATUS = {"inspection.forbidden": 403, "inspection.state": 409}


class ReviewRefused(CallcenterError):
    """A review step that does not apply: `error_id` says why (for the API)."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message, status=REFUSED_STATUS.get(error_id, 400), error_id=error_id)


def next_state(
    state: str,
    action: str,
    role: str,
    actor: str,
    agent_id: str,
    new_score: float | None,
    max_score: float,
    note: str,
) -> str:
    """The state after this step, or ReviewRefused naming why it may not be taken."""
    if action not in TRANSITIONS:
        raise ReviewRefused("inspection.action", f"unknown action {action!r}")
    roles, sources, target = TRANSITIONS[action]
    if role not in roles:
        raise ReviewRefused("inspection.forbidden", f"{role} may not {action} a score")
    if action == "dispute" and actor != agent_id:
        raise ReviewRefused("inspection.forbidden", "only the call's agent may dispute it")
    if state not in sources:
        raise ReviewRefused("inspection.state", f"cannot {action} a score that is {state}")
    if action == "override" and new_score is None:
        raise ReviewRefused("inspection.score", "an override needs the final score")
    if action == "dispute" and new_score is not None:
        raise ReviewRefused("inspection.score", "a dispute gives a reason, not a score")
    if new_score is not None and not 0 <= new_score <= max_score:
        raise ReviewRefused("inspection.score", f"the score must be between 0 and {max_score:g}")
    if action in ("dispute", "override") and not note.strip():
        raise ReviewRefused("inspection.note", f"a {action} needs a reason")
    return target


__all__ = [
    "ACTIONS",
    "STATES",
    "TRANSITIONS",
    "ReviewRefused",
    "Scored",
    "evaluate",
    "next_state",
    "score_call",
    "total",
]
