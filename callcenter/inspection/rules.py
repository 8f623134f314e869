"""The inspection rules: pure functions over one call's transcript segments.

Times are seconds from the start of the recording (as the ASR pipeline writes them). Text is
compared after normalisation (spaces and punctuation dropped, ASCII folded to lower case), so
"您好，12345" matches "您好 12345" and "您好12345". A phrase may hold "…" (or "..."): any text of
at most `gap` characters may stand there ("地址是…对吗" matches "地址是幸福路8号对吗").

Negation (`Negation`, `affirmed`) excuses only the caller's emergency wording: "没有着火" is
not a fire. The other phrase rules ignore it on purpose: a forbidden word is heard by the
caller whatever frames it ("我没说你烦不烦" is still 禁语, and several forbidden words hold a
negation themselves: 不知道, 没空), and the greeting, closing and confirmations are wording the
agent must say, which a negation in front does not make unsaid.

A phrase is negated when a negation cue ends at most `window` characters before it in the
same clause (punctuation ends a clause; the matching itself still ignores punctuation):
  没有着火, 没着火, 没有人着火 (window 1), 未起火        negated: not counted
  不是没有着火, 并非没有着火                           two negations cancel: counted
  没有没有着火                                          a cue repeated counts once: negated
  有没有人受伤, 是不是着火了, 会不会着火                 an A-not-A question: counted
  一直不停打人, 不久前着火了                             不停, 不久 are not negations
  没有，着火了                                          another clause: counted
A call counts when any occurrence in the caller's segments is not negated ("不是我家着火是对门
着火了" counts by its second 着火). Limits, all on the side of counting (a missed emergency is
worse than a false alarm a reviewer resolves): a cue further back than `window` ("没有看到着火"
counts with the default window 1), a negation after the phrase ("着火？没有"), a negated
question ("没有人着火？" is negated like the statement), hedges without a cue ("差点着火"
counts), and an ASR transcript that runs clauses together without punctuation.

Each rule returns findings: a failed finding deducts points and carries the transcript span
that shows it; a passed finding deducts nothing and carries the span that satisfied the rule
when there is one.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

CALLER = "caller"
AGENT = "agent"


class Severity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    FATAL = "fatal"  # a failed fatal rule makes the call's score 0 (一票否决)


@dataclass(frozen=True)
class Segment:
    speaker: str  # caller or agent
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class CallFacts:
    """What the rules look at: the transcript, whether the call created a ticket, and the
    emergency lines (110/119/120/122) the call was transferred to, with each step's status."""

    segments: tuple[Segment, ...]
    ticket_created: bool = False
    transfers: tuple[tuple[str, str], ...] = ()  # (line, status)


@dataclass(frozen=True)
class Evidence:
    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Finding:
    rule: str
    passed: bool
    points: float  # deducted: 0 or negative
    severity: Severity
    evidence: Evidence | None = None


# --- rule parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class Common:
    enabled: bool
    points: float  # deducted per failure (per occurrence for counted rules)
    severity: Severity
    max_points: float  # at most this much deducted by the rule in one call


@dataclass(frozen=True)
class Greeting:
    common: Common
    phrases: tuple[str, ...]
    within_seconds: float  # the agent's greeting must start within this from the call start


@dataclass(frozen=True)
class Closing:
    common: Common
    phrases: tuple[str, ...]
    within_seconds: float  # the agent's closing must end within this before the call end


@dataclass(frozen=True)
class ForbiddenWords:
    common: Common
    words: tuple[str, ...]


@dataclass(frozen=True)
class Interruption:
    common: Common
    min_overlap: float  # the agent starts inside a caller segment and overlaps it longer


@dataclass(frozen=True)
class LongSilence:
    common: Common
    seconds: float  # a gap with no speech longer than this inside the call


@dataclass(frozen=True)
class Confirmation:
    common: Common  # points deducted for each of address and phone not confirmed
    address_phrases: tuple[str, ...]
    phone_phrases: tuple[str, ...]


@dataclass(frozen=True)
class Negation:
    """What makes a phrase not count (see the module's docstring): a cue ending at most
    `window` characters before it in the same clause; `exceptions` are words that hold a cue
    without negating (不停, 不断). No cues: nothing is negated."""

    cues: tuple[str, ...]
    window: int
    exceptions: tuple[str, ...] = ()


