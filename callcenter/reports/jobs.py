"""The reports the service owes: scheduled periodic reports and requested special reports.

`pending` is the cheap question the service asks on its timer (a few indexed queries); when
anything is owed it starts `callcenter report due` as a child process, which runs `run_due`:
each periodic report of `schedule.due_periods` and each special report requested from a
warning, built and written by `generate_report`. A requested run is claimed (state
`requested` -> `running`) before it is built, so two runners never build it twice; one left
`running` by a runner that died is claimed again after `retry_after`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from callcenter.reports.build import ALL_DIMENSIONS, topic_names
from callcenter.reports.run import generate_report
from callcenter.reports.schedule import (
    PERIODIC,
    SCHEDULER,
    Attempt,
    Period,
    ReportSchedule,
    due_periods,
    load_schedule,
)
from callcenter.storage.database import Database
from callcenter.storage.schema import CallRecord, ReportRun, Ticket
from callcenter.tomlreader import ConfigError

log = logging.getLogger(__name__)

MIN_SPECIAL = 86400.0  # a special report covers at least the day up to the warning


@dataclass(frozen=True)
class Owed:
    periods: list[Period]
    specials: list[int]  # report_runs ids

    def __bool__(self) -> bool:
        return bool(self.periods or self.specials)


def attempts(session: Session, since: float) -> list[Attempt]:
    """The scheduler's periodic runs of periods starting after `since`."""
    rows = session.execute(
        select(ReportRun.kind, ReportRun.period_from, ReportRun.state, ReportRun.started_at).where(
            ReportRun.actor == SCHEDULER,
            ReportRun.kind.in_(PERIODIC),
            ReportRun.period_from >= since,
        )
    )
    return [Attempt(k, float(p), s, float(at)) for k, p, s, at in rows]


def first_record(session: Session) -> float | None:
    """When the oldest ticket or call arrived (None: neither exists)."""
    found = [
        session.scalar(select(func.min(Ticket.created_at))),
        session.scalar(select(func.min(CallRecord.joined_at))),
    ]
    known = [float(x) for x in found if x is not None]
    return min(known) if known else None


def requested(session: Session, now: float, stale_after: float) -> list[int]:
    """Special reports waiting: requested, or left running longer than `stale_after`."""
    return list(
        session.scalars(
            select(ReportRun.id)
            .where(
                or_(
                    ReportRun.state == "requested",
                    (ReportRun.state == "running") & (ReportRun.started_at < now - stale_after),
                )
            )
            .order_by(ReportRun.id)
        )
    )


def pending(db: Database, schedule: ReportSchedule, zone: ZoneInfo, now: float) -> Owed:
    at = datetime.fromtimestamp(now, UTC)
    # the oldest period a run can be owed for: a month back, or the catch-up window
    since = now - (schedule.catch_up_days + 70) * 86400.0
    with db.session() as s:
        periods = due_periods(schedule, at, zone, attempts(s, since), first_record(s))
        specials = requested(s, now, schedule.retry_after)
    return Owed(periods, specials)


def claim(db: Database, run_id: int, now: float, stale_after: float) -> ReportRun | None:
    """Take a requested (or stale running) special run for this runner; None if another has."""
    with db.session() as s:
        taken = s.execute(
            update(ReportRun)
            .where(
                ReportRun.id == run_id,
                or_(
                    ReportRun.state == "requested",
                    (ReportRun.state == "running") & (ReportRun.started_at < now - stale_after),
                ),
            )
            .values(state="running", started_at=now)
            .execution_options(synchronize_session=False)
        )
        s.commit()
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return s.get(ReportRun, run_id)


def _special(
    db: Database,
    row: ReportRun,
    zone: ZoneInfo,
    out_dir: Path,
    schedule: ReportSchedule,
    topics: dict[str, str],
) -> list[str]:
    start = min(row.period_from, row.period_to - MIN_SPECIAL)
    report = generate_report(
        db,
        "special",
        datetime.fromtimestamp(start, zone),
        datetime.fromtimestamp(row.period_to, zone),
        ALL_DIMENSIONS,
        row.actor,
        out_dir,
        schedule.formats,
        title=row.title,
        topics=topics,
        run_id=row.id,
    )
    return report.files


def _failed(db: Database, run_id: int, exc: Exception) -> None:
    with db.session() as s:
        row = s.get(ReportRun, run_id)
        if row is not None and row.state != "done":
            row.state = "failed"
            row.error = f"{type(exc).__name__}: {exc}"
            row.finished_at = time.time()
            s.commit()


def run_due(
    db: Database,
    config_dir: Path,
    schedule: ReportSchedule,
    zone: ZoneInfo,
    now: float,
    out_dir: Path,
) -> list[tuple[str, int, list[str]]]:
    """Generate every report owed now; (kind, run id, files) of each one made. A report that
    fails is marked failed (periodic ones are retried after `retry_after`) and the rest go on;
    the first error is raised at the end."""
    owed = pending(db, schedule, zone, now)
    topics = topic_names(config_dir)
    made: list[tuple[str, int, list[str]]] = []
    errors: list[Exception] = []
    for kind, start, end in owed.periods:
        began = time.time()
        try:
            report = generate_report(
                db, kind, start, end, ALL_DIMENSIONS, SCHEDULER, out_dir, schedule.formats,
                topics=topics,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - recorded, the other reports still run
            log.exception("scheduled %s report %s failed", kind, start.date())
            _record_failure(db, kind, start, end, began, exc)
            errors.append(exc)
            continue
        assert report.id is not None
        made.append((kind, report.id, report.files))
    for run_id in owed.specials:
        row = claim(db, run_id, now, schedule.retry_after)
        if row is None:
            continue
        try:
            made.append(("special", run_id, _special(db, row, zone, out_dir, schedule, topics)))
        except Exception as exc:  # noqa: BLE001 - recorded on the run
            log.exception("special report %d failed", run_id)
            _failed(db, run_id, exc)
            errors.append(exc)
    if errors:
        raise errors[0]
    return made


def _record_failure(
    db: Database, kind: str, start: datetime, end: datetime, began: float, exc: Exception
) -> None:
    """A periodic run that failed before it was stored gets a failed row, so it is retried
    after `retry_after`, not at every tick; one stored, then failed, is marked already."""
    with db.session() as s:
        stored = s.scalar(
            select(func.count()).where(
                ReportRun.actor == SCHEDULER,
                ReportRun.kind == kind,
                ReportRun.period_from == start.timestamp(),
                ReportRun.started_at >= began,
            )
        )
        if stored:
            return
        s.add(
            ReportRun(
                kind=kind,
                title="",
                period_from=start.timestamp(),
                period_to=end.timestamp(),
                params=json.dumps({"scheduled": True}),
                figures="{}",
                files="[]",
                actor=SCHEDULER,
                state="failed",
                started_at=time.time(),
                finished_at=time.time(),
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        )
        s.commit()


def main_due(config_dir: Path, db_url: str, zone: ZoneInfo, out_dir: Path | None) -> int:
    """`callcenter report due`: generate every scheduled report not yet made and every
    special report requested. 0 when all were made, 1 when one failed, 2 on a config error."""
    try:
        schedule = load_schedule(config_dir)
    except ConfigError as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    db = Database(db_url)
    try:
        out = out_dir or Path(schedule.out_dir)
        made = run_due(db, config_dir, schedule, zone, time.time(), out)
    except Exception as exc:  # noqa: BLE001 - one line for the service's log
        print(f"报告生成失败：{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    for kind, run_id, files in made:
        print(f"{kind} #{run_id}: {', '.join(files)}")
    if not made:
        print("没有待生成的报告")
    return 0
