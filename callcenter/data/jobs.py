"""The service's data jobs: governance on the schedule of `config/quality.toml`, and under the
same switch the data retention rules of `config/retention.toml` once a day and the fusion of
profiles and topic libraries once a day (`callcenter data fuse`; a restart does not repeat a
fusion younger than a day); the reports of `config/reports.toml`'s
schedule and the special reports requested from warnings. Each job is a child process
(`callcenter data ...`, `callcenter report due`), so a full pass over a year of tickets never
competes with the live engine for its interpreter; its exit code and error output are logged.
The timer itself only asks cheap questions (when did the last run start, is a report owed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from callcenter.data.quality.config import load_quality
from callcenter.data.quality.schedule import Schedule, due
from callcenter.reports.jobs import pending
from callcenter.reports.schedule import ReportSchedule, load_schedule
from callcenter.storage.database import Database
from callcenter.storage.schema import Profile, QualityRun
from callcenter.tomlreader import ConfigError

log = logging.getLogger(__name__)

RETENTION_EVERY = 24 * 3600.0
# Each job's child process runs this nice: batch work yields the CPU to the live engine and
# the PBX (a fresh database's first full pass took ~17 s of CPU while calls were routed).
JOB_NICENESS = 10
# The service starts its jobs this long after it starts: a fresh database's first pass is
# about 30 s of CPU in child processes (governance, retention, knowledge expiry, fusion), and
# a (re)started engine's first minutes belong to the callers it restores and routes (on the
# 2-core bench machine the four jobs ran during the whole light-load phase).
FIRST_JOBS_AFTER = 300.0
FUSION_EVERY = 24 * 3600.0


class DataJobs:
    def __init__(
        self,
        config_dir: Path,
        db_url: str,
        database: Database,
        stopping: asyncio.Event,
        tick: float = 60.0,
        zone: ZoneInfo | None = None,
        first_after: float = 0.0,
    ) -> None:
        """`first_after`: seconds to wait after the start before the first job (the service
        gives its first minutes to the callers it restores and routes, FIRST_JOBS_AFTER)."""
        self.config_dir = config_dir
        self.db_url = db_url
        self.database = database
        self.tick = tick
        self.stopping = stopping
        self.zone = zone or ZoneInfo("Asia/Shanghai")
        self.first_after = first_after
        self.finished: list[tuple[str, int]] = []  # (job, exit code), newest last
        self.niceness: list[int] = []  # each started job's nice, as the OS has it

    def last_runs(self) -> dict[str, float]:
        """When the last finished run of each mode started."""
        with self.database.session() as s:
            rows = s.execute(
                select(QualityRun.mode, func.max(QualityRun.started_at))
                .where(QualityRun.finished_at.is_not(None))
                .group_by(QualityRun.mode)
            )
            return {mode: float(at) for mode, at in rows}

    def last_fusion(self) -> float:
        """When the profiles were last rebuilt (0: never, or nobody to profile)."""
        with self.database.session() as s:
            at = s.scalar(select(func.max(Profile.run_at)))
            return float(at) if at is not None else 0.0

    def _quality(self) -> Schedule | None:
        try:
            schedule: Schedule = load_quality(self.config_dir).schedule
        except ConfigError as exc:
            log.error("governance and retention jobs off: %s", exc)
            return None
        if not schedule.enabled:
            log.info(
                "governance and retention jobs off ([schedule] enabled = false in quality.toml)"
            )
            return None
        return schedule

    def _reports(self) -> ReportSchedule | None:
        try:
            schedule = load_schedule(self.config_dir)
        except ConfigError as exc:
            log.error("report jobs off: %s", exc)
            return None
        if not schedule.enabled:
            log.info("report jobs off ([schedule] enabled = false in reports.toml)")
            return None
        return schedule

    async def run(self) -> None:
        quality = self._quality()
        reports = self._reports()
        if quality is None and reports is None:
            return
        if self.first_after > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.first_after)
        retention_at = 0.0
        fusion_at = await asyncio.to_thread(self.last_fusion) if quality is not None else 0.0
        while not self.stopping.is_set():
            if quality is not None:
                last = await asyncio.to_thread(self.last_runs)
                mode = due(quality, last, datetime.now(UTC))
                if mode is not None:
                    await self._child(
                        "quality", ["data", *self._who(), "quality", "run", "--mode", mode]
                    )
                if time.time() - retention_at >= RETENTION_EVERY:
                    await self._child("retention", ["data", *self._who(), "retention"])
                    await self._child("kb-expire", ["kb", "expire", *self._who()])
                    retention_at = time.time()
                if time.time() - fusion_at >= FUSION_EVERY:
                    await self._child("fusion", ["data", *self._who(), "fuse"])
                    fusion_at = time.time()
            if reports is not None:
                await self._report_jobs(reports)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.tick)

    async def _report_jobs(self, schedule: ReportSchedule) -> None:
        try:
            owed = await asyncio.to_thread(pending, self.database, schedule, self.zone, time.time())
        except Exception:  # noqa: BLE001 - a database hiccup: logged, asked again next tick
            log.exception("report jobs: checking what is owed failed")
            return
        if owed:
            await self._child("reports", ["report", "due", *self._who()])

    def _yield_cpu(self, pid: int) -> None:
        """Lower a job's CPU priority to JOB_NICENESS (never raise it: a child of an engine
        already running nicer keeps that)."""
        try:
            nice = max(os.getpriority(os.PRIO_PROCESS, pid), JOB_NICENESS)
            os.setpriority(os.PRIO_PROCESS, pid, nice)
            self.niceness.append(os.getpriority(os.PRIO_PROCESS, pid))
        except OSError as exc:  # already gone
            log.debug("data job %d: priority not changed: %s", pid, exc)

    def _who(self) -> list[str]:
        return ["--db", self.db_url, "--actor", "scheduler"]

    async def _child(self, job: str, args: Sequence[str]) -> None:
        if self.stopping.is_set():
            return  # the service is stopping: the job runs after the next start
        command = [
            sys.executable,
            "-m",
            "callcenter.cli",
            "--config",
            str(self.config_dir),
            *args,
        ]
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        self._yield_cpu(proc.pid)
        talk = asyncio.ensure_future(proc.communicate())
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({talk, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        stopped = not talk.done()
        if stopped:  # the service is stopping: the job stops too (it resumes later)
            proc.kill()
        _, err = await talk
        code = proc.returncode if proc.returncode is not None else -1
        self.finished.append((job, code))
        seconds = time.monotonic() - started
        if stopped:
            log.info("data job %s stopped with the service after %.1f s", job, seconds)
        elif code == 0:
            log.info("data job %s (%s) done in %.1f s", job, " ".join(args), seconds)
        else:
            log.error(
                "data job %s (%s) failed (exit %d): %s",
                job,
                " ".join(args),
                code,
                err.decode("utf-8", "replace").strip()[-2000:],
            )
