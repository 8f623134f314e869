"""The day replay (callcenter.staffing.replay) drives the real routing core on a simulated
clock: its service level matches Erlang for Erlang's own queue, and no caller is lost,
offered twice or served out of order."""

from __future__ import annotations

import dataclasses
import statistics

from acd.engine import Acd, _Agent, _Caller
from callcenter.staffing.erlang import erlang_a, erlang_c
from callcenter.staffing.replay import Scenario, fixed_plan, replay

RATE = 16.0 / 180.0  # 16 erlangs offered to 20 agents (occupancy 0.8)
AGENTS = 20

# One skill, 20 agents, talk exponential with mean 180 s, the agent answers at once and has no
# wrap-up: exactly Erlang's M/M/n. Five half hours at a flat rate: the first is a warm-up (the
# day starts with nobody waiting), the next four are measured (2 hours, about 670 calls).
MM_N = Scenario(
    "mm20",
    calls=round(RATE * 86400),
    agents=AGENTS,
    skills=1,
    profile=(1.0,) * 24,
    slots=5,
    talk_mean=180.0,
    ring=0.0,
    wrapup=0.0,
    patience=None,
    secondary=0,
)


def measured(scenario: Scenario, runs: int) -> tuple[list[float], list[float]]:
    """Service level and abandoned share of the 2 measured hours, one value per seeded run."""
    sls, abandoned = [], []
    for seed in range(runs):
        s = dataclasses.replace(scenario, seed=seed)
        r = replay(s, plan=fixed_plan(s, [AGENTS]))
        assert r.lost == r.offered_twice == r.connected_twice == 0
        offered = sum(f.offered for f in r.slots[1:])
        sls.append(sum(f.within for f in r.slots[1:]) / offered)
        abandoned.append(sum(f.abandoned for f in r.slots[1:]) / offered)
    return sls, abandoned


def test_service_level_matches_erlang_c() -> None:
    """Two hours of one queue vary a lot: waits are strongly correlated, so the standard
    deviation of one run's service level was 0.112 over 200 seeds (a binomial count of 670
    independent calls would give 0.015). 40 runs make the standard error of their mean
    0.112 / sqrt(40) = 0.018; the tolerance is 4 of those (0.07). One agent fewer than the
    plan says (19) would bring Erlang C down to 0.709, more than 0.1 away: a core that left an
    agent idle with callers waiting fails this test."""
    predicted = erlang_c(AGENTS, RATE, 180.0, 15.0).service_level  # 0.817
    sls, _ = measured(MM_N, 40)
    assert abs(statistics.mean(sls) - predicted) < 0.07, (statistics.mean(sls), predicted)
    assert erlang_c(AGENTS - 1, RATE, 180.0, 15.0).service_level < predicted - 0.1


def test_service_level_and_abandonment_match_erlang_a() -> None:
    """Callers with exponential patience (mean 120 s): the standard deviation of one run was
    0.046 for the service level and 0.014 for the abandoned share (100 seeds); 20 runs, 4
    standard errors of their mean: 0.042 and 0.013."""
    s = dataclasses.replace(MM_N, patience=120.0)
    predicted = erlang_a(AGENTS, RATE, 180.0, 120.0, 15.0)  # SL 0.900, abandoned 0.028
    sls, abandoned = measured(s, 20)
    assert abs(statistics.mean(sls) - predicted.service_level) < 0.042
    assert abs(statistics.mean(abandoned) - predicted.p_abandon) < 0.013


MULTI = Scenario(
    "multi",
    calls=12_000,
    agents=150,
    skills=4,
    slots=48,
    secondary=2,
    priority_share=0.1,
    seed=5,
)


def test_every_caller_answered_or_abandoned_once_in_order() -> None:
    """A day of four skills, multi-skilled agents, 10 % priority callers and shift changes:
    every caller ends answered or abandoned exactly once, none is offered while already
    ringing or connected, and every offer went to the best waiting caller of the agent's
    skills (priority, then arrival)."""
    r = replay(MULTI, audit=True)
    assert r.calls > 10_000
    assert r.answered + r.abandoned == r.calls
    assert r.abandoned > 0  # the patience really ran out for some callers
    assert r.lost == 0
    assert r.offered_twice == 0
    assert r.connected_twice == 0
    assert r.order_violations == 0


class NewestFirst(Acd):
    """A broken core: a freed agent takes the newest caller of its skills."""

    def _best_caller_for(self, a: _Agent) -> _Caller | None:
        newest = None
        for skill in a.spec.skills:
            waiting = self._waiting.get(skill)
            if waiting and (newest is None or waiting[-1] > newest):
                newest = waiting[-1]
        return None if newest is None else self._callers[newest[3]]


def test_the_order_audit_catches_a_core_serving_newest_first() -> None:
    s = dataclasses.replace(MULTI, calls=3_000, agents=40, slots=24)
    r = replay(s, audit=True, engine=NewestFirst)
    assert r.order_violations > 0
