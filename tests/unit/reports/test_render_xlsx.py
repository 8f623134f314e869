"""The report workbook holds figures as numbers with a number format (a rate is the fraction
shown "0.0%"), not as text, and a label from the data never starts a formula."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from callcenter.reports.build import KPI_DEFS, SHANGHAI, BreakdownRow, KpiLine, Report
from callcenter.reports.render_xlsx import write_xlsx

START = datetime(2026, 6, 1, tzinfo=SHANGHAI)
END = datetime(2026, 7, 1, tzinfo=SHANGHAI)

# key -> (value, previous, change_previous)
FIGURES: dict[str, tuple[float | None, float | None, float | None]] = {
    "received": (1234, 1000, 0.234),
    "connection_rate": (0.9512, 0.9, 0.0512),
    "average_wait": (12.25, None, None),
    "satisfaction_rate": (None, 0.8, None),
}


def report() -> Report:
    lines = []
    for key, (label, _) in KPI_DEFS.items():
        value, previous, change = FIGURES.get(key, (None, None, None))
        lines.append(KpiLine(key, label, value, previous, None, change, None))
    rows = [
        BreakdownRow("phone", "电话", 10, 8, 0.875, 2 / 3, 1, 2),
        BreakdownRow("=1+2", "=1+2", 3, 0, None, None, 0, 3),
    ]
    return Report(
        kind="monthly",
        title="12345热线月报",
        period_from=START,
        period_to=END,
        actor="班长",
        generated_at=END,
        kpis=lines,
        breakdowns={"channel": rows},
        series=[],
        bucket=86400.0,
    )


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    write_xlsx(report(), path, "班长", END)
    return path


@pytest.mark.parametrize(
    ("label", "column", "value", "number_format"),
    [
        ("受理量", "B", 1234, "#,##0"),
        ("受理量", "C", 1000, "#,##0"),
        ("受理量", "D", pytest.approx(0.234), "+0.0%;-0.0%;0.0%"),
        ("接通率", "B", pytest.approx(0.9512), "0.0%"),
        ("接通率", "C", pytest.approx(0.9), "0.0%"),
        ("接通率", "D", pytest.approx(5.12), '+0.0" 个百分点";-0.0" 个百分点";0.0" 个百分点"'),
        ("平均等待时长", "B", pytest.approx(12.25), '0.0" 秒"'),
        ("平均等待时长", "C", "—", "General"),
        ("满意率", "B", "—", "General"),
        ("满意率", "C", pytest.approx(0.8), "0.0%"),
    ],
)
def test_summary_figures_are_numbers_with_a_format(
    workbook: Path, label: str, column: str, value: object, number_format: str
) -> None:
    ws = load_workbook(workbook)["指标汇总"]
    row = next(r[0].row for r in ws.iter_rows(min_row=4) if r[0].value == label)
    cell = ws[f"{column}{row}"]
    assert cell.value == value
    assert cell.number_format == number_format


@pytest.mark.parametrize(
    ("row", "column", "value", "number_format"),
    [
        (4, "A", "电话", "General"),
        (4, "B", 10, "#,##0"),
        (4, "E", pytest.approx(0.875), "0.0%"),
        (4, "F", pytest.approx(2 / 3), "0.0%"),
        (5, "A", "'=1+2", "General"),  # text, not a formula
        (5, "E", "—", "General"),
    ],
)
def test_breakdown_rates_are_numbers_and_labels_text(
    workbook: Path, row: int, column: str, value: object, number_format: str
) -> None:
    ws = load_workbook(workbook)["受理渠道"]
    cell = ws[f"{column}{row}"]
    assert cell.value == value
    assert cell.number_format == number_format
    assert cell.data_type != "f"
