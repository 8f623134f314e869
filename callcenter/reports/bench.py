"""Report benchmark: a daily and a monthly report (figures only, and once with all three
files) timed over several runs on a loaded database, for the 1M-ticket acceptance run."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from callcenter.reports.build import ALL_DIMENSIONS, SHANGHAI, build_report, period_for
from callcenter.reports.run import FORMATS, write_files
from callcenter.storage.database import Database
from callcenter.storage.schema import Ticket


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "runs": len(ordered),
        "p50": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "max": round(ordered[-1], 3),
    }


def _timed(work: Callable[[], object], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


def bench(db_url: str, runs: int = 7) -> dict[str, object]:
    """Time build_report (all eight dimensions, both comparisons) for the last full day and
    the last full month of the data; once more with the XLSX, HTML and PDF written."""
    db = Database(db_url)
    try:
        with db.session() as s:
            tickets, last = s.execute(select(func.count(), func.max(Ticket.created_at))).one()
        if not tickets:
            raise ValueError("the database has no tickets")
        newest = datetime.fromtimestamp(float(last), SHANGHAI).date()
        day = newest - timedelta(days=1)
        month = (newest.replace(day=1) - timedelta(days=1)).replace(day=1)
        result: dict[str, object] = {"tickets": int(tickets), "day": str(day), "month": str(month)}
        for kind, when in (("daily", day), ("monthly", month)):
            start, end = period_for(kind, when)

            def figures(kind: str = kind, start: datetime = start, end: datetime = end) -> object:
                return build_report(db, kind, start, end, ALL_DIMENSIONS, "bench", store=False)

            result[kind] = _timed(figures, runs)
            report = build_report(db, kind, start, end, ALL_DIMENSIONS, "bench", store=False)
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                write_files(report, Path(tmp), FORMATS, "bench")
                result[f"{kind}_files_seconds"] = round(time.perf_counter() - started, 3)
        return result
    finally:
        db.close()