DEFAULT_NEGATION = Negation(
    cues=("没有", "没", "不是", "并非", "无", "未", "不"),
    window=1,
    exceptions=(
        "不停", "不断", "不住", "不少", "不久", "不好", "不得了", "不行了", "不一会", "不管",
        "无论", "无数",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Emergency:
    common: Common
    words: tuple[str, ...]
    lines: tuple[str, ...]  # 110, 119, 120, 122
    statuses: tuple[str, ...]  # transfer steps that count as transferred
    negation: Negation = DEFAULT_NEGATION  # "没有着火" is not an emergency


# --- text matching ----------------------------------------------------------------------------

_ELLIPSIS = re.compile(r"…+|\.\.\.+")
_GAP = 20


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Full-width folded, lower case, without spaces or punctuation."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


@lru_cache(maxsize=256)
def phrase_pattern(phrases: tuple[str, ...], gap: int = _GAP) -> re.Pattern[str] | None:
    """One regular expression for all the phrases (None when there are none)."""
    parts: list[str] = []
    for phrase in phrases:
        pieces = [normalize(p) for p in _ELLIPSIS.split(phrase)]
        pieces = [p for p in pieces if p]
        if pieces:
            parts.append(f".{{0,{gap}}}?".join(re.escape(p) for p in pieces))
    if not parts:
        return None
    return re.compile("|".join(f"(?:{p})" for p in parts))


@lru_cache(maxsize=65536)
def clauses(text: str) -> tuple[str, tuple[int, ...]]:
    """The normalized text and the offsets in it where each clause starts (the first at 0;
    a punctuation mark ends a clause)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    kept: list[str] = []
    starts = [0]
    for ch in folded:
        kind = unicodedata.category(ch)[0]
        if kind in "LN":
            kept.append(ch)
        elif kind == "P" and starts[-1] != len(kept):
            starts.append(len(kept))
    if len(starts) > 1 and starts[-1] == len(kept):  # closing punctuation starts nothing
        starts.pop()
    return "".join(kept), tuple(starts)


_A_NOT_A = "不没"  # 是不是, 有没有: a question, not a negation


@lru_cache(maxsize=64)
def _negation_table(negation: Negation) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """The normalized cues, longest first, and a pattern finding every exception (they may
    overlap: a lookahead)."""
    cues = sorted({normalize(c) for c in negation.cues} - {""}, key=len, reverse=True)
    words = sorted({normalize(w) for w in negation.exceptions} - {""}, key=len, reverse=True)
    exceptions = re.compile(f"(?=({'|'.join(map(re.escape, words))}))") if words else None
    return tuple(cues), exceptions


def _cue_before(
    norm: str,
    clause: int,
    at: int,
    cues: tuple[str, ...],
    window: int,
    excused: list[tuple[int, int]],
) -> tuple[int, str] | None:
    """The cue ending nearest before `at` (at most `window` characters before it, inside the
    clause and not part of an exception), the longest there; (its start, the cue)."""
    for end in range(at, max(clause, at - window) - 1, -1):
        for cue in cues:
            start = end - len(cue)
            if start < clause or not norm.startswith(cue, start):
                continue
            if not any(a <= start and end <= b for a, b in excused):
                return start, cue
    return None


def _negated(norm: str, clause: int, at: int, negation: Negation) -> bool:
    """Whether the phrase found at `at` of the normalized text is negated: the chain of cues
    before it (each within `window` of what follows it) is odd, a cue repeated straight
    after itself counting once; the chain stops at an A-not-A question (是不是, 有没有)."""
    cues, exceptions = _negation_table(negation)
    if not cues:
        return False
    excused = (
        [(m.start(), m.start() + len(m.group(1))) for m in exceptions.finditer(norm)]
        if exceptions is not None
        else []
    )
    count, previous, pos = 0, "", at
    while (found := _cue_before(norm, clause, pos, cues, negation.window, excused)) is not None:
        start, cue = found
        repeated = start - len(cue) >= clause and norm.startswith(cue, start - len(cue))
        if (
            not repeated  # 没有没有 holds 有没有 but is no question
            and norm[start] in _A_NOT_A
            and start > clause
            and start + 1 < len(norm)
            and norm[start - 1] == norm[start + 1]
        ):
            break
        if cue != previous:
            count += 1
        previous, pos = cue, start
    return count % 2 == 1


def affirmed(text: str, pattern: re.Pattern[str] | None, negation: Negation) -> bool:
    """Whether the text says one of the pattern's phrases at least once not negated."""
    if pattern is None:
        return False
    norm, starts = clauses(text)
    at = 0
    while (m := pattern.search(norm, at)) is not None:
        clause = starts[bisect_right(starts, m.start()) - 1]
        if not _negated(norm, clause, m.start(), negation):
            return True
        at = m.start() + 1
    return False


def _evidence(segment: Segment) -> Evidence:
    return Evidence(segment.speaker, segment.start, segment.end, segment.text)


def _first_match(segments: Iterable[Segment], pattern: re.Pattern[str] | None) -> Segment | None:
    if pattern is None:
        return None
    for segment in segments:
        if pattern.search(normalize(segment.text)):
            return segment
    return None


def _passed(name: str, common: Common, span: Evidence | None = None) -> Finding:
    return Finding(name, True, 0.0, common.severity, span)


def _failed(name: str, common: Common, span: Evidence | None = None) -> Finding:
    return Finding(name, False, -min(common.points, common.max_points), common.severity, span)


def _counted(name: str, common: Common, spans: Sequence[Evidence]) -> list[Finding]:
    """One failed finding per occurrence, the rule's cap applied in order; passed if none."""
    if not spans:
        return [_passed(name, common)]
    out: list[Finding] = []
    left = common.max_points
    for span in spans:
        take = min(common.points, max(left, 0.0))
        left -= take
        out.append(Finding(name, False, -take, common.severity, span))
    return out


def _once(name: str, common: Common, passed: Segment | None) -> list[Finding]:
    if passed is not None:
        return [_passed(name, common, _evidence(passed))]
    return [_failed(name, common)]


# --- the rules --------------------------------------------------------------------------------


def check_greeting(rule: Greeting, facts: CallFacts) -> list[Finding]:
    """The agent's standard greeting, starting within the first `within_seconds`."""
    early = (s for s in facts.segments if s.speaker == AGENT and s.start <= rule.within_seconds)
    return _once("greeting", rule.common, _first_match(early, phrase_pattern(rule.phrases)))


def check_closing(rule: Closing, facts: CallFacts) -> list[Finding]:
    """The agent's standard closing, ending within the last `within_seconds` of the call."""
    if not facts.segments:
        return _once("closing", rule.common, None)
    call_end = max(s.end for s in facts.segments)
    late = [
        s for s in facts.segments if s.speaker == AGENT and s.end >= call_end - rule.within_seconds
    ]
    return _once("closing", rule.common, _first_match(reversed(late), phrase_pattern(rule.phrases)))


def check_forbidden(rule: ForbiddenWords, facts: CallFacts) -> list[Finding]:
    """Every occurrence of a forbidden word in what the agent said."""
    pattern = phrase_pattern(rule.words)
    spans: list[Evidence] = []
    if pattern is not None:
        for s in facts.segments:
            if s.speaker == AGENT:
                hits = len(pattern.findall(normalize(s.text)))
                spans.extend([_evidence(s)] * hits)
    return _counted("forbidden_words", rule.common, spans)


def check_interruption(rule: Interruption, facts: CallFacts) -> list[Finding]:
    """The agent starts while a caller segment is running and overlaps it by more than
    `min_overlap` seconds; each agent segment counts at most once."""
    callers = [s for s in facts.segments if s.speaker == CALLER]
    spans: list[Evidence] = []
    for a in facts.segments:
        if a.speaker != AGENT:
            continue
        for c in callers:
            if c.start < a.start < c.end and min(a.end, c.end) - a.start > rule.min_overlap:
                spans.append(_evidence(a))
                break
    return _counted("interruption", rule.common, spans)


def check_silence(rule: LongSilence, facts: CallFacts) -> list[Finding]:
    """Each gap longer than `seconds` between the end of all speech so far and the next
    segment (inside the call: before the first and after the last segment do not count).
    The evidence is the silent span; its text is the segment that broke the silence."""
    spans: list[Evidence] = []
    ordered = sorted(facts.segments, key=lambda s: (s.start, s.end))
    if ordered:
        spoken_until = ordered[0].end
        for s in ordered[1:]:
            if s.start - spoken_until > rule.seconds:
                spans.append(Evidence(s.speaker, spoken_until, s.start, s.text))
            spoken_until = max(spoken_until, s.end)
    return _counted("long_silence", rule.common, spans)


def check_confirmation(rule: Confirmation, facts: CallFacts) -> list[Finding]:
    """When the call created a ticket, the agent confirms the address and the callback
    number; each one missing deducts the rule's points. Without a ticket the rule passes."""
    if not facts.ticket_created:
        return [_passed("confirm_address", rule.common), _passed("confirm_phone", rule.common)]
    agent = [s for s in facts.segments if s.speaker == AGENT]
    address = _first_match(agent, phrase_pattern(rule.address_phrases))
    phone = _first_match(agent, phrase_pattern(rule.phone_phrases))
    out = _once("confirm_address", rule.common, address)
    out += _once("confirm_phone", rule.common, phone)
    return out


def check_emergency(rule: Emergency, facts: CallFacts) -> list[Finding]:
    """The caller said an emergency word, not negated ("没有着火" does not count), and the
    call was not transferred to an emergency line (a step on one of `lines` whose status is
    one of `statuses`)."""
    pattern = phrase_pattern(rule.words)
    said = next(
        (
            s
            for s in facts.segments
            if s.speaker == CALLER and affirmed(s.text, pattern, rule.negation)
        ),
        None,
    )
    if said is None:
        return [_passed("emergency_transfer", rule.common)]
    transferred = any(
        line in rule.lines and status in rule.statuses for line, status in facts.transfers
    )
    if transferred:
        return [_passed("emergency_transfer", rule.common, _evidence(said))]
    return [_failed("emergency_transfer", rule.common, _evidence(said))]


__all__ = [
    "AGENT",
    "CALLER",
    "DEFAULT_NEGATION",
    "CallFacts",
    "Closing",
    "Common",
    "Confirmation",
    "Emergency",
    "Evidence",
    "Finding",
    "ForbiddenWords",
    "Greeting",
    "Interruption",
    "LongSilence",
    "Negation",
    "Segment",
    "Severity",
    "affirmed",
    "check_closing",
    "check_confirmation",
    "check_emergency",
    "check_forbidden",
    "check_greeting",
    "check_interruption",
    "check_silence",
    "clauses",
    "normalize",
    "phrase_pattern",
]
