"""When the service generates reports (pure), and `[schedule]` of config/reports.toml.

Periodic reports: the daily report of each day, the weekly report of each week (Monday to
Sunday) and the monthly report of each month, once the period is over and the local clock
has passed `at` (01:00 by default, so the last tickets of the day before are in). The latest
finished period of each kind is always due until it is generated; older ones missed while the
service was down only within `catch_up_days`; none that ended before the first record in the
store. A scheduled run that failed is tried again after `retry_after`.

Special reports (专报) asked for from a warning are `report_runs` rows in state `requested`:
they are generated as soon as the jobs see them (`callcenter report due`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from callcenter.config_models import Bool, Checked, FileModel, Float, Int, Str, load_model
from callcenter.reports.build import period_for
from callcenter.reports.run import FORMATS

FILE = "reports.toml"
PERIODIC = ("daily", "weekly", "monthly")
SCHEDULER = "scheduler"  # the actor of the runs the service makes


@dataclass(frozen=True)
class ReportSchedule:
    enabled: bool = True
    at: time = time(1, 0)
    kinds: tuple[str, ...] = PERIODIC
    catch_up_days: int = 7
    retry_after: float = 3600.0  # seconds
    formats: tuple[str, ...] = FORMATS
    out_dir: str = "var/reports"


@dataclass(frozen=True)
class Attempt:
    """A scheduled report run already made: its kind, period start (epoch), state and when
    it started."""

    kind: str
    period_from: float
    state: str
    started_at: float


Period = tuple[str, datetime, datetime]


def _latest_day(schedule: ReportSchedule, now: datetime, zone: ZoneInfo) -> date:
    """The last day whose periods may be reported: yesterday once `at` has passed today."""
    local = now.astimezone(zone)
    today = local.date()
    return today - timedelta(days=1) if local.time() >= schedule.at else today - timedelta(days=2)


def settled(
    schedule: ReportSchedule, attempts: Iterable[Attempt], now: float
) -> set[tuple[str, float]]:
    """(kind, period start) of the periods not to generate now: done, or failed lately."""
    return {
        (a.kind, a.period_from)
        for a in attempts
        if a.state in ("done", "running") or now - a.started_at < schedule.retry_after
    }


def due_periods(
    schedule: ReportSchedule,
    now: datetime,
    zone: ZoneInfo,
    attempts: Iterable[Attempt],
    first_record: float | None,
) -> list[Period]:
    """The periodic reports to generate now, oldest first. `first_record` is the epoch of
    the oldest ticket or call (None: an empty store, nothing to report)."""
    if not schedule.enabled or first_record is None:
        return []
    skip = settled(schedule, attempts, now.timestamp())
    last_day = _latest_day(schedule, now, zone)
    horizon = datetime.combine(last_day, time(0), zone) - timedelta(days=schedule.catch_up_days)
    found: list[Period] = []
    for kind in schedule.kinds:
        start, end = period_for(kind, last_day, zone)
        if end.date() > last_day + timedelta(days=1):  # not over yet: the one before
            start, end = period_for(kind, start.date() - timedelta(days=1), zone)
        latest = True
        while end.timestamp() > first_record and (latest or end > horizon):
            if (kind, start.timestamp()) not in skip:
                found.append((kind, start, end))
            latest = False
            start, end = period_for(kind, start.date() - timedelta(days=1), zone)
    return sorted(found, key=lambda p: (p[2], PERIODIC.index(p[0])))


def _hhmm(value: str) -> str | None:
    try:
        time.fromisoformat(value)
    except ValueError:
        return 'must be a local time HH:MM, e.g. "01:00"'
    return None


def _listed(allowed: tuple[str, ...]) -> Checked:
    def check(value: tuple[str, ...]) -> str | None:
        wrong = [x for x in value if x not in allowed]
        return f"unknown {wrong!r} (allowed: {', '.join(allowed)})" if wrong else None

    return Checked(check, items={"enum": list(allowed)})


class ScheduleKeys(FileModel):
    enabled: Bool = True
    at: Annotated[Str, Checked(_hhmm, examples=["01:00"])] = "01:00"  # local time
    kinds: Annotated[tuple[Str, ...], _listed(PERIODIC)] = PERIODIC
    catch_up_days: Annotated[
        Int, Checked(lambda v: None if v >= 0 else "must be 0 or more", minimum=0)
    ] = 7
    retry_after_minutes: Annotated[
        Float, Checked(lambda v: None if v > 0 else "must be more than 0", exclusiveMinimum=0)
    ] = 60.0
    formats: Annotated[tuple[Str, ...], _listed(FORMATS)] = FORMATS
    out_dir: Str = "var/reports"


class ReportsFile(FileModel):
    """reports.toml: which reports the service makes on its own, when, in which formats."""

    schedule: ScheduleKeys = ScheduleKeys()


def load_schedule(config_dir: str | Path) -> ReportSchedule:
    """Read config/reports.toml (defaults when absent); ConfigErrors names file and key."""
    path = Path(config_dir) / FILE
    t = load_model(ReportsFile, path, missing=ReportsFile()).schedule
    return ReportSchedule(
        enabled=t.enabled,
        at=time.fromisoformat(t.at),
        kinds=tuple(dict.fromkeys(t.kinds)),
        catch_up_days=t.catch_up_days,
        retry_after=60.0 * t.retry_after_minutes,
        formats=tuple(dict.fromkeys(t.formats)),
        out_dir=t.out_dir,
    )
