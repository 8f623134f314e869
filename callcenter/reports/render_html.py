"""The report as one self-contained HTML page (zh-CN), charts inline as PNG data URIs."""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from pathlib import Path

from callcenter.reports import charts, kpi
from callcenter.reports.build import Report, format_change, format_value
from callcenter.reports.query import DIMENSIONS
from callcenter.reports.render_xlsx import watermark

STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
h1{color:#c0392b}table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f2dcdb}
.mark{color:#888;font-size:.9em}img{max-width:100%}
"""


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(report: Report, exported_by: str, at: datetime) -> str:
    span = f"{report.period_from:%Y-%m-%d %H:%M} 至 {report.period_to:%Y-%m-%d %H:%M}"
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>{STYLE}</style></head><body>",
        f'<p class="mark">{escape(watermark(exported_by, at))}</p>',
        f"<h1>{escape(report.title)}</h1><p>统计区间：{escape(span)}</p>",
        "<h2>核心指标</h2>",
        _table(
            ["指标", "本期", "上期", "环比", "去年同期", "同比"],
            [
                [
                    line.label,
                    format_value(line.key, line.value),
                    format_value(line.key, line.previous),
                    format_change(line.key, line.change_previous),
                    format_value(line.key, line.last_year),
                    format_change(line.key, line.change_last_year),
                ]
                for line in report.kpis
            ],
        ),
        "<h2>图表</h2>",
    ]
    for caption, draw in charts.charts(report):
        with charts.cjk():
            fig = charts.figure(draw)
        data = base64.b64encode(charts.png(fig)).decode("ascii")
        parts.append(f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">')
        parts.append(f"<figcaption>{escape(caption)}</figcaption></figure>")
    for dim, rows in report.breakdowns.items():
        parts.append(f"<h2>按{escape(DIMENSIONS[dim])}统计</h2>")
        parts.append(
            _table(
                [DIMENSIONS[dim], "受理量", "在办", "办结量", "按时办结率", "满意率", "退单工单"],
                [
                    [
                        r.label,
                        str(r.received),
                        str(r.open),
                        str(r.closed),
                        kpi.format_rate(r.on_time_completion_rate),
                        kpi.format_rate(r.satisfaction_rate),
                        str(r.returned),
                    ]
                    for r in rows
                ],
            )
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report: Report, path: Path, exported_by: str, at: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, exported_by, at), encoding="utf-8")
