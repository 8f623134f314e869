"""Erlang B/C/A against published worked examples and tables, and Erlang A against an
independent numerical solution of its birth-death chain (truncated far out) plus the
tagged caller's waiting process solved by a matrix exponential."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

from callcenter.staffing.erlang import (
    Target,
    agents_erlang_a,
    agents_erlang_c,
    erlang_a,
    erlang_b,
    erlang_c,
    log_lower_gamma_p,
)


# Erlang B tables (e.g. the traffic tables printed in every teletraffic handbook): the load
# that `lines` carry at 1 % blocking.
@pytest.mark.parametrize(
    ("lines", "load"),
    [(1, 0.0101), (5, 1.361), (10, 4.461), (20, 12.03), (50, 37.90), (100, 84.06)],
)
def test_erlang_b_matches_the_one_percent_table(lines: int, load: float) -> None:
    assert erlang_b(lines, load) == pytest.approx(0.01, rel=0.01)


@pytest.mark.parametrize(
    ("lines", "load", "blocking"),
    [
        (0, 3.0, 1.0),
        (1, 1.0, 0.5),
        (2, 1.0, 0.2),
        (5, 2.0, 4 / 15 / (1 + 2 + 2 + 4 / 3 + 2 / 3 + 4 / 15)),
    ],
)
def test_erlang_b_by_hand(lines: int, load: float, blocking: float) -> None:
    assert erlang_b(lines, load) == pytest.approx(blocking, rel=1e-12)


# The classic worked example (callcentrehelper.com "Erlang C formula - made simple", also in
# most workforce-management primers): 100 calls in 30 minutes, 180 s handle time, so 10
# erlangs; target 80 % answered within 20 s. P(wait) and service level per agent count:
# 11 agents 0.6821 / 39 %, 12: 0.4494 / 64 %, 13: 0.2853 / 79.6 %, 14: 0.1741 / 88.8 %.
@pytest.mark.parametrize(
    ("agents", "p_wait", "sl"),
    [(11, 0.6821, 0.3896), (12, 0.4494, 0.6402), (13, 0.2853, 0.7956), (14, 0.1741, 0.8884)],
)
def test_erlang_c_worked_example(agents: int, p_wait: float, sl: float) -> None:
    r = erlang_c(agents, 100 / 1800, 180, 20)
    assert r.p_wait == pytest.approx(p_wait, abs=5e-5)
    assert r.service_level == pytest.approx(sl, abs=5e-4)
    assert r.occupancy == pytest.approx(10 / agents)
    assert r.asa == pytest.approx(r.p_wait * 180 / (agents - 10))


def test_erlang_c_worked_example_needs_14_agents() -> None:
    assert agents_erlang_c(100 / 1800, 180, Target(0.8, 20)).agents == 14
    # the same load with an ASA cap of 5 s needs 15 (ASA at 14 agents is 7.8 s)
    assert agents_erlang_c(100 / 1800, 180, Target(0.8, 20, max_asa=5)).agents == 15
    # and a 70 % occupancy cap needs ceil(10 / 0.7) = 15
    assert agents_erlang_c(100 / 1800, 180, Target(0.8, 20, max_occupancy=0.7)).agents == 15


@pytest.mark.parametrize(("agents", "load"), [(500, 480.0), (1000, 950.0), (3000, 2990.0)])
def test_erlang_c_is_stable_for_large_centers(agents: int, load: float) -> None:
    r = erlang_c(agents, load / 300, 300, 20)
    assert 0 < r.p_wait < 1 and 0 < r.service_level < 1 and math.isfinite(r.asa)
    # the recursion agrees with the textbook sum evaluated in log space
    logs = [k * math.log(load) - math.lgamma(k + 1) for k in range(agents)]
    top = agents * math.log(load) - math.lgamma(agents + 1) + math.log(agents / (agents - load))
    peak = max(*logs, top)
    below = sum(math.exp(v - peak) for v in logs)
    assert r.p_wait == pytest.approx(math.exp(top - peak) / (below + math.exp(top - peak)))


def test_overloaded_erlang_c_never_answers_in_time() -> None:
    r = erlang_c(9, 100 / 1800, 180, 20)
    assert (r.p_wait, r.service_level, r.asa) == (1.0, 0.0, math.inf)


def chain(agents: int, calls: float, aht: float, patience: float, t: float) -> dict[str, float]:
    """Erlang A solved numerically: stationary law of the birth-death chain truncated far
    beyond any likely queue, then, by PASTA, the arriving caller's wait from a small CTMC
    (callers ahead; served; abandoned) with matrix exponentials."""
    mu, theta = 1 / aht, 1 / patience
    depth = int(calls / theta + 12 * math.sqrt(calls / theta + 1) + 60)
    size = agents + depth + 1
    logs = np.zeros(size)
    for k in range(1, size):
        death = min(k, agents) * mu + max(0, k - agents) * theta
        logs[k] = logs[k - 1] + math.log(calls / death)
    pi = np.exp(logs - logs.max())
    pi /= pi.sum()
    queued = np.arange(size) - agents
    p_wait = float(pi[agents:].sum())
    p_ab = float(theta * (pi[agents:] * queued[agents:]).sum() / calls)
    # states 0..depth: callers ahead of the tagged one; depth+1 served, depth+2 abandoned
    m = depth + 3
    q = np.zeros((m, m))
    for i in range(depth + 1):
        ahead_gone = agents * mu + i * theta
        q[i, i - 1 if i > 0 else depth + 1] += ahead_gone
        q[i, depth + 2] += theta
        q[i, i] = -(ahead_gone + theta)
    start = np.zeros(m)
    start[: depth + 1] = pi[agents : agents + depth + 1]
    start[depth + 1] = pi[:agents].sum()
    at_t = start @ expm(q * t)
    served_by_t = float(at_t[depth + 1])
    served = 1 - p_ab
    # mean wait of the answered: ∫ P(still waiting, will be served) dt, from the
    # fundamental matrix: E[time in queue; served] = start · (-Q_T)^-1 · diag · r
    qt = q[: depth + 1, : depth + 1]
    r_served = q[: depth + 1, depth + 1]
    g = np.linalg.solve(-qt, np.eye(depth + 1))
    absorb = g @ r_served  # P(served | start state)
    wait_served = float(start[: depth + 1] @ g @ absorb)
    return {
        "p_wait": p_wait,
        "p_abandon": p_ab,
        "service_level": served_by_t,
        "sl_served": served_by_t / served,
        "asa": wait_served / served,
        "occupancy": float((pi * np.minimum(np.arange(size), agents)).sum() / agents),
    }


CASES = [
    # agents, calls per second, AHT, mean patience, target seconds
    (12, 100 / 1800, 180, 120, 20),
    (8, 100 / 1800, 180, 120, 20),  # understaffed: many give up
    (3, 1 / 60, 120, 30, 10),
    (50, 45 / 240, 240, 300, 30),
    (40, 45 / 240, 240, 60, 15),  # overloaded, impatient
    (120, 100 / 200, 200, 600, 20),
    (30, 20 / 300, 300, 5000, 20),  # very patient: close to Erlang C
]


@pytest.mark.parametrize(("agents", "calls", "aht", "patience", "within"), CASES)
def test_erlang_a_matches_the_birth_death_chain(
    agents: int, calls: float, aht: float, patience: float, within: float
) -> None:
    formula = erlang_a(agents, calls, aht, patience, within)
    numeric = chain(agents, calls, aht, patience, within)
    for name, value in numeric.items():
        assert getattr(formula, name) == pytest.approx(value, rel=1e-6, abs=1e-9), name
    assert formula.mean_wait == pytest.approx(formula.p_abandon * patience)


def test_erlang_a_tends_to_erlang_c_with_endless_patience() -> None:
    a = erlang_a(14, 100 / 1800, 180, 1e9, 20)
    c = erlang_c(14, 100 / 1800, 180, 20)
    assert a.p_abandon < 1e-6
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-5)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-5)
    assert a.asa == pytest.approx(c.p_wait * 180 / 4, rel=1e-4)  # all answered: ASA of all


def test_erlang_a_needs_fewer_agents_than_erlang_c() -> None:
    target = Target(0.8, 20)
    a = agents_erlang_a(100 / 1800, 180, 120, target)
    assert a.agents == 12  # 11 agents give 76 % of offered calls within 20 s
    assert erlang_a(11, 100 / 1800, 180, 120, 20).service_level < 0.8 <= a.service_level
    capped = agents_erlang_a(100 / 1800, 180, 120, Target(0.8, 20, max_abandon=0.02))
    assert capped.agents > a.agents and capped.p_abandon <= 0.02


@pytest.mark.parametrize(("agents", "load", "patience"), [(400, 380.0, 180), (2000, 1500.0, 60)])
def test_erlang_a_is_stable_for_large_centers(agents: int, load: float, patience: float) -> None:
    r = erlang_a(agents, load / 240, 240, patience, 20)
    for v in (r.p_wait, r.p_abandon, r.service_level, r.asa, r.occupancy):
        assert math.isfinite(v) and v >= 0
    needed = agents_erlang_a(380 / 240, 240, 180, Target(0.9, 20))
    assert 300 < needed.agents < 420 and needed.service_level >= 0.9


@pytest.mark.parametrize(
    ("a", "x"), [(5.0, 1.0), (300.0, 10.0), (2000.0, 50.0), (50.0, 80.0), (1e4, 1e4)]
)
def test_log_lower_gamma_p(a: float, x: float) -> None:
    # independent: log of the series Σ e^-x x^(a+k) / Γ(a+k+1), summed in log space
    terms = [(a + k) * math.log(x) - x - math.lgamma(a + k + 1) for k in range(40000)]
    peak = max(terms)
    expected = peak + math.log(sum(math.exp(t - peak) for t in terms))
    assert log_lower_gamma_p(a, x) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    ("calls", "aht"), [(-1.0, 180.0), (1.0, 0.0), (math.inf, 180.0), (1.0, math.nan)]
)
def test_bad_inputs_are_refused(calls: float, aht: float) -> None:
    with pytest.raises(ValueError):
        erlang_c(10, calls, aht, 20)
    with pytest.raises(ValueError):
        erlang_a(10, calls, aht, 60, 20)
