"""Command line of the data applications (GB/T 44192 7): reports, seat planning, quality
inspection of calls, department scorecards, early-warning evaluation. Each command parses
its arguments and calls its module's `main_*`; the database URL resolves as for `serve`."""

from __future__ import annotations

import argparse
import getpass
from datetime import date, datetime, timedelta
from pathlib import Path

from callcenter.config import Config


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(
        "report", help="daily, weekly, monthly or special report; due: what the schedule owes"
    )
    report.add_argument("kind", choices=["daily", "weekly", "monthly", "special", "due"])
    report.add_argument("--date", default="", help="daily/weekly: a day of the period (ISO)")
    report.add_argument("--month", default="", help="monthly: YYYY-MM")
    report.add_argument("--from", dest="start", default="", help="special: first day (ISO)")
    report.add_argument("--to", dest="end", default="", help="special: last day (ISO)")
    report.add_argument("--title", default="")
    report.add_argument(
        "--out", default="", help="folder for the files (default var/reports; due: reports.toml)"
    )
    report.add_argument("--formats", default="xlsx,html,pdf")
    _common(report)

    staffing = sub.add_parser("staffing", help="forecast calls and the agents needed")
    staffing.add_argument("--date", default="", help="first day (default: tomorrow)")
    staffing.add_argument("--days", type=int, default=1)
    staffing.add_argument("--sl", type=float, default=None, help="service level, e.g. 0.8")
    staffing.add_argument("--within", type=float, default=None, help="seconds, e.g. 15")
    staffing.add_argument("--out", default="", help="also write CSV or XLSX here")
    _common(staffing)

    inspect = sub.add_parser("inspect", help="score every transcribed call not yet scored")
    _common(inspect)

    scorecard = sub.add_parser("scorecard", help="department scorecards for a period")
    scorecard.add_argument("--from", dest="start", required=True, help="first day (ISO)")
    scorecard.add_argument("--to", dest="end", required=True, help="last day (ISO)")
    scorecard.add_argument("--out", required=True, help="JSON or XLSX file")
    _common(scorecard)

    kb = sub.add_parser("kb", help="knowledge base: seed, search, gaps, expire")
    kb.add_argument("action", choices=["seed", "search", "gaps", "expire"])
    kb.add_argument("query", nargs="?", default="", help="search: the words")
    kb.add_argument("--file", default="", help="seed: a seed file (default: the shipped one)")
    kb.add_argument("--since", default="", help="gaps: first day (ISO, default 30 days ago)")
    kb.add_argument("--until", default="", help="gaps: last day (ISO)")
    kb.add_argument("--min-count", type=int, default=10)
    kb.add_argument("--threshold", type=float, default=0.3)
    kb.add_argument("--limit", type=int, default=10)
    _common(kb)

    alerts = sub.add_parser("alerts", help="early warning: evaluate on a synthetic year")
    alerts.add_argument("action", choices=["evaluate"])
    alerts.add_argument("--truth", required=True, help="the synthetic year's truth folder")
    _common(alerts)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="", help="SQLAlchemy URL (default: config storage.url)")
    parser.add_argument("--actor", default="", help="who runs it (default: the login name)")


COMMANDS = ("report", "staffing", "inspect", "scorecard", "kb", "alerts")


def run(config: Config, args: argparse.Namespace) -> int:
    from callcenter.data.commands import database_url, migrate

    url = database_url(config, args.db)
    migrate(url)
    actor = str(args.actor) or getpass.getuser()
    if args.command == "report":
        return report_command(config, url, actor, args)
    if args.command == "staffing":
        from callcenter.staffing.plan import main_staffing

        day = date.fromisoformat(args.date) if args.date else date.today() + timedelta(days=1)
        target = (args.sl, args.within) if args.sl is not None and args.within else None
        out = Path(args.out) if args.out else None
        return main_staffing(config.source_dir, url, day, args.days, target, out)
    if args.command == "inspect":
        from callcenter.inspection.worker import main_inspect

        return main_inspect(config.source_dir, url)
    if args.command == "scorecard":
        from callcenter.analytics.scorecard import main_scorecard

        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
        return main_scorecard(config.source_dir, url, start, end, Path(args.out))
    if args.command == "kb":
        from callcenter.knowledge_base.command import main_kb

        return main_kb(
            config.source_dir,
            url,
            args.action,
            args.query,
            date.fromisoformat(args.since) if args.since else None,
            date.fromisoformat(args.until) if args.until else None,
            args.min_count,
            args.threshold,
            args.limit,
            Path(args.file) if args.file else None,
        )
    from callcenter.alerts.evaluate import main_evaluate

    return main_evaluate(url, Path(args.truth), config.source_dir)


def report_command(config: Config, url: str, actor: str, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from callcenter.reports.build import period_for
    from callcenter.reports.run import main_report

    zone = ZoneInfo(config.center.timezone)
    if args.kind == "due":
        from callcenter.reports.jobs import main_due

        return main_due(config.source_dir, url, zone, Path(args.out) if args.out else None)
    if args.kind == "special":
        if not (args.start and args.end):
            print("special: --from and --to are required")
            return 2
        start = datetime.combine(date.fromisoformat(args.start), datetime.min.time(), zone)
        end = datetime.combine(date.fromisoformat(args.end), datetime.min.time(), zone)
        end += timedelta(days=1)
    else:
        if args.kind == "monthly" and args.month:
            day = date.fromisoformat(args.month + "-01")
        elif args.date:
            day = date.fromisoformat(args.date)
        else:
            day = date.today() - timedelta(days=1)
        start, end = period_for(args.kind, day, zone)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    return main_report(
        config.source_dir,
        url,
        args.kind,
        start,
        end,
        Path(args.out or "var/reports"),
        formats,
        actor,
        args.title,
    )
