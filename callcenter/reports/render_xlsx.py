"""The report as a workbook: a summary sheet of KPIs with comparisons, one sheet per dimension;
every sheet starts with the export watermark row "导出人 X，时间 Y".

Figures are numbers, not text, so a spreadsheet sums and sorts them: a rate is the fraction
with the number format "0.0%", a count an integer, seconds a number shown "0.0 秒"; a change of
a rate is in percentage points (the difference × 100, shown "+1.2 个百分点"), of a count or a
time relative ("+3.4%"). A missing figure (a division by zero) is the text "—". Labels taken
from the data (a raw channel, a department name) never start a formula."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from callcenter.reports import kpi
from callcenter.reports.build import KPI_DEFS, Report
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


RATE_FORMAT = "0.0%"
COUNT_FORMAT = "#,##0"
SECONDS_FORMAT = '0.0" 秒"'
POINTS_FORMAT = '+0.0" 个百分点";-0.0" 个百分点";0.0" 个百分点"'
CHANGE_FORMAT = "+0.0%;-0.0%;0.0%"


def _figure(value: float | None, number_format: str, scale: float = 1.0) -> tuple[object, str]:
    """A cell's value and number format: the number, or "—" (as text) when there is none."""
    if value is None:
        return kpi.DASH, "General"
    return value * scale, number_format


def _value_format(key: str, value: float | None) -> tuple[object, str]:
    kind = KPI_DEFS[key][1]
    if kind == "rate":
        return _figure(value, RATE_FORMAT)
    if kind == "seconds":
        return _figure(value, SECONDS_FORMAT)
    if value is not None and float(value).is_integer():
        return _figure(int(value), COUNT_FORMAT)
    return _figure(value, "#,##0.00")


def _change_format(key: str, change: float | None) -> tuple[object, str]:
    if KPI_DEFS[key][1] == "rate":
        return _figure(change, POINTS_FORMAT, 100.0)
    return _figure(change, CHANGE_FORMAT)


def _text(value: str) -> str:
    """Text a spreadsheet would run as a formula stays text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _append(ws: Worksheet, cells: list[tuple[object, str]]) -> None:
    ws.append([value for value, _ in cells])
    for cell, (_, number_format) in zip(ws[ws.max_row], cells, strict=True):
        cell.number_format = number_format


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
        _append(
            ws,
            [
                (line.label, "General"),
                _value_format(line.key, line.value),
                _value_format(line.key, line.previous),
                _change_format(line.key, line.change_previous),
                _value_format(line.key, line.last_year),
                _change_format(line.key, line.change_last_year),
            ],
        )
    for dim, rows in report.breakdowns.items():
        sheet = wb.create_sheet(DIMENSIONS[dim])
        _head(sheet, mark, f"按{DIMENSIONS[dim]}", [
            DIMENSIONS[dim], "受理量", "在办", "办结量", "按时办结率", "满意率", "退单工单",
        ])  # fmt: skip
        for r in rows:
            _append(
                sheet,
                [
                    (_text(r.label), "General"),
                    (r.received, COUNT_FORMAT),
                    (r.open, COUNT_FORMAT),
                    (r.closed, COUNT_FORMAT),
                    _figure(r.on_time_completion_rate, RATE_FORMAT),
                    _figure(r.satisfaction_rate, RATE_FORMAT),
                    (r.returned, COUNT_FORMAT),
                ],
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
