"""config/alerts.toml: thresholds, windows, lexicons and the webhook of the early warnings.
Each table is a typed model (callcenter/config_models.py); `AlertsFile` is the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic.dataclasses import dataclass

from callcenter.config_models import (
    STRICT,
    Checked,
    FileModel,
    Float,
    Int,
    Str,
    load_model,
    one_of,
)
from callcenter.tomlreader import ConfigError, ConfigErrors

FILE = "alerts.toml"
SCOPES = ("grid", "street", "district")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or greater"


def _unit(value: float) -> str | None:
    return None if 0 < value <= 1 else "must be greater than 0 and at most 1"


def _at_least_two(value: int) -> str | None:
    return None if value >= 2 else "must be at least 2"


def _words(value: tuple[str, ...]) -> str | None:
    return None if all(w.strip() for w in value) else "must be a list of non-empty strings"


def _url(v: str) -> str | None:
    if v == "" or v.startswith(("http://", "https://")):
        return None
    return "must be empty or an http:// or https:// URL"


PositiveInt = Annotated[Int, Checked(_positive, exclusiveMinimum=0)]
PositiveFloat = Annotated[Float, Checked(_positive, exclusiveMinimum=0)]
NotNegativeInt = Annotated[Int, Checked(_not_negative, minimum=0)]
NotNegativeFloat = Annotated[Float, Checked(_not_negative, minimum=0)]
Unit = Annotated[Float, Checked(_unit, exclusiveMinimum=0, maximum=1)]
TwoOrMore = Annotated[Int, Checked(_at_least_two, minimum=2)]
Words = Annotated[
    tuple[Str, ...], Checked(_words), AfterValidator(lambda v: tuple(w.strip() for w in v))
]


@dataclass(frozen=True, config=STRICT)
class SurgeRule:
    weeks: PositiveInt = 4
    min_weeks: PositiveInt = 1
    window_minutes: PositiveInt = 60
    long_window_minutes: NotNegativeInt = 120  # 0: the short window only
    min_count: PositiveInt = 5
    min_ratio: PositiveFloat = 2.0
    p_value: Unit = 1e-6
    floor_per_hour: PositiveFloat = 0.05
    cooldown_hours: PositiveFloat = 12.0
    lift_z: NotNegativeFloat = 3.0  # 0: wider cells' rises do not lift a cell's expected count


@dataclass(frozen=True, config=STRICT)
class ClusterRule:
    window_hours: PositiveFloat = 24.0
    similarity: Unit = 0.5
    scope: Annotated[Str, one_of(*SCOPES)] = "grid"
    min_callers: TwoOrMore = 5


@dataclass(frozen=True, config=STRICT)
class RepeatRule:
    caller_count: TwoOrMore = 5
    caller_days: PositiveFloat = 7.0
    problem_count: TwoOrMore = 3
    problem_days: PositiveFloat = 7.0
    problem_similarity: Unit = 0.8


@dataclass(frozen=True, config=STRICT)
class Lexicon:
    sensitive: Words = ()
    severe: Words = ()
    group: Words = ()
    group_people: PositiveInt = 10


@dataclass(frozen=True, config=STRICT)
class Webhook:
    url: Annotated[Str, Checked(_url)] = ""
    secret_env: Annotated[
        Str,
        Checked(
            lambda v: None if ENV_NAME.match(v) else "must be a variable name",
            pattern=ENV_NAME.pattern,
        ),
    ] = "CALLCENTER_ALERTS_WEBHOOK_SECRET"
    timeout: PositiveFloat = 10.0
    attempts: PositiveInt = 5
    backoff: PositiveFloat = 0.5


@dataclass(frozen=True, config=STRICT)
class AlertSettings:
    surge: SurgeRule = Field(default_factory=SurgeRule)
    cluster: ClusterRule = Field(default_factory=ClusterRule)
    repeat: RepeatRule = Field(default_factory=RepeatRule)
    lexicon: Lexicon = Field(default_factory=Lexicon)
    webhook: Webhook = Field(default_factory=Webhook)


class AlertsFile(FileModel):
    """alerts.toml: the early warnings' thresholds, windows, lexicons and webhook."""

    surge: SurgeRule = Field(default_factory=SurgeRule)
    cluster: ClusterRule = Field(default_factory=ClusterRule)
    repeat: RepeatRule = Field(default_factory=RepeatRule)
    lexicon: Lexicon = Field(default_factory=Lexicon)
    webhook: Webhook = Field(default_factory=Webhook)


def load_alerts(config_dir: str | Path) -> AlertSettings:
    """Read config/alerts.toml (defaults when absent); ConfigErrors names file and key."""
    path = Path(config_dir) / FILE
    found = load_model(AlertsFile, path, missing=AlertsFile())
    surge = found.surge
    if 0 < surge.long_window_minutes <= surge.window_minutes:
        raise ConfigErrors(
            [
                ConfigError(
                    str(path),
                    "surge.long_window_minutes",
                    "must be 0 (none) or longer than window_minutes",
                )
            ]
        )
    return AlertSettings(found.surge, found.cluster, found.repeat, found.lexicon, found.webhook)
