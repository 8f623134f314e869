"""`callcenter data ...`: the data office's commands (catalogue, synthetic year, governance,
fusion, imports, export feeds, retention, key rotation). Each command is a thin shell over a
function of its module; this file only parses arguments and resolves the database URL."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from callcenter.config import Config


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = sub.add_parser("data", help="hotline data: catalogue, governance, fusion, exports")
    data.add_argument("--db", default="", help="SQLAlchemy URL (default: config storage.url)")
    data.add_argument("--actor", default="", help="who runs it (default: the login name)")
    actions = data.add_subparsers(dest="data_command", required=True)

    catalog = actions.add_parser("catalog", help="print the data resource catalogue")
    catalog.add_argument("--json", default="", help="also write it as JSON to this file")
    catalog.add_argument("--xlsx", default="", help="also write it as XLSX to this file")

    feed = actions.add_parser("feed", help="run an export feed of config/exports.toml")
    feed.add_argument("name")
    feed.add_argument("--once", action="store_true", help="deliver what is there, then stop")

    retention = actions.add_parser("retention", help="apply config/retention.toml")
    retention.add_argument("--dry-run", action="store_true", help="count, change nothing")

    quality = actions.add_parser("quality", help="data quality: run the rules, show a report")
    quality.add_argument("action", choices=["run", "report"])
    quality.add_argument(
        "--mode", default="auto", choices=["auto", "full", "incremental"], help="run: which"
    )
    quality.add_argument("--run", type=int, default=None, help="report: run id (default last)")
    quality.add_argument("--format", default="text", choices=["text", "json", "xlsx"])
    quality.add_argument("--out", default="", help="report: write to this file")

    correct = actions.add_parser("correct", help="correct one field of a ticket (audited)")
    correct.add_argument("ticket", help="ticket id")
    correct.add_argument("field")
    correct.add_argument("value")
    correct.add_argument("--reason", required=True)
    correct.add_argument("--issue", type=int, default=None, help="the quality issue it fixes")

    rotate = actions.add_parser(
        "rotate-keys", help="re-encrypt personal data under the current key"
    )
    rotate.add_argument(
        "--index", action="store_true", help="also rebuild the blind index under the index key"
    )

    synth = actions.add_parser("synth", help="load a synthetic year (tests, benchmarks)")
    synth.add_argument("--tickets", type=int, default=10_000)
    synth.add_argument("--seed", type=int, default=12345)
    synth.add_argument("--start", default="2026-01-01", help="first day (ISO date)")
    synth.add_argument("--truth", default="var/synthetic", help="folder for the ground truth")
    synth.add_argument("--defect-rate", type=float, default=0.02)

    imp = actions.add_parser("import", help="import reference data from CSV or XLSX")
    imp.add_argument("dataset", help="departments, holidays, enterprises, grids")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="check and report, import nothing")
    imp.add_argument("--mode", default="upsert", choices=["upsert", "replace"])

    actions.add_parser("fuse", help="rebuild citizen/enterprise profiles and topic libraries")


def database_url(config: Config, db_url: str) -> str:
    from callcenter.paths import REPO
    from callcenter.service import ServiceOptions, storage_url

    return storage_url(config, ServiceOptions(db_url=db_url, workdir=REPO))


def actor_of(args: argparse.Namespace) -> str:
    return str(args.actor) or getpass.getuser()


def run(config: Config, args: argparse.Namespace) -> int:
    url = database_url(config, args.db)
    if args.data_command == "catalog":
        return catalog_command(config, url, actor_of(args), args.json, args.xlsx)
    if args.data_command == "feed":
        from callcenter.data.feeds import main_feed

        return main_feed(config.source_dir, url, args.name, args.once)
    if args.data_command == "retention":
        from callcenter.data.retention import main_retention
        from callcenter.paths import REPO

        attachments = REPO / "var" / "attachments"  # where the service keeps them
        return main_retention(
            config.source_dir, url, args.dry_run, actor_of(args), None, attachments
        )
    if args.data_command in ("quality", "correct"):
        return quality_command(config, url, actor_of(args), args)
    if args.data_command == "rotate-keys":
        from callcenter.data.rotation import main_rotate

        return main_rotate(url, args.index)
    if args.data_command == "synth":
        from callcenter.synthetic.command import main_synth

        return main_synth(
            url,
            args.tickets,
            args.seed,
            date.fromisoformat(args.start),
            Path(args.truth),
            config.source_dir,
            args.defect_rate,
        )
    if args.data_command == "import":
        from callcenter.data.imports import main_import

        migrate(url)
        return main_import(
            config.source_dir,
            url,
            args.dataset,
            Path(args.file),
            args.dry_run,
            actor_of(args),
            args.mode,
        )
    if args.data_command == "fuse":
        from callcenter.data.fusion.build import main_fuse

        migrate(url)
        return main_fuse(config.source_dir, url)
    print(f"callcenter data: unknown command {args.data_command}", file=sys.stderr)
    return 2


def catalog_command(config: Config, url: str, actor: str, json_out: str, xlsx_out: str) -> int:
    from callcenter.data.catalog import (
        build_catalog,
        export_watermark,
        to_json,
        to_text,
        write_xlsx,
    )
    from callcenter.storage.database import Database

    database = Database(url)
    try:
        database.upgrade()
        catalog = build_catalog(
            database.engine, config.source_dir / "catalog.toml", config.source_dir
        )
    finally:
        database.close()
    print(to_text(catalog))
    if json_out:
        Path(json_out).write_text(to_json(catalog, actor, datetime.now(UTC)), encoding="utf-8")
        print(f"wrote {json_out}")
    if xlsx_out:
        write_xlsx(catalog, Path(xlsx_out), export_watermark(actor, datetime.now(UTC)))
        print(f"wrote {xlsx_out}")
    if json_out or xlsx_out:
        exported(url, actor, "catalog", f"catalogue to {json_out or ''} {xlsx_out or ''}".strip())
    return 0


def quality_command(config: Config, url: str, actor: str, args: argparse.Namespace) -> int:
    from callcenter.data.quality.commands import main_correct, main_quality, main_report

    migrate(url)
    if args.data_command == "correct":
        return main_correct(
            url, args.ticket, args.field, args.value, args.reason, actor, "admin", args.issue
        )
    if args.action == "run":
        return main_quality(config.source_dir, url, args.mode, actor)
    out = Path(args.out) if args.out else None
    done = main_report(url, args.run, args.format, out, actor)
    if done == 0 and (out is not None or args.format == "json"):  # a JSON report printed
        target = out or "stdout"  # leaves the store as much as one written to a file
        exported(url, actor, "quality_issues", f"quality report {args.run or 'latest'} to {target}")
    return done


def exported(url: str, actor: str, dataset: str, purpose: str) -> None:
    """An export leaves the store: on record in the data access log."""
    from callcenter.data.audit import record_access
    from callcenter.storage.database import Database

    database = Database(url)
    try:
        database.transaction(
            lambda s: record_access(s, actor, "admin", "export", dataset, purpose=purpose)
        )
    finally:
        database.close()


def migrate(url: str) -> None:
    from callcenter.storage.database import Database

    database = Database(url)
    try:
        database.upgrade()
    finally:
        database.close()
