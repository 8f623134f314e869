"""config/inspection.toml: the inspection rules, each with its points, severity, whether it is
enabled, and its parameters (Chinese phrase lists). Every mistake names the file and the
dotted key (TableReader); one load reports them all.

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
from typing import Any

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
from callcenter.tomlreader import ConfigError, ConfigErrors, TableReader

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
COMMON = ("enabled", "points", "severity", "max_points")
EMERGENCY_LINES = ("110", "119", "120", "122")
NEGATION_KEYS = ("negations", "negation_window", "not_negations")
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


def _words(value: list[Any]) -> str | None:
    if not all(isinstance(v, str) and v.strip() for v in value):
        return "must be an array of non-empty strings"
    return None


class _Reader:
    def __init__(self, data: Mapping[str, Any], file: str) -> None:
        self.r = TableReader()
        self.r.file = file
        self.data = data

    def section(self, name: str, extra: tuple[str, ...]) -> tuple[dict[str, Any], Common]:
        if name not in self.data:
            self.r.error(name, "is required")
        body = self.r.table(self.data.get(name), name, COMMON + extra)
        enabled = self.r.get(body, name, "enabled", bool, True)
        points = self.r.get(body, name, "points", float, 0.0, required=True, check=_not_negative)
        severity = self.r.get(body, name, "severity", str, "minor", check=_severity)
        cap = self.r.get(body, name, "max_points", float, points, check=_not_negative)
        return body, Common(enabled, points, Severity(severity), cap)

    def number(self, body: dict[str, Any], prefix: str, name: str) -> float:
        value: float = self.r.get(body, prefix, name, float, 1.0, required=True, check=_positive)
        return value

    def words(self, body: dict[str, Any], prefix: str, name: str) -> tuple[str, ...]:
        value: list[str] = self.r.get(body, prefix, name, list, [], required=True, check=_words)
        if body.get(name) == []:
            self.r.error(f"{prefix}.{name}", "must not be empty")
        return tuple(v.strip() for v in value)

    def negation(self, body: dict[str, Any], prefix: str) -> Negation:
        """The negation settings of a rule, each defaulting to DEFAULT_NEGATION's; an empty
        `negations` turns negation handling off."""
        d = DEFAULT_NEGATION
        cues = self.r.get(body, prefix, "negations", list, list(d.cues), check=_words)
        window = self.r.get(body, prefix, "negation_window", int, d.window, check=_window)
        exceptions = self.r.get(
            body, prefix, "not_negations", list, list(d.exceptions), check=_words
        )
        return Negation(
            tuple(c.strip() for c in cues), window, tuple(e.strip() for e in exceptions)
        )


def parse_inspection(data: Mapping[str, Any], file: str) -> InspectionRules:
    rd = _Reader(data, file)
    r = rd.r
    r.table(dict(data), "", ("version", "max_score") + RULES)
    version = r.get(data, "", "version", str, "", required=True)
    max_score = r.get(data, "", "max_score", float, 100.0, required=True, check=_positive)

    body, common = rd.section("greeting", ("phrases", "within_seconds"))
    greeting = Greeting(
        common, rd.words(body, "greeting", "phrases"), rd.number(body, "greeting", "within_seconds")
    )
    body, common = rd.section("closing", ("phrases", "within_seconds"))
    closing = Closing(
        common, rd.words(body, "closing", "phrases"), rd.number(body, "closing", "within_seconds")
    )
    body, common = rd.section("forbidden_words", ("words",))
    forbidden = ForbiddenWords(common, rd.words(body, "forbidden_words", "words"))
    body, common = rd.section("interruption", ("min_overlap",))
    interruption = Interruption(common, rd.number(body, "interruption", "min_overlap"))
    body, common = rd.section("long_silence", ("seconds",))
    silence = LongSilence(common, rd.number(body, "long_silence", "seconds"))
    body, common = rd.section("confirmation", ("address_phrases", "phone_phrases"))
    confirmation = Confirmation(
        common,
        rd.words(body, "confirmation", "address_phrases"),
        rd.words(body, "confirmation", "phone_phrases"),
    )
    body, common = rd.section("emergency_transfer", ("words", "lines", "statuses", *NEGATION_KEYS))
    lines = rd.words(body, "emergency_transfer", "lines")
    for line in lines:
        if line not in EMERGENCY_LINES:
            r.error("emergency_transfer.lines", f"{line!r} is not one of 110, 119, 120, 122")
    emergency = Emergency(
        common,
        rd.words(body, "emergency_transfer", "words"),
        lines,
        rd.words(body, "emergency_transfer", "statuses"),
        rd.negation(body, "emergency_transfer"),
    )
    if r.errors:
        raise ConfigErrors(r.errors)
    parts = (
        max_score,
        greeting,
        closing,
        forbidden,
        interruption,
        silence,
        confirmation,
        emergency,
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:12]
    return InspectionRules(
        f"{version[:48]}-{digest}",
        max_score,
        greeting,
        closing,
        forbidden,
        interruption,
        silence,
        confirmation,
        emergency,
    )


__all__ = ["FILE", "RULES", "InspectionRules", "load_inspection", "parse_inspection"]
