"""Differential test: the indexed routing core and the linear-scan reference of
`tools/bench_acd.py` take exactly the same decisions on the same simulated load."""

from __future__ import annotations

import pytest

from tools.bench_acd import run_size


@pytest.mark.parametrize(("agents", "calls", "seed"), [(30, 600, 1), (200, 1500, 2), (500, 800, 3)])
def test_same_offers_as_linear_scan(agents: int, calls: int, seed: int) -> None:
    indexed, linear = run_size(agents, calls, seed)
    assert indexed.answered > calls // 2  # the load really exercised routing
    assert indexed.abandoned > 0  # and callers really queued
    assert (indexed.answered, indexed.abandoned) == (linear.answered, linear.abandoned)
    assert indexed.offers_digest == linear.offers_digest
