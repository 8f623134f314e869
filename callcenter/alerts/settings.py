"""config/alerts.toml: thresholds, windows, lexicons and the webhook of the early warnings."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.tomlreader import ConfigError, ConfigErrors, TableReader

FILE = "alerts.toml"
SCOPES = ("grid", "street", "district")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class SurgeRule:
    weeks: int = 4
    min_weeks: int = 1
    window_minutes: int = 60
    long_window_minutes: int = 120  # 0: the short window only
    min_count: int = 5
    min_ratio: float = 2.0
    p_value: float = 1e-6
    floor_per_hour: float = 0.05
    cooldown_hours: float = 12.0
    lift_z: float = 3.0  # 0: wider cells' rises do not lift a cell's expected count


@dataclass(frozen=True)
class ClusterRule:
    window_hours: float = 24.0
    similarity: float = 0.5
    scope: str = "grid"
    min_callers: int = 5


@dataclass(frozen=True)
class RepeatRule:
    caller_count: int = 5
    caller_days: float = 7.0
    problem_count: int = 3
    problem_days: float = 7.0
    problem_similarity: float = 0.8


@dataclass(frozen=True)
class Lexicon:
    sensitive: tuple[str, ...] = ()
    severe: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    group_people: int = 10


@dataclass(frozen=True)
class Webhook:
    url: str = ""
    secret_env: str = "CALLCENTER_ALERTS_WEBHOOK_SECRET"
    timeout: float = 10.0
    attempts: int = 5
    backoff: float = 0.5


@dataclass(frozen=True)
class AlertSettings:
    surge: SurgeRule = field(default_factory=SurgeRule)
    cluster: ClusterRule = field(default_factory=ClusterRule)
    repeat: RepeatRule = field(default_factory=RepeatRule)
    lexicon: Lexicon = field(default_factory=Lexicon)
    webhook: Webhook = field(default_factory=Webhook)


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or greater"


def _unit(value: Any) -> str | None:
    return None if 0 < value <= 1 else "must be greater than 0 and at most 1"


def _words(value: Any) -> str | None:
    if not all(isinstance(w, str) and w.strip() for w in value):
        return "must be a list of non-empty strings"
    return None


def _read(
    r: TableReader, table: dict[str, Any], key: str, default: Any, checks: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, check in checks.items():
        fallback = getattr(default, name)
        kind: type | tuple[type, ...] = list if isinstance(fallback, tuple) else type(fallback)
        found = r.get(table, key, name, kind, fallback, check=check)
        values[name] = tuple(w.strip() for w in found) if isinstance(found, list) else found
    return values


def load_alerts(config_dir: str | Path) -> AlertSettings:
    """Read config/alerts.toml (defaults when absent); ConfigErrors names file and key."""
    path = Path(config_dir) / FILE
    if not path.exists():
        return AlertSettings()
    r = TableReader()
    r.file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigErrors([ConfigError(str(path), "", f"not valid TOML: {exc}")]) from None
    top = r.table(data, "", ("surge", "cluster", "repeat", "lexicon", "webhook"))
    p: Callable[[Any], str | None] = _positive
    sections: dict[str, tuple[Any, dict[str, Any]]] = {
        "surge": (
            SurgeRule(),
            {
                "weeks": p,
                "min_weeks": p,
                "window_minutes": p,
                "long_window_minutes": _not_negative,
                "min_count": p,
                "min_ratio": p,
                "p_value": _unit,
                "floor_per_hour": p,
                "cooldown_hours": p,
                "lift_z": _not_negative,
            },
        ),
        "cluster": (
            ClusterRule(),
            {
                "window_hours": p,
                "similarity": _unit,
                "scope": lambda v: None if v in SCOPES else f"must be one of {', '.join(SCOPES)}",
                "min_callers": lambda v: None if v >= 2 else "must be at least 2",
            },
        ),
        "repeat": (
            RepeatRule(),
            {
                "caller_count": lambda v: None if v >= 2 else "must be at least 2",
                "caller_days": p,
                "problem_count": lambda v: None if v >= 2 else "must be at least 2",
                "problem_days": p,
                "problem_similarity": _unit,
            },
        ),
        "lexicon": (
            Lexicon(),
            {"sensitive": _words, "severe": _words, "group": _words, "group_people": p},
        ),
        "webhook": (
            Webhook(),
            {
                "url": lambda v: (
                    None
                    if v == "" or v.startswith(("http://", "https://"))
                    else "must be empty or an http:// or https:// URL"
                ),
                "secret_env": lambda v: None if ENV_NAME.match(v) else "must be a variable name",
                "timeout": p,
                "attempts": p,
                "backoff": p,
            },
        ),
    }
    built: dict[str, Any] = {}
    for name, (default, checks) in sections.items():
        table = r.table(top.get(name), name, tuple(checks))
        built[name] = type(default)(**_read(r, table, name, default, checks))
    surge = built["surge"]
    if 0 < surge.long_window_minutes <= surge.window_minutes:
        r.error("surge.long_window_minutes", "must be 0 (none) or longer than window_minutes")
    if r.errors:
        raise ConfigErrors(r.errors)
    return AlertSettings(**built)
