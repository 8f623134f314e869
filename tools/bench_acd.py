"""Benchmark (a): the routing core's decisions per second and latency at 100, 1,000 and
10,000 agents with 200 skills, against a linear-scan ACD run on the same load.

The load is a closed-loop simulation in simulated time: callers arrive (Poisson) for skills
with Zipf-like popularity, agents answer after a second, talk for an exponential time, wrap
up, callers with little patience hang up. Offered load is near capacity, so callers queue
and freed agents must find the right waiting caller. Every `handle()` call is one decision
and is timed.

The baseline (`LinearAcd`) applies the same rules (priority then arrival; highest
proficiency, then longest idle) by scanning every agent for a new caller and every waiting
caller for a freed agent: what an ACD without indexes does. Both engines must take the same
decisions on the same load; the run says so, and fails if they do not.

    python tools/bench_acd.py            # 100, 1,000, 10,000 agents
    python tools/bench_acd.py --quick    # small, for a smoke run
    python tools/bench_acd.py --explain  # also the engine with its decision facts on
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import random
import sys
import time
from bisect import insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd import commands as cmd  # noqa: E402
from acd import events as ev  # noqa: E402
from acd.engine import Acd  # noqa: E402
from acd.model import AgentSpec, QueuePolicy  # noqa: E402

SKILLS = 200
ANSWER_DELAY = 1.0
TALK_MEAN = 120.0
PATIENCE_MEAN = 60.0
WRAPUP = 5.0


class Engine(Protocol):
    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]: ...


# --- the baseline ---------------------------------------------------------------------------


@dataclass
class _LAgent:
    spec: AgentSpec
    available: bool = False
    busy: bool = False  # offered, talking or in wrap-up
    idle_since: float = 0.0
    gen: int = 0


@dataclass
class _LCaller:
    call_id: str
    skill: str
    key: tuple[int, float, int, str]
    offered_to: str = ""
    gen: int = 0
    connected: bool = False


class LinearAcd:
    """The same routing rules as `acd.Acd` for this load, without indexes."""

    def __init__(self, policy: QueuePolicy, agents: list[AgentSpec]) -> None:
        self.policy = policy
        self.agents = {a.id: _LAgent(a) for a in agents}
        self.callers: dict[str, _LCaller] = {}
        self.waiting: list[tuple[tuple[int, float, int, str], str]] = []
        self.seq = 0

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        out: list[cmd.Command] = []
        if isinstance(event, ev.AgentLoggedIn):
            agent = self.agents[event.agent_id]
            agent.available, agent.idle_since = True, now
            self._agent_free(agent, now, out)
        elif isinstance(event, ev.CallerArrived):
            self._arrived(event, now, out)
        elif isinstance(event, ev.CallerHungUp):
            self._hung_up(event.call_id, now, out)
        elif isinstance(event, ev.OfferAnswered):
            caller = self.callers.get(event.call_id)
            if caller is not None and caller.offered_to == event.agent_id:
                caller.connected = True
                out.append(cmd.CancelTimer(("offer", caller.call_id, caller.gen)))
        elif isinstance(event, ev.CallEnded):
            ended = self.callers.pop(event.call_id, None)
            if ended is not None and ended.connected:
                self._finish(ended, now, out)
        elif isinstance(event, ev.TimerFired):
            kind, subject, gen = event.key
            freed = self.agents.get(subject)
            if kind == "wrapup" and freed is not None and freed.gen == gen:
                freed.busy, freed.idle_since = False, now
                self._agent_free(freed, now, out)
        return out

    def _arrived(self, event: ev.CallerArrived, now: float, out: list[cmd.Command]) -> None:
        self.seq += 1
        key = (-event.priority, now, self.seq, event.call_id)
        c = _LCaller(event.call_id, event.skill, key)
        self.callers[c.call_id] = c
        best = self._best_agent(c)
        if best is None:
            insort(self.waiting, (c.key, c.call_id))
        else:
            self._offer(c, best, now, out)

    def _hung_up(self, call_id: str, now: float, out: list[cmd.Command]) -> None:
        c = self.callers.pop(call_id, None)
        if c is None:
            return
        if c.connected:
            self._finish(c, now, out)
        elif c.offered_to:
            a = self.agents[c.offered_to]
            a.busy = False
            out.append(cmd.CancelOffer(c.call_id, (a.spec.id,)))
            self._agent_free(a, now, out)
        else:
            self.waiting.remove((c.key, c.call_id))

    def _best_agent(self, c: _LCaller) -> _LAgent | None:
        best: _LAgent | None = None
        best_key: tuple[int, float, str] | None = None
        for a in self.agents.values():
            prof = a.spec.skills.get(c.skill)
            if prof is None or not a.available or a.busy:
                continue
            key = (-prof, a.idle_since, a.spec.id)
            if best_key is None or key < best_key:
                best, best_key = a, key
        return best

    def _agent_free(self, a: _LAgent, now: float, out: list[cmd.Command]) -> None:
        for i, (_, call_id) in enumerate(self.waiting):
            c = self.callers[call_id]
            if c.skill in a.spec.skills:
                del self.waiting[i]
                self._offer(c, a, now, out)
                return

    def _offer(self, c: _LCaller, a: _LAgent, now: float, out: list[cmd.Command]) -> None:
        a.busy = True
        c.offered_to = a.spec.id
        c.gen += 1
        out.append(cmd.Offer(c.call_id, (a.spec.id,), self.policy.offer_timeout))
        out.append(cmd.SetTimer(("offer", c.call_id, c.gen), now + self.policy.offer_timeout))

    def _finish(self, c: _LCaller, now: float, out: list[cmd.Command]) -> None:
        a = self.agents[c.offered_to]
        a.gen += 1
        out.append(cmd.SetTimer(("wrapup", a.spec.id, a.gen), now + self.policy.wrapup))


# --- the load -------------------------------------------------------------------------------


def make_agents(count: int, rng: random.Random) -> list[AgentSpec]:
    """Each agent: one primary skill (spread over all 200) and up to two popular ones."""
    popular = [f"s{i:03d}" for i in range(20)]
    agents = []
    for i in range(count):
        skills = {f"s{i % SKILLS:03d}": rng.randint(3, 5)}
        for skill in rng.sample(popular, rng.randint(0, 2)):
            skills.setdefault(skill, rng.randint(1, 5))
        agents.append(AgentSpec(id=f"a{i:05d}", skills=skills))
    return agents


def skill_sampler(agents: list[AgentSpec], rng: random.Random) -> Callable[[], str]:
    """Callers' skills in proportion to the seats that hold them (popular skills more)."""
    pool = [skill for a in agents for skill in a.skills]
    return lambda: rng.choice(pool)


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    event: ev.Event = field(compare=False)


