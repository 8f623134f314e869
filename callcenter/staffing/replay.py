"""A day replayed through the routing core (`acd.Acd`) on a simulated clock, against what
Erlang C and Erlang A predict for the same staffing.

The model, kept simple so every difference from Erlang can be named:
- Calls per half hour follow the synthetic year's working-day arrival profile (24 hourly
  weights, uniform within the hour, as `callcenter.synthetic.year` draws them); arrivals are
  Poisson. Each call asks for one skill; skill popularity is Zipf-like (weight 1/rank^zipf).
- Talk times are exponential with the synthetic year's mean talk (its lognormal(5.2, 0.45),
  about 200.6 s), or that lognormal itself (`handle="lognormal"`). After a call the agent
  wraps up (the core's wrap-up timer); an offer rings `ring` seconds before the agent answers.
  The agent is busy for ring + talk + wrap-up: that is Erlang's handle time, and a caller is
  answered within T when its queue wait is within T - ring.
- Callers' patience is exponential (Erlang A's M); a caller hangs up when it runs out before
  the answer (also while an agent's phone rings: Erlang A stops the clock at the offer).
- Staffing: for every half hour and skill, the fewest agents meeting the target by Erlang A
  (Erlang C when callers are patient), from the half hour's rate. Each agent has one primary
  skill (proficiency 5) and `secondary` others drawn by popularity (proficiency 2). A skill's
  agents log in and out at half-hour boundaries to match the plan (an agent on a call finishes
  it first). With secondaries the groups pool (a free agent takes the oldest caller of any of
  its skills): the replay then beats the per-skill prediction, which ignores the pooling.

The replay checks as it goes that no caller is lost, offered twice or connected twice; with
`audit` it also checks every offer against the waiting callers (no caller of the agent's
skills with a higher priority or, at the same priority, an earlier arrival was waiting).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acd import commands as cmd
from acd import events as ev
from acd.engine import Acd
from acd.model import AgentSpec, QueuePolicy
from callcenter.staffing.erlang import Target, agents_erlang_a, agents_erlang_c, erlang_a, erlang_c
from callcenter.synthetic.vocab import HOURS_WORKDAY

SLOT = 1800.0  # a half hour
# the synthetic year's talk time: lognormal(5.2, 0.45) seconds, capped at 30 minutes
TALK_MU, TALK_SIGMA, TALK_CAP = 5.2, 0.45, 1800.0
TALK_MEAN = math.exp(TALK_MU + TALK_SIGMA**2 / 2)
PRIMARY_PROFICIENCY = 5

# what happens next on the simulated clock (the heap orders by time, then by push order)
_HANGUP, _ANSWER, _END, _TIMER, _ROSTER = range(5)


@dataclass(frozen=True)
class Scenario:
    name: str
    calls: int  # expected calls in the day (Poisson: the replay draws its own count)
    agents: int  # headcount: the plan must fit it at every half hour
    skills: int
    seed: int = 1
    profile: tuple[float, ...] = HOURS_WORKDAY  # hourly weights, midnight first
    slots: int = 48  # half hours replayed from midnight
    talk_mean: float = TALK_MEAN
    handle: str = "exponential"  # or "lognormal" (the synthetic year's own shape)
    wrapup: float = 15.0
    ring: float = 1.0
    patience: float | None = 120.0  # None: callers wait as long as it takes (Erlang C)
    target: Target = Target(service_level=0.8, within=15.0)
    secondary: int = 2
    secondary_proficiency: int = 2
    zipf: float = 1.0
    priority_share: float = 0.0  # share of callers with priority 1

    @property
    def aht(self) -> float:
        """What Erlang calls the handle time: the agent is busy from the ring to the end of
        wrap-up."""
        return self.ring + self.talk_mean + self.wrapup

    @property
    def within(self) -> float:
        """The target's answer time as a queue wait (the ring is part of the answer time)."""
        return max(0.0, self.target.within - self.ring)


def calls_for_peak(per_second: float, profile: Sequence[float] = HOURS_WORKDAY) -> int:
    """The day's calls that make the busiest hour `per_second` calls a second."""
    return round(per_second * 3600 * sum(profile) / max(profile))


BEIJING = Scenario("beijing", calls=58_700, agents=750, skills=200)
PROVINCE = Scenario("province", calls=calls_for_peak(20.0), agents=5_000, skills=300)
SCALES = {"beijing": BEIJING, "province": PROVINCE}


