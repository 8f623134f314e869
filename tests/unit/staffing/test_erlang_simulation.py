"""Erlang C and Erlang A against a long seeded simulation of the queue they model: Poisson
arrivals, exponential handle times, FCFS with n agents, and (Erlang A) exponential patience:
a caller whose offered wait exceeds its patience hangs up without taking an agent."""

from __future__ import annotations

import heapq
import random

import pytest

from callcenter.staffing.erlang import erlang_a, erlang_c


def simulate(
    agents: int, rate: float, aht: float, patience: float | None, within: float, calls: int
) -> tuple[float, float, float]:
    """(P(wait), answered within `within` / offered, abandoned / offered)."""
    rng = random.Random(20260302)
    free = [0.0] * agents
    at = 0.0
    waited = soon = gave_up = 0
    for _ in range(calls):
        at += rng.expovariate(rate)
        start = max(at, free[0])
        wait = start - at
        if patience is not None and wait > rng.expovariate(1 / patience):
            gave_up += 1
            waited += 1
            continue
        heapq.heapreplace(free, start + rng.expovariate(1 / aht))
        waited += wait > 0
        soon += wait <= within
    return waited / calls, soon / calls, gave_up / calls


@pytest.mark.parametrize(
    ("agents", "rate", "aht", "within"),
    [(4, 0.36, 8.3, 5.0), (14, 100 / 1800, 180.0, 20.0), (30, 0.5, 50.0, 10.0)],
)
def test_erlang_c_against_simulation(agents: int, rate: float, aht: float, within: float) -> None:
    p_wait, sl, _ = simulate(agents, rate, aht, None, within, 200_000)
    r = erlang_c(agents, rate, aht, within)
    assert p_wait == pytest.approx(r.p_wait, abs=0.015)
    assert sl == pytest.approx(r.service_level, abs=0.015)


@pytest.mark.parametrize(
    ("agents", "rate", "aht", "patience", "within"),
    [
        (12, 100 / 1800, 180.0, 120.0, 20.0),
        (8, 100 / 1800, 180.0, 120.0, 20.0),
        (4, 0.5, 8.0, 6.0, 3.0),
    ],
)
def test_erlang_a_against_simulation(
    agents: int, rate: float, aht: float, patience: float, within: float
) -> None:
    p_wait, sl, abandoned = simulate(agents, rate, aht, patience, within, 200_000)
    r = erlang_a(agents, rate, aht, patience, within)
    assert p_wait == pytest.approx(r.p_wait, abs=0.015)
    assert sl == pytest.approx(r.service_level, abs=0.015)
    assert abandoned == pytest.approx(r.p_abandon, abs=0.01)
