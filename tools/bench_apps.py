"""Benchmark: the data applications over one synthetic year in PostgreSQL (1,000,000 tickets
by default; 10,000,000 with --ten-million): a daily and a monthly report, one department's
scorecard and all of them, hot-spot rankings, knowledge search and suggestions over 10,000
entries, and the early warning's time per incoming ticket with its detection figures. Every
operation runs on the same database in the same invocation, and each p50 is also given as a
multiple of a baseline measured there first: one plain read of the whole tickets table (COPY
... TO STDOUT), so figures from a loaded machine stay comparable.

    python tools/bench_apps.py                          # generate 1,000,000 tickets, then time
    python tools/bench_apps.py --tickets 100000
    python tools/bench_apps.py --db postgresql://root@127.0.0.1:5432/apps1m --truth DIR
    python tools/bench_apps.py --db ... --truth DIR --skip alerts

With --db the year must have been made by `callcenter data synth` (its truth folder holds the
injected events the warnings are scored against); the database is only read (the knowledge
entries the search needs are added in a transaction that is rolled back).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.alerts.evaluate import delay_percentile, evaluate  # noqa: E402
from callcenter.alerts.settings import load_alerts  # noqa: E402
from callcenter.analytics.bench import bench as bench_analytics  # noqa: E402
from callcenter.data.crypto import FILE_ENV, write_key_file  # noqa: E402
from callcenter.knowledge_base.bench import bench as bench_knowledge  # noqa: E402
from callcenter.reports.bench import bench as bench_reports  # noqa: E402
from callcenter.storage.database import Database  # noqa: E402
from callcenter.synthetic.command import main_synth  # noqa: E402
from callcenter.tickets.settings import load_ticket_settings  # noqa: E402
from tools.bench_data import read_all_tickets, scratch_database  # noqa: E402

CONFIG = Path(__file__).resolve().parent.parent / "config"
SECTIONS = ("reports", "analytics", "knowledge", "alerts")

Row = tuple[str, float, float]  # operation, p50 seconds, p95 seconds


def reports_rows(url: str) -> tuple[list[Row], dict[str, Any]]:
    r = bench_reports(url)
    rows: list[Row] = []
    for kind in ("daily", "monthly"):
        t = r[kind]
        assert isinstance(t, dict)
        rows.append((f"{kind} report (figures, 8 breakdowns, 2 comparisons)", t["p50"], t["p95"]))
    return rows, r


def analytics_rows(url: str) -> tuple[list[Row], dict[str, Any]]:
    a = bench_analytics(url)
    names = {
        "department_scorecard": "one department's scorecard (30 days)",
        "all_scorecards": "every department's scorecard (30 days)",
        "hotspots_topic": "hot spots by topic (30 days)",
        "hotspots_street": "hot spots by street (30 days)",
        "hotspots_department_topic": "one department's hot spots by topic",
    }
    rows = [
        (label, a[key]["p50_ms"] / 1000, a[key]["p95_ms"] / 1000)
        for key, label in names.items()
        if key in a
    ]
    return rows, a


def knowledge_rows(url: str) -> tuple[list[Row], dict[str, Any]]:
    k = bench_knowledge(url)
    entries = k["entries"]
    rows: list[Row] = []
    for key, label in (("search", "knowledge search"), ("suggest", "suggestions for a sentence")):
        t = k[key]
        assert isinstance(t, dict)
        rows.append((f"{label} ({entries:,} entries)", t["p50_ms"] / 1000, t["p95_ms"] / 1000))
    return rows, k


def alerts_rows(url: str, truth: Path) -> tuple[list[Row], dict[str, Any]]:
    db = Database(url)
    started = time.perf_counter()
    try:
        found, result = evaluate(db, truth, load_alerts(CONFIG), load_ticket_settings(CONFIG))
    finally:
        db.close()
    p50, p95 = delay_percentile(result.seconds, 50), delay_percentile(result.seconds, 95)
    figures = {
        "tickets": result.tickets,
        "replay_seconds": round(time.perf_counter() - started, 1),
        "events": found.events,
        "detected": found.detected,
        "by_kind": found.by_kind,
        "false_alarms_per_day": round(found.false_per_day, 3),
        "delay_p50_min": round(found.delay(0.5) / 60, 1),
        "delay_p95_min": round(found.delay(0.95) / 60, 1),
        "other": found.other,
    }
    return [("early warning, per incoming ticket", p50, p95)], figures


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = work()
    return value, time.perf_counter() - started


def seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def run(url: str, truth: Path, skip: set[str]) -> dict[str, Any]:
    db = Database(url)
    try:
        size, baseline = timed(lambda: read_all_tickets(db))
    finally:
        db.close()
    print(f"baseline: read every ticket once: {baseline:.2f} s ({size / 1e6:.0f} MB)", flush=True)
    rows: list[Row] = []
    details: dict[str, Any] = {"baseline_seconds": round(baseline, 3)}
    work: dict[str, Callable[[], tuple[list[Row], dict[str, Any]]]] = {
        "reports": lambda: reports_rows(url),
        "analytics": lambda: analytics_rows(url),
        "knowledge": lambda: knowledge_rows(url),
        "alerts": lambda: alerts_rows(url, truth),
    }
    for name in SECTIONS:
        if name in skip:
            continue
        print(f"{name} ...", flush=True)
        (found, detail), took = timed(work[name])
        rows += found
        details[name] = detail
        print(f"{name}: {took:.0f} s  {json.dumps(detail, ensure_ascii=False)}", flush=True)
    print(f"\nbaseline read of the tickets table: {baseline:.2f} s\n")
    print("| operation | p50 | p95 | p50 × baseline read |")
    print("|---|---:|---:|---:|")
    for label, p50, p95 in rows:
        print(f"| {label} | {seconds(p50)} | {seconds(p95)} | {p50 / baseline:.4f} |")
    if "alerts" in details:
        a = details["alerts"]
        print(
            f"\nearly warning on {a['tickets']:,} tickets: {a['detected']}/{a['events']} injected"
            f" events detected, {a['false_alarms_per_day']} false alarms a day, delay from"
            f" onset p50 {a['delay_p50_min']} min, p95 {a['delay_p95_min']} min"
        )
    details["rows"] = [{"operation": n, "p50": a, "p95": b} for n, a, b in rows]
    return details


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--ten-million", action="store_true", help="10,000,000 tickets")
    parser.add_argument("--db", default="", help="an existing synthetic year (with --truth)")
    parser.add_argument("--truth", default="", help="its truth folder")
    parser.add_argument("--skip", default="", help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--out", default="", help="also write the results as JSON here")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(SECTIONS)
    if unknown:
        parser.error(f"--skip: unknown {', '.join(sorted(unknown))}")
    if args.db:
        if not args.truth:
            parser.error("--db needs --truth")
        details = run(args.db, Path(args.truth), skip)
    else:
        tickets = 10_000_000 if args.ten_million else args.tickets
        work = Path(tempfile.mkdtemp(prefix="cc-bench-apps-"))
        try:
            config = work / "config"
            shutil.copytree(CONFIG, config)
            keys = work / "keys.toml"
            write_key_file(keys)
            os.environ[FILE_ENV] = str(keys)
            with scratch_database() as url:
                Database(url).upgrade()
                print(f"loading a synthetic year of {tickets:,} tickets ...", flush=True)
                code, took = timed(
                    lambda: main_synth(
                        url, tickets, 2026, date(2026, 1, 1), work / "truth", config, 0.02
                    )
                )
                if code != 0:
                    raise SystemExit("the synthetic load failed")
                print(f"loaded in {took:.0f} s", flush=True)
                details = run(url, work / "truth", skip)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if args.out:
        Path(args.out).write_text(json.dumps(details, ensure_ascii=False, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