@dataclass
class Plan:
    shares: list[float]  # of calls, per skill
    rates: list[list[float]]  # calls per second, [slot][skill]
    staffed: list[list[int]]  # agents logged in, [slot][skill]
    headcount: list[int]  # agents whose primary skill it is, per skill
    seconds: float = 0.0  # CPU seconds to make the plan

    def on_duty(self, slot: int) -> int:
        return sum(self.staffed[slot])


def skill_shares(skills: int, zipf: float) -> list[float]:
    weights = [1.0 / (rank + 1) ** zipf for rank in range(skills)]
    total = sum(weights)
    return [w / total for w in weights]


def slot_rate(s: Scenario, slot: int) -> float:
    """Calls per second in this half hour."""
    return s.calls * s.profile[(slot // 2) % len(s.profile)] / sum(s.profile) / 3600.0


def fixed_plan(s: Scenario, agents: Sequence[int]) -> Plan:
    """The same agents per skill in every half hour (for tests and what-ifs)."""
    shares = skill_shares(s.skills, s.zipf)
    rates = [[slot_rate(s, k) * share for share in shares] for k in range(s.slots)]
    return Plan(shares, rates, [list(agents) for _ in range(s.slots)], list(agents))


def make_plan(s: Scenario) -> Plan:
    started = time.process_time()
    shares = skill_shares(s.skills, s.zipf)
    needed: dict[float, int] = {}

    def agents_for(rate: float) -> int:
        if rate <= 0:
            return 0
        if rate not in needed:
            if s.patience is None:
                needed[rate] = agents_erlang_c(rate, s.aht, s.target).agents
            else:
                needed[rate] = agents_erlang_a(rate, s.aht, s.patience, s.target).agents
        return needed[rate]

    rates = [[slot_rate(s, k) * share for share in shares] for k in range(s.slots)]
    staffed = [[agents_for(r) for r in row] for row in rates]
    peak = max(sum(row) for row in staffed)
    headcount = [max(row[i] for row in staffed) for i in range(s.skills)]
    if sum(headcount) > s.agents:
        raise ValueError(
            f"the plan needs {sum(headcount)} agents (at most {peak} at once), "
            f"the scenario has {s.agents}"
        )
    return Plan(shares, rates, staffed, headcount, time.process_time() - started)


def make_agents(s: Scenario, plan: Plan, rng: np.random.Generator) -> list[list[AgentSpec]]:
    """Per skill, its primary agents in roster order (the first n are on when n are
    needed). Secondary skills are drawn by popularity, never the primary."""
    shares = np.array(plan.shares)
    roster: list[list[AgentSpec]] = []
    for skill, count in enumerate(plan.headcount):
        mine: list[AgentSpec] = []
        for k in range(count):
            skills = {f"s{skill:03d}": PRIMARY_PROFICIENCY}
            if s.secondary and s.skills > 1:
                p = shares.copy()
                p[skill] = 0.0
                p /= p.sum()
                extra = rng.choice(
                    s.skills, size=min(s.secondary, s.skills - 1), replace=False, p=p
                )
                for other in extra:
                    skills[f"s{int(other):03d}"] = s.secondary_proficiency
            mine.append(AgentSpec(id=f"a{skill:03d}-{k:04d}", skills=skills))
        roster.append(mine)
    return roster


@dataclass
class Calls:
    """The day's callers, in arrival order."""

    arrived: list[float]
    skill: list[int]
    priority: list[int]
    talk: list[float]
    patience: list[float]

    def __len__(self) -> int:
        return len(self.arrived)


def make_calls(s: Scenario, plan: Plan, rng: np.random.Generator) -> Calls:
    times: list[np.ndarray] = []
    skills: list[np.ndarray] = []
    shares = np.array(plan.shares)
    for k in range(s.slots):
        n = int(rng.poisson(slot_rate(s, k) * SLOT))
        times.append(np.sort(rng.uniform(k * SLOT, (k + 1) * SLOT, n)))
        skills.append(rng.choice(s.skills, size=n, p=shares))
    arrived = np.concatenate(times)
    total = len(arrived)
    if s.handle == "exponential":
        talk = rng.exponential(s.talk_mean, total)
    elif s.handle == "lognormal":
        talk = np.minimum(TALK_CAP, rng.lognormal(TALK_MU, TALK_SIGMA, total))
    else:
        raise ValueError(f"unknown handle-time shape {s.handle!r}")
    if s.patience is None:
        patience = np.full(total, math.inf)
    else:
        patience = rng.exponential(s.patience, total)
    priority = (rng.random(total) < s.priority_share).astype(int)
    return Calls(
        arrived=arrived.tolist(),
        skill=np.concatenate(skills).tolist(),
        priority=priority.tolist(),
        talk=talk.tolist(),
        patience=patience.tolist(),
    )


@dataclass
class SlotFigures:
    """One half hour: what the replay measured (by the callers' arrival) and what Erlang
    predicts for the agents on duty. Rates are shares of offered calls."""

    slot: int
    offered: int
    on_duty: int
    answered: int
    within: int  # answered within the target
    abandoned: int
    erlang_a_sl: float
    erlang_a_abandon: float
    erlang_c_sl: float

    @property
    def sl(self) -> float:
        return self.within / self.offered if self.offered else 1.0

    @property
    def abandon(self) -> float:
        return self.abandoned / self.offered if self.offered else 0.0

    @property
    def label(self) -> str:
        minutes = self.slot * 30
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass
class Result:
    scenario: Scenario
    plan: Plan
    calls: int
    events: int  # events handled by the core
    wall: float  # seconds of the replay (not the plan)
    cpu: float
    slots: list[SlotFigures]
    answered: int
    abandoned: int
    lost: int  # neither answered nor abandoned at the end
    offered_twice: int  # an offer for a caller already ringing or connected
    connected_twice: int
    order_violations: int  # (audit) an offer while a better caller of the agent's skills waited
    # per (slot, skill) with at least `min_calls` offered: (offered, replay SL, Erlang A SL)
    cells: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.cpu if self.cpu else 0.0

    def sl_errors(self, min_offered: int = 1) -> list[tuple[float, SlotFigures]]:
        """(replay SL - Erlang A SL, half hour), largest absolute error first."""
        found = [(f.sl - f.erlang_a_sl, f) for f in self.slots if f.offered >= min_offered]
        return sorted(found, key=lambda x: -abs(x[0]))

    def mean_abs(self, values: Sequence[float]) -> float:
        return sum(abs(v) for v in values) / len(values) if values else 0.0

    def overall_abandon(self) -> tuple[float, float]:
        """(replay, Erlang A) abandoned share over the whole day, call-weighted."""
        offered = sum(f.offered for f in self.slots)
        if not offered:
            return 0.0, 0.0
        replay = sum(f.abandoned for f in self.slots) / offered
        predicted = sum(f.erlang_a_abandon * f.offered for f in self.slots) / offered
        return replay, predicted

    def overall_sl(self) -> tuple[float, float]:
        """(replay, Erlang A) service level over the whole day, call-weighted."""
        offered = sum(f.offered for f in self.slots)
        if not offered:
            return 1.0, 1.0
        replay = sum(f.within for f in self.slots) / offered
        predicted = sum(f.erlang_a_sl * f.offered for f in self.slots) / offered
        return replay, predicted


class _Replay:
    """The simulated clock: arrivals come in order from `calls`, everything else (hang-ups,
    answers after the ring, call ends, the core's timers, roster changes) from one heap. The
    core's commands are carried out as a PBX and a timer wheel would: an Offer rings the agent
    who answers `ring` seconds later unless a CancelOffer came first; a cancelled timer does
    not fire."""

    def __init__(
        self,
        s: Scenario,
        plan: Plan,
        roster: list[list[AgentSpec]],
        calls: Calls,
        engine: Callable[[QueuePolicy, list[AgentSpec]], Acd],
    ) -> None:
        self.s = s
        self.plan = plan
        self.roster = roster
        self.calls = calls
        policy = QueuePolicy(
            offer_timeout=15.0, wrapup=s.wrapup, max_no_answer=0, no_answer_backoff=0.0
        )
        self.acd = engine(policy, [a for mine in roster for a in mine])
        self.skills_of = {a.id: set(a.skills) for mine in roster for a in mine}
        self.heap: list[tuple[float, int, int, Any]] = []
        self.seq = 0
        self.timers: dict[ev.TimerKey, float] = {}
        self.ringing: dict[int, tuple[str, int]] = {}  # call -> (agent, offer token)
        n = len(calls)
        self.answered_at = [-1.0] * n
        self.abandoned = [False] * n
        self.connected_count = [0] * n
        self.offered_twice = 0
        self.order_violations = 0
        self.events = 0
        self.waiting: set[int] | None = None  # (audit) callers waiting, not ringing

    def push(self, at: float, kind: int, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, payload))

    def run(self, audit: bool) -> None:
        if audit:
            self.waiting = set()
        calls = self.calls
        arrived = calls.arrived
        n = len(calls)
        for k in range(self.s.slots):
            self.push(k * SLOT, _ROSTER, k)
        self.on = [0] * self.s.skills
        i = 0
        heap = self.heap
        while i < n or heap:
            if i < n and (not heap or arrived[i] < heap[0][0]):
                now = arrived[i]
                if self.waiting is not None:
                    self.waiting.add(i)
                self.handle(
                    ev.CallerArrived(str(i), f"s{calls.skill[i]:03d}", calls.priority[i]), now
                )
                if calls.patience[i] != math.inf:
                    self.push(now + calls.patience[i], _HANGUP, i)
                i += 1
                continue
            now, _, kind, payload = heapq.heappop(heap)
            if kind == _HANGUP:
                if self.answered_at[payload] < 0 and not self.abandoned[payload]:
                    self.handle(ev.CallerHungUp(str(payload)), now)
            elif kind == _ANSWER:
                call, agent, token = payload
                if self.ringing.get(call) == (agent, token):
                    del self.ringing[call]
                    self.handle(ev.OfferAnswered(str(call), agent), now)
            elif kind == _END:
                self.handle(ev.CallEnded(str(payload), by="caller"), now)
            elif kind == _TIMER:
                if self.timers.get(payload) == now:
                    del self.timers[payload]
                    self.handle(ev.TimerFired(payload), now)
            else:
                self.roster_change(payload, now)

    def roster_change(self, slot: int, now: float) -> None:
        for skill, want in enumerate(self.plan.staffed[slot]):
            have = self.on[skill]
            mine = self.roster[skill]
            for k in range(have, want):
                self.handle(ev.AgentLoggedIn(mine[k].id), now)
            for k in range(want, have):
                self.handle(ev.AgentLoggedOut(mine[k].id), now)
            self.on[skill] = want

    def handle(self, event: ev.Event, now: float) -> None:
        self.events += 1
        for c in self.acd.handle(event, now):
            if isinstance(c, cmd.SetTimer):
                self.timers[c.key] = c.at
                self.push(c.at, _TIMER, c.key)
            elif isinstance(c, cmd.CancelTimer):
                self.timers.pop(c.key, None)
            elif isinstance(c, cmd.Offer):
                self.offered(c, now)
            elif isinstance(c, cmd.CancelOffer):
                call = int(c.call_id)
                ringing = self.ringing.get(call)
                if ringing is not None and ringing[0] in c.agent_ids:
                    del self.ringing[call]
                    if self.waiting is not None and not self.abandoned[call]:
                        self.waiting.add(call)
            elif isinstance(c, cmd.CallConnected):
                call = int(c.call_id)
                self.connected_count[call] += 1
                if self.answered_at[call] < 0:
                    self.answered_at[call] = now
                    self.push(now + self.calls.talk[call], _END, call)
            elif isinstance(c, cmd.CallerLeft) and c.reason == "abandoned":
                call = int(c.call_id)
                self.abandoned[call] = True
                if self.waiting is not None:
                    self.waiting.discard(call)

    def offered(self, c: cmd.Offer, now: float) -> None:
        call = int(c.call_id)
        if (
            len(c.agent_ids) != 1
            or call in self.ringing
            or self.answered_at[call] >= 0
            or self.abandoned[call]
        ):
            self.offered_twice += 1
        agent = c.agent_ids[0]
        if self.waiting is not None:
            self.audit_offer(call, agent)
        self.seq += 1
        self.ringing[call] = (agent, self.seq)
        heapq.heappush(self.heap, (now + self.s.ring, self.seq, _ANSWER, (call, agent, self.seq)))

    def audit_offer(self, call: int, agent: str) -> None:
        assert self.waiting is not None
        self.waiting.discard(call)
        calls = self.calls
        mine = (-calls.priority[call], calls.arrived[call])
        skills = self.skills_of[agent]
        for other in self.waiting:
            if (
                f"s{calls.skill[other]:03d}" in skills
                and (-calls.priority[other], calls.arrived[other]) < mine
            ):
                self.order_violations += 1
                return


def replay(
    s: Scenario,
    audit: bool = False,
    min_cell_calls: int = 30,
    progress: Callable[[str], None] | None = None,
    plan: Plan | None = None,
    engine: Callable[[QueuePolicy, list[AgentSpec]], Acd] = Acd,
) -> Result:
    """Plan the day (or take `plan`), draw its callers and agents, replay it through the
    core, and compare each half hour with Erlang's prediction for the agents on duty."""
    if plan is None:
        plan = make_plan(s)
    # separate streams: the same seed draws the same callers whatever the agents' skills
    roster = make_agents(s, plan, np.random.default_rng([s.seed, 1]))
    calls = make_calls(s, plan, np.random.default_rng([s.seed, 2]))
    if progress:
        progress(f"plan {plan.seconds:.1f} s CPU; {len(calls):,} calls drawn; replaying")
    r = _Replay(s, plan, roster, calls, engine)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    r.run(audit)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return _figures(s, plan, calls, r, wall, cpu, min_cell_calls)


def _figures(
    s: Scenario, plan: Plan, calls: Calls, r: _Replay, wall: float, cpu: float, min_cell: int
) -> Result:
    slots, skills = s.slots, s.skills
    offered = [[0] * skills for _ in range(slots)]
    within = [[0] * skills for _ in range(slots)]
    answered = [[0] * skills for _ in range(slots)]
    abandoned = [[0] * skills for _ in range(slots)]
    lost = 0
    limit = s.target.within
    for i in range(len(calls)):
        k = min(slots - 1, int(calls.arrived[i] // SLOT))
        j = calls.skill[i]
        offered[k][j] += 1
        if r.answered_at[i] >= 0:
            answered[k][j] += 1
            if r.answered_at[i] - calls.arrived[i] <= limit:
                within[k][j] += 1
        elif r.abandoned[i]:
            abandoned[k][j] += 1
        else:
            lost += 1
    predicted: dict[tuple[int, float], tuple[float, float, float]] = {}

    def erlang(n: int, rate: float) -> tuple[float, float, float]:
        """(Erlang A SL, Erlang A abandonment, Erlang C SL) of offered calls."""
        if (n, rate) not in predicted:
            c = erlang_c(n, rate, s.aht, s.within).service_level
            if s.patience is None:
                predicted[(n, rate)] = (c, 0.0, c)
            else:
                a = erlang_a(n, rate, s.aht, s.patience, s.within)
                predicted[(n, rate)] = (a.service_level, a.p_abandon, c)
        return predicted[(n, rate)]

    figures: list[SlotFigures] = []
    cells: list[tuple[int, float, float]] = []
    for k in range(slots):
        total = sum(plan.rates[k])
        a_sl = a_ab = c_sl = 0.0
        for j in range(skills):
            rate = plan.rates[k][j]
            if rate <= 0:
                continue
            sl_a, ab_a, sl_c = erlang(plan.staffed[k][j], rate)
            a_sl += rate * sl_a
            a_ab += rate * ab_a
            c_sl += rate * sl_c
            if offered[k][j] >= min_cell:
                cells.append((offered[k][j], within[k][j] / offered[k][j], sl_a))
        figures.append(
            SlotFigures(
                slot=k,
                offered=sum(offered[k]),
                on_duty=plan.on_duty(k),
                answered=sum(answered[k]),
                within=sum(within[k]),
                abandoned=sum(abandoned[k]),
                erlang_a_sl=a_sl / total if total else 1.0,
                erlang_a_abandon=a_ab / total if total else 0.0,
                erlang_c_sl=c_sl / total if total else 1.0,
            )
        )
    return Result(
        scenario=s,
        plan=plan,
        calls=len(calls),
        events=r.events,
        wall=wall,
        cpu=cpu,
        slots=figures,
        answered=sum(1 for t in r.answered_at if t >= 0),
        abandoned=sum(r.abandoned),
        lost=lost,
        offered_twice=r.offered_twice,
        connected_twice=sum(1 for x in r.connected_count if x > 1),
        order_violations=r.order_violations,
        cells=cells,
    )
