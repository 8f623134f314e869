"""config/inspection.toml: the inspection rules, each with its points, severity, whether it is
enabled, and its parameters (Chinese phrase lists). Every mistake names the file and the
dotted key; one load reports them all (`InspectionFile`, a typed model).

The rules version stored with each score is the configured `version` and a hash of every
parsed setting, so any edit of the rules makes every call due for scoring again. The
emergency rule's negation settings (`negations`, `negation_window`, `not_negations`) are
parsed settings too, defaults included: scores from before negation handling keep their
version, and the calls are scored again under the new one.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator

from callcenter.config_models import (
    Bool,
    Checked,
    ConfigError,
    FileModel,
    Float,
    Int,
    Report,
    Str,
)
from callcenter.inspection.rules import (
    DEFAULT_NEGATION,
    Closing,
    Common,
    Confirmation,
    Emergency,
    ForbiddenWords,
    Greeting,
    Interruption,
    LongSilence,
    Negation,
    Severity,
)

FILE = "inspection.toml"
RULES = (
    "greeting",
    "closing",
    "forbidden_words",
    "interruption",
    "long_silence",
    "confirmation",
    "emergency_transfer",
)
EMERGENCY_LINES = ("110", "119", "120", "122")
MAX_NEGATION_WINDOW = 10


@dataclass(frozen=True)
class InspectionRules:
    version: str  # what scores are stored under: configured version + settings hash
    max_score: float
    greeting: Greeting
    closing: Closing
    forbidden_words: ForbiddenWords
    interruption: Interruption
    long_silence: LongSilence
    confirmation: Confirmation
    emergency_transfer: Emergency

    def severity_of(self, rule: str) -> Severity | None:
        """The severity of a finding's rule (confirm_address and confirm_phone belong to
        the confirmation rule); None for a rule these settings do not know."""
        name = "confirmation" if rule.startswith("confirm_") else rule
        if name not in RULES:
            return None
        common: Common = getattr(self, name).common
        return common.severity


def load_inspection(config_dir: Path) -> InspectionRules:
    path = config_dir / FILE
    file = f"{config_dir.name}/{FILE}" if config_dir.name else FILE
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"is not valid TOML: {exc}") from exc
    return parse_inspection(data, file)


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must not be negative"


def _severity(value: str) -> str | None:
    names = [s.value for s in Severity]
    return None if value in names else f"{value!r} is not one of {', '.join(names)}"


def _window(value: int) -> str | None:
    if 0 <= value <= MAX_NEGATION_WINDOW:
        return None
    return f"must be from 0 to {MAX_NEGATION_WINDOW} (characters between cue and phrase)"


def _words(value: tuple[Any, ...]) -> str | None:
    if not all(isinstance(v, str) and v.strip() for v in value):
        return "must be an array of non-empty strings"
    return None


def _some_words(value: tuple[Any, ...]) -> str | None:
    return _words(value) or (None if value else "must not be empty")


def _lines(value: tuple[str, ...]) -> str | None:
    wrong = [repr(v) for v in value if v not in EMERGENCY_LINES]
    if not wrong:
        return None
    verb = "is" if len(wrong) == 1 else "are"
    return f"{', '.join(wrong)} {verb} not one of {', '.join(EMERGENCY_LINES)}"


_STRINGS = {"type": "string", "minLength": 1}
_strip = AfterValidator(lambda v: tuple(w.strip() for w in v))
# a phrase list: the array is checked whole (a wrong entry is the list's mistake)
Words = Annotated[tuple[Any, ...], Checked(_words, items=_STRINGS), _strip]
SomeWords = Annotated[tuple[Any, ...], Checked(_some_words, items=_STRINGS, minItems=1), _strip]
Points = Annotated[Float, Checked(_not_negative, minimum=0)]
Positive = Annotated[Float, Checked(_positive, exclusiveMinimum=0)]
SeverityName = Annotated[Str, Checked(_severity, enum=[s.value for s in Severity])]


class RuleKeys(FileModel):
    """The keys every rule has; each rule's model adds its own."""

    enabled: Bool = True
    points: Points  # deducted per failure
    severity: SeverityName = "minor"
    max_points: Points | None = None  # at most this much in one call; default: points

    def common(self) -> Common:
        points = self.points
        cap = points if self.max_points is None else self.max_points
        return Common(self.enabled, points, Severity(self.severity), cap)


class GreetingKeys(RuleKeys):
    phrases: SomeWords
    within_seconds: Positive


class ClosingKeys(RuleKeys):
    phrases: SomeWords
    within_seconds: Positive


class ForbiddenKeys(RuleKeys):
    words: SomeWords


class InterruptionKeys(RuleKeys):
    min_overlap: Positive


class SilenceKeys(RuleKeys):
    seconds: Positive


class ConfirmationKeys(RuleKeys):
    address_phrases: SomeWords
    phone_phrases: SomeWords


class EmergencyKeys(RuleKeys):
    words: SomeWords
    lines: Annotated[SomeWords, Checked(_lines, items={"enum": list(EMERGENCY_LINES)})]
    statuses: SomeWords
    # the negation settings (DEFAULT_NEGATION's by default); `negations = []` turns it off
    negations: Words = DEFAULT_NEGATION.cues
    negation_window: Annotated[Int, Checked(_window, minimum=0, maximum=MAX_NEGATION_WINDOW)] = (
        DEFAULT_NEGATION.window
    )
    not_negations: Words = DEFAULT_NEGATION.exceptions

    def negation(self) -> Negation:
        return Negation(self.negations, self.negation_window, self.not_negations)


class InspectionFile(FileModel):
    """inspection.toml: the quality-inspection rules, their points, severities and phrases."""

    version: Str
    max_score: Positive
    greeting: GreetingKeys
    closing: ClosingKeys
    forbidden_words: ForbiddenKeys
    interruption: InterruptionKeys
    long_silence: SilenceKeys
    confirmation: ConfirmationKeys
    emergency_transfer: EmergencyKeys


def parse_inspection(data: Mapping[str, Any], file: str) -> InspectionRules:
    report = Report()
    # a rule left out is said once, and its own required keys with it
    missing = [name for name in RULES if name not in data]
    for name in missing:
        report.error(file, name, "is required")
    found = report.validate(InspectionFile, {**data, **dict.fromkeys(missing, {})}, file)
    report.raise_if_any()
    assert found is not None
    e = found.emergency_transfer
    parts = (
        found.max_score,
        Greeting(found.greeting.common(), found.greeting.phrases, found.greeting.within_seconds),
        Closing(found.closing.common(), found.closing.phrases, found.closing.within_seconds),
        ForbiddenWords(found.forbidden_words.common(), found.forbidden_words.words),
        Interruption(found.interruption.common(), found.interruption.min_overlap),
        LongSilence(found.long_silence.common(), found.long_silence.seconds),
        Confirmation(
            found.confirmation.common(),
            found.confirmation.address_phrases,
            found.confirmation.phone_phrases,
        ),
        Emergency(e.common(), e.words, e.lines, e.statuses, e.negation()),
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:12]
    return InspectionRules(f"{found.version[:48]}-{digest}", *parts)


__all__ = ["FILE", "RULES", "InspectionRules", "load_inspection", "parse_inspection"]
