"""Report charts with matplotlib (no pyplot state): Chinese text in Noto Sans CJK from Debian's
fonts-noto-cjk; as PNG bytes for HTML and as figures for the PDF."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache, partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager, rc_context  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from callcenter.reports.build import Report  # noqa: E402
from callcenter.reports.query import DIMENSIONS  # noqa: E402

CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
)
TOP = 12  # bars per dimension chart
COLOR = "#c0392b"


@cache
def cjk_family() -> str:
    """Register the CJK font with matplotlib; its family name."""
    for path in CJK_FONTS:
        if path.exists():
            font_manager.fontManager.addfont(str(path))
            return str(font_manager.FontProperties(fname=str(path)).get_name())
    raise FileNotFoundError(
        "no CJK font: install fonts-noto-cjk (" + ", ".join(str(p) for p in CJK_FONTS) + ")"
    )


@contextmanager
def cjk() -> Iterator[None]:
    with rc_context({"font.family": [cjk_family()], "pdf.fonttype": 3, "svg.fonttype": "path"}):
        yield


def draw_series(ax: Axes, report: Report) -> None:
    zone = report.period_from.tzinfo
    xs = [datetime.fromtimestamp(t, zone) for t, _ in report.series]
    ys = [n for _, n in report.series]
    ax.plot(xs, ys, color=COLOR, marker="o", markersize=3)  # type: ignore[arg-type]
    unit = "小时" if report.bucket < 86400 else "日"
    ax.set_title(f"受理量趋势（按{unit}）")
    ax.set_ylabel("工单数")
    ax.grid(alpha=0.3)
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")


def short_labels(labels: list[str], width: int = 14) -> list[str]:
    """Labels cut to `width` characters ("…" marks a cut), except where two cut labels would
    read the same: those stay whole."""
    cut = [t if len(t) <= width else t[: width - 1] + "…" for t in labels]
    repeated = {t for t in cut if cut.count(t) > 1}
    return [whole if c in repeated else c for whole, c in zip(labels, cut, strict=True)]


def draw_breakdown(ax: Axes, report: Report, dim: str) -> None:
    """One bar per row at its own position (the largest on top), labelled by tick: bars
    placed by label text would merge two rows showing the same words (matplotlib's
    categorical axis keeps one slot per distinct string) and the value texts, placed by
    index, would then sit beside the wrong bars."""
    rows = report.breakdowns[dim][:TOP]
    labels = short_labels([r.label for r in rows])[::-1]
    values = [r.received for r in rows][::-1]
    positions = list(range(len(rows)))
    ax.barh(positions, values, color=COLOR)
    ax.set_yticks(positions, labels)
    for i, v in zip(positions, values, strict=True):
        ax.text(v, i, f" {v}", va="center", fontsize=8)
    ax.set_title(f"按{DIMENSIONS[dim]}的受理量（前{TOP}）")
    ax.set_xlabel("工单数")


Draw = Callable[[Axes], None]


def _series(ax: Axes, *, report: Report) -> None:
    draw_series(ax, report)


def _breakdown(ax: Axes, *, report: Report, dim: str) -> None:
    draw_breakdown(ax, report, dim)


def charts(report: Report) -> list[tuple[str, Draw]]:
    """The report's charts: a caption and a function drawing it into given axes."""
    out: list[tuple[str, Draw]] = [("受理量趋势", partial(_series, report=report))]
    for dim, rows in report.breakdowns.items():
        if rows:
            out.append((f"按{DIMENSIONS[dim]}", partial(_breakdown, report=report, dim=dim)))
    return out


def figure(draw: Draw) -> Figure:
    """One chart alone (for the HTML page); create it inside `cjk()`."""
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_axes((0.22, 0.2, 0.74, 0.7))
    draw(ax)
    return fig


def png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    with cjk():
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
