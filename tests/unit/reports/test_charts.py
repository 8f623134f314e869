"""A breakdown chart draws one bar per row at its own position, labelled with that row's
label, even when a raw value and a dictionary value show the same words (a channel typed
"电话" beside the code "phone", shown 电话) or two long labels cut short agree."""

from __future__ import annotations

from datetime import datetime

import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from callcenter.reports.build import SHANGHAI, BreakdownRow, Report, _label
from callcenter.reports.charts import TOP, draw_breakdown

WHEN = datetime(2026, 6, 1, tzinfo=SHANGHAI)


def report(rows: list[BreakdownRow]) -> Report:
    return Report("monthly", "月报", WHEN, WHEN, "班长", WHEN, [], {"channel": rows}, [], 86400.0)


def row(value: str, label: str, received: int) -> BreakdownRow:
    return BreakdownRow(value, label, received, 0, None, None, 0, 0)


CASES = {
    "raw and dictionary value": [
        row("phone", "电话", 50),
        row("web", "网站", 30),
        row("电话", "电话", 7),
        row("wechat", "微信", 3),
    ],
    "labels equal once cut": [
        row("a", "某某区城市管理综合行政执法局一", 9),
        row("b", "某某区城市管理综合行政执法局二", 8),
        row("c", "水务局", 4),
    ],
    "more rows than bars": [row(f"d{i}", f"单位{i}", 100 - i) for i in range(TOP + 3)],
}


@pytest.mark.parametrize("rows", CASES.values(), ids=CASES.keys())
def test_each_bar_has_its_rows_label_and_value(rows: list[BreakdownRow]) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    draw_breakdown(ax, report(rows), "channel")
    shown = rows[:TOP]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    bars.sort(key=lambda p: -p.get_y())  # top bar first: the largest row
    assert len(bars) == len(ax.patches) == len(shown)
    ticks = ax.get_yticks()
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == len(names) == len(shown)
    label_at = {round(float(t)): name for t, name in zip(ticks, names, strict=True)}
    texts = {round(float(t.get_position()[1])): t.get_text().strip() for t in ax.texts}
    for bar, r in zip(bars, shown, strict=True):
        centre = round(bar.get_y() + bar.get_height() / 2)
        assert bar.get_width() == r.received
        assert label_at[centre].rstrip("…") == r.label[: len(label_at[centre].rstrip("…"))]
        assert texts[centre] == str(r.received)
    cut = [n for n in names if n.endswith("…")]
    assert len(set(cut)) == len(cut)  # no two cut labels read the same


@pytest.mark.parametrize(
    ("dim", "value", "label"),
    [
        ("channel", "phone", "电话"),
        ("channel", "电话", "电话（非代码值）"),
        ("channel", "", "（未填）"),
        ("status", "closed", "已办结"),
        ("status", "finished", "finished（非代码值）"),
        ("topic", "water", "供水"),
        ("topic", "lost", "lost（非代码值）"),
    ],
)
def test_a_value_outside_its_dictionary_is_marked(dim: str, value: str, label: str) -> None:
    labels = {
        "channel": {"phone": "电话"},
        "status": {"closed": "已办结"},
        "topic": {"water": "供水"},
    }
    assert _label(labels, dim, value) == label
