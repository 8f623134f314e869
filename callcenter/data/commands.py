"""`callcenter data ...`: the data office's commands (catalogue, synthetic year, governance,
fusion, imports, export feeds, retention, key rotation). Each command is a thin shell over a
function of its module; this file only parses arguments and resolves the database URL."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
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


def database_url(config: Config, db_url: str) -> str:
    from callcenter.dialplan import REPO
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

        return main_retention(config.source_dir, url, args.dry_run, actor_of(args), None)
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
        Path(json_out).write_text(to_json(catalog), encoding="utf-8")
        print(f"wrote {json_out}")
    if xlsx_out:
        write_xlsx(catalog, Path(xlsx_out), export_watermark(actor, datetime.now(UTC)))
        print(f"wrote {xlsx_out}")
    return 0
