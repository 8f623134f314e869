"""The service's data jobs on SQLite and PostgreSQL: governance on its schedule and the data
retention rules and the daily fusion, each as a real `callcenter data ...` child process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.data.jobs import JOB_NICENESS, DataJobs
from callcenter.storage.database import Database
from callcenter.storage.schema import Profile, QualityRun, RetentionRun
from callcenter.synthetic.command import main_synth

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_dir(keyed_config: Path) -> Path:
    return keyed_config


async def test_a_full_run_then_retention_and_fusion_as_child_processes(
    database: Database, config_dir: Path, tmp_path: Path
) -> None:
    database.upgrade()
    assert main_synth(database.url, 60, 3, date(2026, 3, 1), tmp_path / "t", config_dir, 0.1) == 0
    stopping = asyncio.Event()
    jobs = DataJobs(config_dir, database.url, database, stopping, tick=0.2)
    task = asyncio.create_task(jobs.run())
    for _ in range(1800):  # child processes: slow on a loaded machine
        if len(jobs.finished) >= 4:
            break
        await asyncio.sleep(0.1)
    stopping.set()
    await task
    assert jobs.finished[:4] == [("quality", 0), ("retention", 0), ("kb-expire", 0), ("fusion", 0)]
    # batch work yields the CPU to the live engine: each child runs at nice 10 (or nicer)
    assert len(jobs.niceness) >= 4 and all(n >= JOB_NICENESS for n in jobs.niceness)
    with database.session() as s:
        runs = list(s.scalars(select(QualityRun)))
        assert [(r.mode, r.actor) for r in runs][:1] == [("full", "scheduler")]
        assert runs[0].records == 60 and runs[0].problems > 0
        assert s.scalars(select(RetentionRun.actor)).first() == "scheduler"
        assert s.scalar(select(func.count()).select_from(Profile))  # the year's callers profiled
    # a restart within the day does not fuse again (the profiles are younger than a day)
    again = DataJobs(config_dir, database.url, database, asyncio.Event(), tick=0.2)
    assert time.time() - again.last_fusion() < 3600


async def test_off_when_the_schedule_says_so(database: Database, config_dir: Path) -> None:
    quality = config_dir / "quality.toml"
    text = quality.read_text(encoding="utf-8")
    quality.write_text(text.replace("enabled = true", "enabled = false", 1), encoding="utf-8")
    reports = config_dir / "reports.toml"
    text = reports.read_text(encoding="utf-8")
    reports.write_text(text.replace("enabled = true", "enabled = false", 1), encoding="utf-8")
    jobs = DataJobs(config_dir, database.url, database, asyncio.Event(), tick=0.1)
    await asyncio.wait_for(jobs.run(), 5)  # returns at once: nothing scheduled
    assert jobs.finished == []


def _children_running(marker: str) -> int:
    found = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found += 1
        except OSError:
            continue  # the process ended while we looked
    return found


async def test_stopping_the_service_stops_the_running_job_quietly_and_starts_no_other(
    database: Database, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database.upgrade()
    stopping = asyncio.Event()
    jobs = DataJobs(config_dir, database.url, database, stopping, tick=0.2)
    task = asyncio.create_task(jobs.run())
    marker = f"--db\0{database.url}\0"
    for _ in range(600):
        if _children_running(marker):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("no data job child process started")
    with caplog.at_level("INFO", logger="callcenter.data.jobs"):
        stopping.set()
        await asyncio.wait_for(task, 60)
    # the job that was running stops with the service; none of the later ones starts
    assert jobs.finished and all(code == 0 for _, code in jobs.finished[:-1]), jobs.finished
    killed = [r for r in caplog.records if "stopped with the service" in r.getMessage()]
    assert killed or jobs.finished[-1][1] == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert _children_running(marker) == 0


async def test_the_first_jobs_wait_first_after(database: Database, config_dir: Path) -> None:
    """A (re)started service leaves its first minutes to routing: no job, not even the
    question of which is due, before `first_after`; stopping during the wait ends it."""
    database.upgrade()
    stopping = asyncio.Event()
    jobs = DataJobs(config_dir, database.url, database, stopping, tick=0.1, first_after=3600)
    asked = asyncio.Event()
    jobs.last_runs = lambda: asked.set() or {}  # type: ignore[method-assign,func-returns-value]
    task = asyncio.create_task(jobs.run())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asked.wait(), 2.0)
    assert not asked.is_set() and jobs.niceness == []
    stopping.set()
    await asyncio.wait_for(task, 10)
    assert jobs.finished == [] and not asked.is_set()

    soon = DataJobs(config_dir, database.url, database, asyncio.Event(), tick=0.1, first_after=0.2)
    soon.last_runs = lambda: asked.set() or {}  # type: ignore[method-assign,func-returns-value]
    started = asyncio.create_task(soon.run())
    await asyncio.wait_for(asked.wait(), 60)  # after the wait, the loop asks what is due
    soon.stopping.set()
    await asyncio.wait_for(started, 120)
