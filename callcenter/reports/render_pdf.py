"""The report as a paginated A4 PDF with matplotlib's PdfPages: a cover with the KPI table and
comparisons, the charts, then one table page per dimension; Chinese text in the embedded Noto
Sans CJK font."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from callcenter.reports import charts, kpi
from callcenter.reports.build import Report, format_change, format_value
from callcenter.reports.query import DIMENSIONS
from callcenter.reports.render_xlsx import watermark

A4 = (8.27, 11.69)
ROWS_PER_PAGE = 40


def _page(title: str, mark: str) -> Figure:
    fig = Figure(figsize=A4)
    fig.text(0.5, 0.96, title, ha="center", fontsize=15, weight="bold")
    fig.text(0.5, 0.02, mark, ha="center", fontsize=8, color="#888888")
    return fig


def _table_page(title: str, mark: str, head: list[str], rows: list[list[str]]) -> Figure:
    fig = _page(title, mark)
    ax = fig.add_axes((0.05, 0.06, 0.9, 0.86))
    ax.axis("off")
    if rows:
        table = ax.table(cellText=rows, colLabels=head, loc="upper center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        table.scale(1, 1.3)
    return fig


def write_pdf(report: Report, path: Path, exported_by: str, at: datetime) -> None:
    mark = watermark(exported_by, at)
    span = f"{report.period_from:%Y-%m-%d %H:%M} 至 {report.period_to:%Y-%m-%d %H:%M}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with charts.cjk(), PdfPages(path) as pdf:
        kpis = [
            [
                line.label,
                format_value(line.key, line.value),
                format_value(line.key, line.previous),
                format_change(line.key, line.change_previous),
                format_value(line.key, line.last_year),
                format_change(line.key, line.change_last_year),
            ]
            for line in report.kpis
        ]
        cover = _table_page(
            report.title, mark, ["指标", "本期", "上期", "环比", "去年同期", "同比"], kpis
        )
        cover.text(0.5, 0.935, f"统计区间：{span}", ha="center", fontsize=10)
        pdf.savefig(cover)
        drawings = charts.charts(report)
        for i in range(0, len(drawings), 2):
            page = _page("图表", mark)
            for j, (_caption, draw) in enumerate(drawings[i : i + 2]):
                draw(page.add_axes((0.25, 0.55 - j * 0.45, 0.68, 0.33)))
            pdf.savefig(page)
        for dim, rows in report.breakdowns.items():
            head = [DIMENSIONS[dim], "受理量", "在办", "办结量", "按时办结率", "满意率", "退单"]
            cells = [
                [
                    r.label[:14],
                    str(r.received),
                    str(r.open),
                    str(r.closed),
                    kpi.format_rate(r.on_time_completion_rate),
                    kpi.format_rate(r.satisfaction_rate),
                    str(r.returned),
                ]
                for r in rows
            ]
            for k in range(0, max(len(cells), 1), ROWS_PER_PAGE):
                title = f"按{DIMENSIONS[dim]}统计" + (
                    f"（续 {k // ROWS_PER_PAGE + 1}）" if k else ""
                )
                pdf.savefig(_table_page(title, mark, head, cells[k : k + ROWS_PER_PAGE]))
        info = pdf.infodict()
        info["Title"] = report.title
        info["Author"] = exported_by