@dataclass
class Result:
    decisions: int
    seconds: float
    latencies_ns: list[int]
    offers_digest: str
    answered: int
    abandoned: int

    def rate(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        """Latency in microseconds."""
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def simulate(engine: Engine, agents: list[AgentSpec], calls: int, seed: int) -> Result:
    rng = random.Random(seed)
    next_skill = skill_sampler(agents, random.Random(seed + 1))
    capacity = len(agents) / (TALK_MEAN + WRAPUP + ANSWER_DELAY)
    rate = 1.02 * capacity
    heap: list[_Due] = []
    seq = 0
    cancelled: set[tuple[str, str, int]] = set()

    def at(when: float, event: ev.Event) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, _Due(when, seq, event))

    for a in agents:
        at(0.0, ev.AgentLoggedIn(a.id))
    t = 1.0
    for i in range(calls):
        t += rng.expovariate(rate)
        call_id = f"c{i:07d}"
        at(t, ev.CallerArrived(call_id, next_skill()))
        at(t + rng.expovariate(1 / PATIENCE_MEAN), ev.CallerHungUp(call_id))
    talk = {f"c{i:07d}": rng.expovariate(1 / TALK_MEAN) for i in range(calls)}

    digest = hashlib.sha256()
    latencies: list[int] = []
    connected: set[str] = set()
    gone: set[str] = set()
    answered = abandoned = 0
    clock = time.perf_counter_ns
    while heap:
        due = heapq.heappop(heap)
        event = due.event
        if isinstance(event, ev.TimerFired) and event.key in cancelled:
            continue
        if isinstance(event, ev.CallerHungUp):
            if event.call_id in connected:
                continue  # this caller is talking: the talk timer ends the call
            gone.add(event.call_id)
        if isinstance(event, ev.OfferAnswered) and event.call_id in gone:
            continue
        started = clock()
        out = engine.handle(event, due.at)
        latencies.append(clock() - started)
        for c in out:
            if isinstance(c, cmd.Offer):
                digest.update(f"{c.call_id}>{','.join(c.agent_ids)};".encode())
                at(due.at + ANSWER_DELAY, ev.OfferAnswered(c.call_id, c.agent_ids[0]))
            elif isinstance(c, cmd.SetTimer):
                at(c.at, ev.TimerFired(c.key))
            elif isinstance(c, cmd.CancelTimer):
                cancelled.add(c.key)
        if isinstance(event, ev.OfferAnswered):
            connected.add(event.call_id)
            answered += 1
            at(due.at + talk[event.call_id], ev.CallEnded(event.call_id))
        elif isinstance(event, ev.CallerHungUp):
            abandoned += 1
    return Result(
        decisions=len(latencies),
        seconds=sum(latencies) / 1e9,
        latencies_ns=latencies,
        offers_digest=digest.hexdigest()[:16],
        answered=answered,
        abandoned=abandoned,
    )


def policy() -> QueuePolicy:
    return QueuePolicy(offer_timeout=15.0, wrapup=WRAPUP, no_answer_backoff=0.0)


