"""The quality report of a run (GB/T 44192 6.4 问题数据可追溯): the six dimension scores,
problems per rule, and every issue open after the run with its record, field, rule and the run
that found it. Rendered as text (terminal), JSON and XLSX (sheets 概览 and 问题明细, each
headed by the export watermark)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from callcenter.data.catalog import export_stamp, export_watermark
from callcenter.data.quality.rules import DIMENSIONS
from callcenter.errors import CallcenterError
from callcenter.storage.database import Database
from callcenter.storage.schema import QualityIssue, QualityRun

OVERVIEW_SHEET = "概览"
ISSUES_SHEET = "问题明细"
ISSUES_HEADER = ("工单", "字段", "规则", "维度", "问题", "值（已脱敏）", "发现于运行", "问题编号")
MODE_LABELS = {"full": "全量", "incremental": "增量"}


class ReportError(CallcenterError, LookupError):
    status = 404
    error_id = "data.quality.report"


@dataclass(frozen=True)
class IssueLine:
    id: int
    record_id: str
    field: str
    rule: str
    dimension: str
    message: str
    value: str  # masked
    run_id: int  # the run that found it first


@dataclass(frozen=True)
class QualityReport:
    run_id: int
    mode: str
    actor: str
    started_at: float
    finished_at: float | None
    from_seq: int
    upto_seq: int
    records: int
    problems: int
    scores: dict[str, float]
    per_rule: dict[str, int]  # problems this run found per rule
    rules: int
    open_issues: int
    issues: tuple[IssueLine, ...]  # open after this run (at most `limit`)


def open_after(run_id: int) -> ColumnElement[bool]:
    """The condition of an issue open after run `run_id`: found by it or before, not closed
    by it or before."""
    return (QualityIssue.run_id <= run_id) & or_(
        QualityIssue.closed_run_id.is_(None), QualityIssue.closed_run_id > run_id
    )


def latest_run(db: Database) -> int | None:
    with db.session() as s:
        return s.scalar(
            select(QualityRun.id)
            .where(QualityRun.finished_at.is_not(None))
            .order_by(QualityRun.id.desc())
            .limit(1)
        )


def report(db: Database, run_id: int, limit: int | None = None) -> QualityReport:
    with db.session() as s:
        r = s.get(QualityRun, run_id)
        if r is None:
            raise ReportError(f"没有编号为 {run_id} 的质量检查运行")
        doc: dict[str, Any] = json.loads(r.scores or "{}")
        condition = open_after(run_id)
        query = (
            select(QualityIssue)
            .where(condition)
            .order_by(QualityIssue.rule, QualityIssue.record_id, QualityIssue.id)
        )
        count_query = select(func.count()).select_from(QualityIssue).where(condition)
        total = int(s.scalar(count_query) or 0) if limit is not None else None
        if limit is not None:
            query = query.limit(limit)
        issues = tuple(
            IssueLine(
                int(i.id), i.record_id, i.field, i.rule, i.dimension, i.message, i.value, i.run_id
            )
            for i in s.scalars(query)
        )
        return QualityReport(
            run_id=r.id,
            mode=r.mode,
            actor=r.actor,
            started_at=r.started_at,
            finished_at=r.finished_at,
            from_seq=int(r.from_seq),
            upto_seq=int(r.upto_seq),
            records=r.records,
            problems=r.problems,
            scores={d: float(doc.get(d, 100.0)) for d in DIMENSIONS},
            per_rule={str(k): int(v) for k, v in dict(doc.get("per_rule", {})).items()},
            rules=int(doc.get("rules", 0)),
            open_issues=total if total is not None else len(issues),
            issues=issues,
        )


def _time(epoch: float | None) -> str:
    if epoch is None:
        return "（未完成）"
    return datetime.fromtimestamp(epoch, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def to_text(rep: QualityReport, max_issues: int = 50) -> str:
    lines = [
        f"数据质量检查 第 {rep.run_id} 次（{MODE_LABELS.get(rep.mode, rep.mode)}）"
        f" 执行人 {rep.actor}",
        f"开始 {_time(rep.started_at)}  完成 {_time(rep.finished_at)}"
        f"  变更序号 {rep.from_seq}–{rep.upto_seq}",
        f"检查记录 {rep.records} 条，发现问题 {rep.problems} 个，规则 {rep.rules} 条，"
        f"未关闭问题 {rep.open_issues} 个",
        "",
        "维度得分：",
    ]
    lines += [f"  {d}  {rep.scores[d]:6.2f}" for d in DIMENSIONS]
    lines += ["", "各规则问题数："]
    lines += [f"  {rule:<32} {n}" for rule, n in sorted(rep.per_rule.items())]
    if rep.issues:
        lines += ["", "问题明细（工单 / 字段 / 规则 / 维度 / 问题 / 值 / 运行）："]
        for i in rep.issues[:max_issues]:
            lines.append(
                f"  {i.record_id} / {i.field} / {i.rule} / {i.dimension} / {i.message}"
                f" / {i.value} / {i.run_id}"
            )
        if len(rep.issues) > max_issues or rep.open_issues > len(rep.issues):
            lines.append(
                f"  ……共 {rep.open_issues} 个，此处列出 {min(max_issues, len(rep.issues))} 个"
            )
    return "\n".join(lines) + "\n"


def to_json(rep: QualityReport, actor: str, at: datetime) -> str:
    """The report as JSON, stamped first with who exported it and when (the XLSX watermark's
    words)."""
    return json.dumps({**export_stamp(actor, at), **asdict(rep)}, ensure_ascii=False, indent=2)


def write_xlsx(rep: QualityReport, path: Path, actor: str, at: datetime) -> None:
    """概览 (run facts, the six dimension scores, problems per rule) and 问题明细; the
    watermark 导出人 X，时间 Y heads each sheet and its printed page header (openpyxl: the
    `reports` extra, imported here)."""
    from openpyxl import Workbook

    watermark = export_watermark(actor, at)
    wb = Workbook()
    overview = wb.active
    assert overview is not None
    overview.title = OVERVIEW_SHEET
    rows: list[tuple[object, ...]] = [
        ("运行编号", rep.run_id),
        ("方式", MODE_LABELS.get(rep.mode, rep.mode)),
        ("执行人", rep.actor),
        ("开始时间", _time(rep.started_at)),
        ("完成时间", _time(rep.finished_at)),
        ("变更序号", f"{rep.from_seq}–{rep.upto_seq}"),
        ("检查记录数", rep.records),
        ("发现问题数", rep.problems),
        ("未关闭问题数", rep.open_issues),
        ("", ""),
        ("维度", "得分"),
        *((d, rep.scores[d]) for d in DIMENSIONS),
        ("", ""),
        ("规则", "问题数"),
        *sorted(rep.per_rule.items()),
    ]
    _sheet(overview, watermark, ("项目", "值"), rows)
    _sheet(
        wb.create_sheet(ISSUES_SHEET),
        watermark,
        ISSUES_HEADER,
        (
            (i.record_id, i.field, i.rule, i.dimension, i.message, i.value, i.run_id, i.id)
            for i in rep.issues
        ),
    )
    wb.properties.title = "热线数据质量报告"
    wb.properties.subject = "GB/T 44192-2024 6.4 数据质量"
    wb.properties.creator = "callcenter"
    wb.properties.description = watermark
    wb.save(path)


def _sheet(
    ws: Any, watermark: str, header: tuple[str, ...], rows: Iterable[tuple[object, ...]]
) -> None:
    from openpyxl.styles import Font

    ws.append([watermark])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.cell(row=1, column=1).font = Font(italic=True, color="808080")
    ws.append(list(header))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([_cell(v) for v in row])
    ws.freeze_panes = "A3"
    ws.oddHeader.center.text = watermark
    ws.evenHeader.center.text = watermark


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula stays text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
