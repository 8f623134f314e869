"""Command-line entry points of governance (wired as `callcenter data quality ...`): run the
checks, show or export a report, correct a value. Each returns the process exit code and
prints errors as one Chinese line on stderr."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from callcenter.data.crypto import KeyConfigError, load_cipher
from callcenter.data.quality.config import TABLE, load_quality
from callcenter.data.quality.corrections import CorrectionError, correct
from callcenter.data.quality.report import (
    ReportError,
    latest_run,
    report,
    to_json,
    to_text,
    write_xlsx,
)
from callcenter.data.quality.runner import MODES, QualityRunError, run
from callcenter.data.retention import load_retention, retired
from callcenter.storage.database import Database
from callcenter.tickets.errors import TicketNotFound
from callcenter.tomlreader import ConfigError

TEXT_LIMIT = 50


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def main_quality(config_dir: Path, db_url: str, mode: str, actor: str) -> int:
    """Run the checks: mode full, incremental, or auto (incremental once a run has finished,
    else full); prints the report."""
    try:
        config = load_quality(config_dir)
        retention = load_retention(config_dir)
        cipher = load_cipher()
    except (ConfigError, KeyConfigError) as exc:
        return _fail(f"数据质量检查无法开始：{exc}")
    db = Database(db_url)
    try:
        if mode == "auto":
            mode = "incremental" if latest_run(db) is not None else "full"
        if mode not in MODES:
            return _fail(f"检查方式应为 full、incremental 或 auto，而不是 {mode!r}")
        now = datetime.now(UTC)
        out_of_scope = retired(retention, TABLE, now.timestamp())
        result = run(db, config.rules, cipher, mode, actor, now, out_of_scope)
        print(to_text(report(db, result.run_id, limit=TEXT_LIMIT), TEXT_LIMIT), end="")
        return 0
    except QualityRunError as exc:
        return _fail(str(exc))
    finally:
        db.close()


def main_report(db_url: str, run_id: int | None, fmt: str, out: Path | None, actor: str) -> int:
    """Show a run's report (the latest finished run when run_id is None) as text or JSON, or
    write it as XLSX to `out`."""
    db = Database(db_url)
    try:
        chosen = run_id if run_id is not None else latest_run(db)
        if chosen is None:
            return _fail("还没有完成的数据质量检查")
        rep = report(db, chosen, limit=TEXT_LIMIT if fmt == "text" else None)
        if fmt == "text":
            print(to_text(rep, TEXT_LIMIT), end="")
        elif fmt == "json":
            text = to_json(rep, actor, datetime.now().astimezone())
            if out is None:
                print(text)
            else:
                out.write_text(text, encoding="utf-8")
        elif fmt == "xlsx":
            if out is None:
                return _fail("导出 XLSX 需要指定输出文件")
            write_xlsx(rep, out, actor, datetime.now().astimezone())
        else:
            return _fail(f"报告格式应为 text、json 或 xlsx，而不是 {fmt!r}")
        return 0
    except ReportError as exc:
        return _fail(str(exc))
    finally:
        db.close()


def main_correct(
    db_url: str,
    record_id: str,
    field: str,
    value: str,
    reason: str,
    actor: str,
    role: str,
    issue_id: int | None = None,
) -> int:
    """Correct one field of one ticket (audited, appended to its history)."""
    try:
        cipher = load_cipher()
    except KeyConfigError as exc:
        return _fail(f"无法更正：{exc}")
    db = Database(db_url)
    try:
        made = db.transaction(
            lambda s: correct(
                s,
                cipher,
                "tickets",
                record_id,
                field,
                value,
                reason,
                actor,
                role,
                datetime.now(UTC),
                issue_id,
            )
        )
        print(f"已更正工单 {made.record_id} 的 {made.field}：{made.before} → {made.after}")
        return 0
    except (CorrectionError, TicketNotFound) as exc:
        return _fail(f"无法更正：{exc}")
    finally:
        db.close()
