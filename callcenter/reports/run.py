"""Generate a report and its files (XLSX, HTML, PDF) under the reports directory, and the
command line entry `main_report`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from callcenter.reports.build import ALL_DIMENSIONS, Report, build_report, set_files, topic_names
from callcenter.storage.database import Database
from callcenter.storage.schema import ReportRun
from callcenter.tomlreader import ConfigError

FORMATS = ("xlsx", "html", "pdf")
DEFAULT_DIR = Path("var/reports")


def file_name(report: Report, fmt: str) -> str:
    """Relative to the reports directory: <kind>/<id>-<start>-<end>.<fmt>."""
    start = f"{report.period_from:%Y%m%d}"
    end = f"{report.period_to:%Y%m%d}"
    return f"{report.kind}/{report.id or 0}-{start}-{end}.{fmt}"


def write_files(
    report: Report, out_dir: Path, formats: Sequence[str], exported_by: str
) -> list[str]:
    """Write the report in each format; the paths relative to `out_dir`. The writers are
    imported here: their charts need matplotlib, which the engine should not load at start."""
    from callcenter.reports.render_html import write_html
    from callcenter.reports.render_pdf import write_pdf
    from callcenter.reports.render_xlsx import write_xlsx

    at = datetime.now(UTC).astimezone(report.period_from.tzinfo)
    writers = {"xlsx": write_xlsx, "html": write_html, "pdf": write_pdf}
    written: list[str] = []
    for fmt in formats:
        if fmt not in writers:
            raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        name = file_name(report, fmt)
        writers[fmt](report, out_dir / name, exported_by, at)
        written.append(name)
    return written


def generate_report(
    db: Database,
    kind: str,
    period_from: datetime,
    period_to: datetime,
    dims: Sequence[str],
    actor: str,
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    *,
    title: str = "",
    department: str | None = None,
    topics: Mapping[str, str] | None = None,
    run_id: int | None = None,
) -> Report:
    """Build, store (as a new run, or into the requested run `run_id`) and write a report;
    a failure while writing marks the run failed."""
    report = build_report(
        db,
        kind,
        period_from,
        period_to,
        dims,
        actor,
        title=title,
        department=department,
        topics=topics,
        run_id=run_id,
    )
    assert report.id is not None
    try:
        report.files = write_files(report, out_dir, formats, actor)
    except Exception as exc:
        with db.session() as s:
            row = s.get(ReportRun, report.id)
            if row is not None:
                row.state = "failed"
                row.error = f"{type(exc).__name__}: {exc}"
                row.finished_at = time.time()
                s.commit()
        raise
    set_files(db, report.id, report.files)
    return report


def main_report(
    config_dir: Path,
    db_url: str,
    kind: str,
    period_from: datetime,
    period_to: datetime,
    out_dir: Path,
    formats: Sequence[str],
    actor: str,
    title: str = "",
) -> int:
    """`callcenter report daily|weekly|monthly|special`: generate, print where the files are.
    Problem classifications are named from config_dir/knowledge.toml."""
    try:
        topics = topic_names(config_dir)
    except ConfigError as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    db = Database(db_url)
    try:
        report = generate_report(
            db,
            kind,
            period_from,
            period_to,
            ALL_DIMENSIONS,
            actor,
            out_dir,
            formats,
            title=title,
            topics=topics,
        )
    except ValueError as exc:
        print(f"参数错误：{exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(f"已生成《{report.title}》（编号 {report.id}）：")
    for name in report.files:
        print(f"  {out_dir / name}")
    headline = {line.label: line.value for line in report.kpis[:4]}
    print(json.dumps(headline, ensure_ascii=False))
    return 0
