"""The report as a workbook: a summary sheet of KPIs with comparisons, one sheet per dimension;
every sheet starts with the export watermark row "导出人 X，时间 Y"."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from callcenter.reports import kpi
from callcenter.reports.build import Report, format_change, format_value
from callcenter.reports.query import DIMENSIONS

HEADER = PatternFill("solid", fgColor="F2DCDB")


def watermark(actor: str, at: datetime) -> str:
    return f"导出人 {actor}，时间 {at.strftime('%Y-%m-%d %H:%M:%S')}"


def _head(ws: Worksheet, mark: str, title: str, columns: list[str]) -> None:
    ws.append([mark])
    ws["A1"].font = Font(color="888888", italic=True)
    ws.append([title])
    ws["A2"].font = Font(bold=True, size=13)
    ws.append(columns)
    for cell in ws[3]:
        cell.font = Font(bold=True)
        cell.fill = HEADER
    for i, width in enumerate([22] + [16] * (len(columns) - 1)):
        ws.column_dimensions[chr(ord("A") + i)].width = width


def write_xlsx(report: Report, path: Path, exported_by: str, at: datetime) -> None:
    mark = watermark(exported_by, at)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "指标汇总"
    span = f"{report.period_from:%Y-%m-%d %H:%M} 至 {report.period_to:%Y-%m-%d %H:%M}"
    _head(ws, mark, f"{report.title}（{span}）", [
        "指标", "本期", "上期", "环比", "去年同期", "同比",
    ])  # fmt: skip
    for line in report.kpis:
        ws.append(
            [
                line.label,
                format_value(line.key, line.value),
                format_value(line.key, line.previous),
                format_change(line.key, line.change_previous),
                format_value(line.key, line.last_year),
                format_change(line.key, line.change_last_year),
            ]
        )
    for dim, rows in report.breakdowns.items():
        sheet = wb.create_sheet(DIMENSIONS[dim])
        _head(sheet, mark, f"按{DIMENSIONS[dim]}", [
            DIMENSIONS[dim], "受理量", "在办", "办结量", "按时办结率", "满意率", "退单工单",
        ])  # fmt: skip
        for r in rows:
            sheet.append(
                [
                    r.label,
                    r.received,
                    r.open,
                    r.closed,
                    kpi.format_rate(r.on_time_completion_rate),
                    kpi.format_rate(r.satisfaction_rate),
                    r.returned,
                ]
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
