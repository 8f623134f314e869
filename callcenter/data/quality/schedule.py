"""When governance runs (pure): an incremental run every so often, a full run once a day at a
set local time. The service asks `due` on its timer and starts the run it names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^([1-9][0-9]*)\s*([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True)
class Schedule:
    incremental_every: float = 900.0  # seconds
    full_at: time = time(2, 30)  # local time of the daily full run
    zone: ZoneInfo = ZoneInfo("Asia/Shanghai")
    enabled: bool = True  # false: the service runs none (the command line still does)


def parse_duration(text: str) -> float | None:
    """'15m' -> 900.0; None when it is not <digits><s|m|h|d>."""
    m = _DURATION.match(text.strip())
    return float(int(m.group(1)) * _UNIT[m.group(2)]) if m else None


def parse_hhmm(text: str) -> time | None:
    m = _HHMM.match(text.strip())
    return time(int(m.group(1)), int(m.group(2))) if m else None


def due(schedule: Schedule, last_runs: Mapping[str, float], now: datetime) -> str | None:
    """'full', 'incremental' or None. `last_runs` maps a mode to when its last run started
    (epoch seconds; a mode never run is absent). No run at all yet: a full one. A full run is
    due once the day's `full_at` has passed and none started since; otherwise an incremental
    run is due when the last run of either mode started `incremental_every` ago or more (a
    full run covers what an incremental one would)."""
    full = last_runs.get("full")
    incremental = last_runs.get("incremental")
    if full is None and incremental is None:
        return "full"
    local = now.astimezone(schedule.zone)
    slot = datetime.combine(local.date(), schedule.full_at, schedule.zone)
    if slot > local:
        slot -= timedelta(days=1)
    if full is None or full < slot.timestamp():
        return "full"
    last = max(x for x in (full, incremental) if x is not None)
    if now.timestamp() - last >= schedule.incremental_every:
        return "incremental"
    return None
