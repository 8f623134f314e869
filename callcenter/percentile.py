"""The percentile of a list of figures: nearest rank, the one definition every figure uses.

The wallboard and Prometheus (live figures), the reports' analytics (whose SQL,
`analytics.sql.percentile_query`, picks the same rank with ROW_NUMBER), the alerts'
evaluation and the benches all read a percentile through this function, so a p95 means the
same thing wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank `pct`-th percentile (0..100) of `values`: the smallest value with at
    least pct % of the values at or below it (rank ceil(pct / 100 * n), at least 1); None when
    there are no values. The input is not reordered."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]
