"""config/staffing.toml: the service target and the assumptions of the seat plan."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.staffing.erlang import Target
from callcenter.tomlreader import ConfigErrors, TableReader

FILE = "staffing.toml"
KEYS = (
    "service_level",
    "answer_within",
    "max_occupancy",
    "max_abandon",
    "max_asa",
    "shrinkage",
    "aht",
    "aht_seconds",
    "wrapup_seconds",
    "patience",
    "patience_seconds",
    "history_weeks",
)
SOURCES = ("history", "fixed")


@dataclass(frozen=True)
class StaffingSettings:
    target: Target
    shrinkage: float = 0.3
    aht: str = "history"
    aht_seconds: float = 240.0
    wrapup_seconds: float = 15.0
    patience: str = "history"
    patience_seconds: float = 120.0
    history_weeks: int = 6


def _share(low_open: bool) -> Any:
    def check(v: Any) -> str | None:
        ok = (0 < v < 1) if low_open else (0 <= v < 1)
        return None if ok else ("must be above 0 and below 1" if low_open else "must be 0 to <1")

    return check


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be above 0"


def _not_negative(v: Any) -> str | None:
    return None if v >= 0 else "must not be negative"


def _source(v: Any) -> str | None:
    return None if v in SOURCES else f"must be one of {', '.join(SOURCES)}"


def parse_staffing(data: dict[str, Any], file: str) -> StaffingSettings:
    r = TableReader()
    r.file = file
    r.table(data, "", ("staffing",))
    t = r.table(data.get("staffing"), "staffing", KEYS)
    p = "staffing"
    sl = r.get(t, p, "service_level", float, 0.8, check=_share(True))
    within = r.get(t, p, "answer_within", float, 20.0, check=_not_negative)
    occ = r.get(t, p, "max_occupancy", float, 0.0, check=_share(False))
    abandon = r.get(t, p, "max_abandon", float, 0.0, check=_share(False))
    asa = r.get(t, p, "max_asa", float, 0.0, check=_not_negative)
    settings = StaffingSettings(
        target=Target(sl, within, asa or None, occ or None, abandon or None),
        shrinkage=r.get(t, p, "shrinkage", float, 0.3, check=_share(False)),
        aht=r.get(t, p, "aht", str, "history", check=_source),
        aht_seconds=r.get(t, p, "aht_seconds", float, 240.0, check=_positive),
        wrapup_seconds=r.get(t, p, "wrapup_seconds", float, 0.0, check=_not_negative),
        patience=r.get(t, p, "patience", str, "history", check=_source),
        patience_seconds=r.get(t, p, "patience_seconds", float, 120.0, check=_positive),
        history_weeks=r.get(
            t, p, "history_weeks", int, 6, check=lambda v: None if 1 <= v <= 52 else "1 to 52"
        ),
    )
    if r.errors:
        raise ConfigErrors(r.errors)
    return settings


def load_staffing(config_dir: str | Path) -> StaffingSettings:
    src = Path(config_dir)
    file = f"{src.name}/{FILE}"
    try:
        data = tomllib.loads((src / FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        r = TableReader()
        r.file = file
        r.error("", "required file is missing")
        raise ConfigErrors(r.errors) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        r = TableReader()
        r.file = file
        r.error("", f"cannot be read: {exc}")
        raise ConfigErrors(r.errors) from None
    return parse_staffing(data, file)
