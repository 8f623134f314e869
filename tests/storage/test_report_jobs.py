"""Reports on schedule and special reports on request, on SQLite and PostgreSQL: what the
schedule owes is generated once (files written, runs stored), a requested special report is
claimed and filled in, and the service's jobs start `callcenter report due` as a child
process only when something is owed."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from callcenter.data.jobs import DataJobs
from callcenter.reports.jobs import claim, pending, run_due
from callcenter.reports.schedule import SCHEDULER, ReportSchedule
from callcenter.storage.database import Database
from callcenter.storage.schema import ReportRun
from callcenter.synthetic.command import main_synth

REPO = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def config_dir(keyed_config: Path) -> Path:
    return keyed_config


def local(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).timestamp()


def special_request(db: Database, start: str, end: str) -> int:
    with db.session() as s:
        row = ReportRun(
            kind="special",
            title="专报：朝阳区供暖集中反映",
            period_from=local(start),
            period_to=local(end),
            params=json.dumps({"warning_id": 7, "kind": "cluster"}),
            figures="{}",
            files="[]",
            actor="sup1",
            state="requested",
            started_at=local(end),
            finished_at=None,
            error="",
        )
        s.add(row)
        s.commit()
        return row.id


def test_what_is_owed_is_made_once(database: Database, config_dir: Path, tmp_path: Path) -> None:
    database.upgrade()
    assert main_synth(database.url, 400, 5, date(2026, 1, 1), tmp_path / "t", config_dir, 0) == 0
    special = special_request(database, "2026-03-05 08:00", "2026-03-05 09:30")
    schedule = ReportSchedule(formats=("xlsx",), catch_up_days=2)
    now = local("2026-03-11 09:00")
    owed = pending(database, schedule, ZONE, now)
    assert [(k, f"{a:%m-%d}") for k, a, _ in owed.periods] == [
        ("monthly", "02-01"),
        ("daily", "03-08"),
        ("weekly", "03-02"),
        ("daily", "03-09"),
        ("daily", "03-10"),
    ]
    assert owed.specials == [special]
    out = tmp_path / "reports"
    made = run_due(database, config_dir, schedule, ZONE, now, out)
    assert [kind for kind, _, _ in made] == [
        "monthly",
        "daily",
        "weekly",
        "daily",
        "daily",
        "special",
    ]
    for _, _, files in made:
        assert len(files) == 1 and (out / files[0]).stat().st_size > 0
    with database.session() as s:
        runs = {r.id: r for r in s.scalars(select(ReportRun))}
    row = runs[special]
    assert (row.state, row.actor, row.error) == ("done", "sup1", "")
    assert row.title == "专报：朝阳区供暖集中反映"
    assert json.loads(row.params)["warning_id"] == 7  # the request's params are kept
    assert row.period_to - row.period_from >= 86400  # at least the day up to the warning
    figures = json.loads(row.figures)
    assert figures and json.loads(runs[made[0][1]].figures)
    sheet = load_workbook(out / json.loads(row.files)[0]).worksheets[0]
    cells = [str(c.value) for row_ in sheet.iter_rows(max_row=5) for c in row_ if c.value]
    assert any("专报" in c for c in cells), cells
    periodic = [r for r in runs.values() if r.actor == SCHEDULER]
    assert len(periodic) == 5 and all(r.state == "done" for r in periodic)
    # asked again: nothing owed, nothing made
    assert not pending(database, schedule, ZONE, now)
    assert run_due(database, config_dir, schedule, ZONE, now, out) == []
    # the next morning: only the new day
    later = run_due(database, config_dir, schedule, ZONE, now + 86400, out)
    assert [(k, runs_day(database, i)) for k, i, _ in later] == [("daily", "2026-03-11")]


def runs_day(db: Database, run_id: int) -> str:
    with db.session() as s:
        row = s.get(ReportRun, run_id)
        assert row is not None
        return f"{datetime.fromtimestamp(row.period_from, ZONE):%Y-%m-%d}"


def test_a_request_is_claimed_once_and_a_stale_claim_again(database: Database) -> None:
    database.upgrade()
    run_id = special_request(database, "2026-03-05 08:00", "2026-03-05 09:30")
    now = local("2026-03-05 10:00")
    assert claim(database, run_id, now, 3600) is not None
    assert claim(database, run_id, now + 10, 3600) is None  # another runner has it
    taken = claim(database, run_id, now + 3601, 3600)  # that runner died an hour ago
    assert taken is not None and taken.state == "running"


def test_a_failure_is_recorded_and_retried_later(
    database: Database, config_dir: Path, tmp_path: Path
) -> None:
    database.upgrade()
    start = date.today() - timedelta(days=20)
    assert main_synth(database.url, 100, 5, start, tmp_path / "t", config_dir, 0) == 0
    schedule = ReportSchedule(kinds=("daily",), formats=("xlsx",), catch_up_days=0)
    now = time.time()  # the runs' start times are the clock's
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(OSError):
        run_due(database, config_dir, schedule, ZONE, now, blocked)
    with database.session() as s:
        failed = s.scalars(select(ReportRun).where(ReportRun.actor == SCHEDULER)).one()
    assert failed.state == "failed" and failed.error
    assert not pending(database, schedule, ZONE, now + 60)  # not at every tick
    assert pending(database, schedule, ZONE, now + 3601)  # but after retry_after
    made = run_due(database, config_dir, schedule, ZONE, now + 3601, tmp_path / "ok")
    assert [k for k, _, _ in made] == ["daily"]


async def test_the_service_jobs_run_report_due_as_a_child_process(
    database: Database, config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.upgrade()
    quality = config_dir / "quality.toml"  # only the report jobs here
    text = quality.read_text(encoding="utf-8")
    quality.write_text(text.replace("enabled = true", "enabled = false", 1), encoding="utf-8")
    (config_dir / "reports.toml").write_text(
        '[schedule]\nkinds = ["daily"]\ncatch_up_days = 0\nformats = ["xlsx"]\n'
        f'out_dir = "{tmp_path / "out"}"\n',
        encoding="utf-8",
    )
    start = date.today() - timedelta(days=400)  # a year of tickets, ended a month ago
    assert main_synth(database.url, 50, 5, start, tmp_path / "t", config_dir, 0) == 0
    stopping = asyncio.Event()
    jobs = DataJobs(config_dir, database.url, database, stopping, tick=0.2, zone=ZONE)
    task = asyncio.create_task(jobs.run())
    for _ in range(1800):  # a child process: slow on a loaded machine
        if jobs.finished:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # a few more ticks: nothing more is owed, no other child
    stopping.set()
    await task
    assert jobs.finished == [("reports", 0)]
    with database.session() as s:
        row = s.scalars(select(ReportRun)).one()
    assert (row.kind, row.actor, row.state) == ("daily", SCHEDULER, "done")
    assert (tmp_path / "out" / json.loads(row.files)[0]).exists()