def run_size(agent_count: int, calls: int, seed: int = 7) -> tuple[Result, Result]:
    agents = make_agents(agent_count, random.Random(seed))
    indexed = simulate(Acd(policy(), agents), agents, calls, seed)
    linear = simulate(LinearAcd(policy(), agents), agents, calls, seed)
    return indexed, linear


class _Logged:
    """The core with its decision facts on, and the runtime's decision recorder turning each
    event's commands into records for a real DecisionLog (writer thread, temp folder): the
    whole cost the owner task pays for the decision log."""

    def __init__(self, acd: Acd, folder: Path) -> None:
        from zoneinfo import ZoneInfo

        from callcenter.config import load_config
        from callcenter.decisions.log import DecisionLog
        from callcenter.decisions.recorder import DecisionRecorder
        from callcenter.timers import Timers

        acd.explain = True
        self.acd = acd
        self.log = DecisionLog(folder, 1, 20_000, ZoneInfo("Asia/Shanghai"))
        config = load_config(Path(__file__).resolve().parent.parent / "config")
        self.recorder = DecisionRecorder(self.log, config, acd, Timers(), {})
        self.log.start()

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        out = self.acd.handle(event, now)
        self.recorder.observe(event, out, now)
        return out


def explain_rows(sizes: list[tuple[int, int]]) -> Iterator[str]:
    """The engine with its decision facts off, on, and on with the decision recorder and log
    writer, run in turn on the same load: what explaining every decision costs routing."""
    import tempfile

    yield (
        "| agents | calls | facts off decisions/s | off p50 / p99 µs "
        "| facts on decisions/s | on p50 / p99 µs | on / off time "
        "| facts + log decisions/s | + log p50 / p99 µs | + log / off time | records dropped "
        "| same decisions |"
    )
    yield "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"
    for agent_count, calls in sizes:
        agents = make_agents(agent_count, random.Random(7))
        off = simulate(Acd(policy(), agents), agents, calls, 7)
        explaining = Acd(policy(), agents)
        explaining.explain = True
        on = simulate(explaining, agents, calls, 7)
        with tempfile.TemporaryDirectory() as folder:
            logged = _Logged(Acd(policy(), agents), Path(folder))
            both = simulate(logged, agents, calls, 7)
            logged.log.close()
        same = off.offers_digest == on.offers_digest == both.offers_digest
        yield (
            f"| {agent_count:,} | {calls:,} | {off.rate():,.0f} "
            f"| {off.quantile(0.5):.1f} / {off.quantile(0.99):.1f} | {on.rate():,.0f} "
            f"| {on.quantile(0.5):.1f} / {on.quantile(0.99):.1f} "
            f"| {on.seconds / off.seconds:.2f}x | {both.rate():,.0f} "
            f"| {both.quantile(0.5):.1f} / {both.quantile(0.99):.1f} "
            f"| {both.seconds / off.seconds:.2f}x | {logged.log.dropped:,} "
            f"| {'yes' if same else 'NO'} |"
        )


def rows(sizes: list[tuple[int, int]]) -> Iterator[str]:
    yield (
        "| agents | calls | decisions | engine decisions/s | engine p50 / p99 µs "
        "| linear-scan decisions/s | linear p50 / p99 µs | speed-up | same decisions |"
    )
    yield "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"
    for agent_count, calls in sizes:
        indexed, linear = run_size(agent_count, calls)
        same = indexed.offers_digest == linear.offers_digest
        yield (
            f"| {agent_count:,} | {calls:,} | {indexed.decisions:,} | {indexed.rate():,.0f} "
            f"| {indexed.quantile(0.5):.1f} / {indexed.quantile(0.99):.1f} "
            f"| {linear.rate():,.0f} "
            f"| {linear.quantile(0.5):.1f} / {linear.quantile(0.99):.1f} "
            f"| {indexed.rate() / linear.rate():.1f}x | {'yes' if same else 'NO'} |"
        )
        if not same:
            raise SystemExit(
                f"the engine and the linear-scan baseline decided differently at "
                f"{agent_count} agents ({indexed.offers_digest} != {linear.offers_digest})"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument(
        "--explain", action="store_true", help="the engine with decision facts off and on"
    )
    args = parser.parse_args(argv)
    if args.quick:
        sizes = [(100, 2_000), (1_000, 4_000)]
    else:
        sizes = [(100, 20_000), (1_000, 40_000), (10_000, 60_000)]
    started = time.monotonic()
    if args.explain:
        print(f"decision facts off and on, {SKILLS} skills, load 1.02x capacity, one run each")
        for line in explain_rows(sizes):
            print(line, flush=True)
        print(f"(python {sys.version.split()[0]}, {time.monotonic() - started:.0f} s)")
        return 0
    print(f"routing core vs linear scan, {SKILLS} skills, load 1.02x capacity, one run each")
    for line in rows(sizes):
        print(line, flush=True)
    print(f"(python {sys.version.split()[0]}, {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
