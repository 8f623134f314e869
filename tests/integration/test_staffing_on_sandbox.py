"""The seat-planning queue model against the real engine (GB/T 44190 6.1.1.1): the sandbox PBX
is offered a measured load, Poisson arrivals (0.36 calls a second for 100 s, seed 33: 43
calls) with exponential talk times (mean 5 s) against the 4 agents of the shipped config,
and the engine's own calls table is read back.

The check: Erlang C models an M/G/n queue served first come first served by agents who are
never idle while someone waits. Each agent's occupation per call is measured, not assumed:
from the engine's offer (its CONNECT event records how long the agent's phone rang) to the
end of the call plus the configured wrapup; so ringing and call set-up, which are the PBX's
and the phone's, count as handle time, as in a real center. Replaying the engine's own
arrivals (joined_at) and these occupations through an ideal FCFS queue with 4 servers gives
each caller's wait (plus its ringing); the engine's recorded waits and its 5-second service
level against them are printed for the record. Whatever the engine itself adds (a late
decision, an agent left idle while a caller waits) shows as a gap; the earlier state of the
agents cannot, since every occupation is measured. The test holds the engine to what does not
depend on how busy the machine is: every caller answered, none abandoned, and the callers
offered in the order they joined (an out-of-order pick fails it). How long the
offer took to reach the agent's phone (its `incoming` event, wall clock) is printed too.

The engine's service level is NOT held to the Erlang C formula itself here, because that
cannot be made reliable in two minutes (measured with this file's `replay` over 300 seeded
loads of these parameters): in a 100 s window the service level varies with SD 0.17-0.20
from load to load, and a queue that starts empty answers ~0.12 better than the steady state
Erlang C describes. Holding the engine to Erlang C within ±0.15 would take about 35 minutes
of offered load at this rate. The formula itself is checked against a long seeded
simulation in tests/unit/staffing/test_erlang_simulation.py; the prediction for this load is
printed for the record.

Takes about 2 minutes: 100 s of arrivals, then the queue drains.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import random
import time
from dataclasses import dataclass
from statistics import median

import pytest

from callcenter.simulation import Softphone
from callcenter.staffing.erlang import erlang_c
from tests.integration.harness import CALLER_RTP, SIP_PORT, Center

pytestmark = pytest.mark.pbx

RATE = 0.36  # calls per second offered
SEED = 33  # a load with some queueing (43 calls, ideal waits up to 12 s)
WINDOW = 100.0  # seconds of arrivals
MEAN_TALK = 5.0  # seconds, exponential
WITHIN = 5.0  # service level threshold, seconds
PER_PHONE = 4  # the softphone allows 4 calls at a time: each of its accounts calls once
FIRST_PORT = SIP_PORT + 440  # CONTROL + 500: clear of the harness's agents and callers
# the harness callers' RTP ports (no other caller is up during this test): 11 phones from
# CALLER_RTP, 40 apart, each account's range 40 ports
FIRST_RTP = CALLER_RTP


@dataclass
class Offered:
    number: str
    at: float  # seconds after the start
    talk: float
    phone: Softphone
    started: bool = False
    hung_up: bool = False


def offered_load(seed: int = SEED) -> list[tuple[float, float]]:
    """(arrival offset, talk seconds) of every call: a Poisson process and exponential talk."""
    rng = random.Random(seed)
    calls: list[tuple[float, float]] = []
    t = rng.expovariate(RATE)
    while t < WINDOW:
        calls.append((t, min(30.0, max(0.5, rng.expovariate(1 / MEAN_TALK)))))
        t += rng.expovariate(RATE)
    return calls


def replay(arrivals: list[float], handles: list[float], agents: int) -> list[float]:
    """When each call is offered in an ideal FCFS queue with `agents` servers that are all
    free at the first arrival (arrivals sorted), as seconds after its arrival."""
    free = [arrivals[0] if arrivals else 0.0] * agents
    heapq.heapify(free)
    waits = []
    for at, handle in zip(arrivals, handles, strict=True):
        start = max(at, heapq.heappop(free))
        heapq.heappush(free, start + handle)
        waits.append(start - at)
    return waits


def rings(cc: Center, call_ids: list[str]) -> dict[str, float]:
    """Call -> seconds from the engine's offer to the agent's answer (its CONNECT event)."""
    found = {
        r.call_id: json.loads(r.data).get("ring_ms", 0) / 1000
        for r in cc.rows("SELECT call_id, data FROM queue_events WHERE event = 'CONNECT'")
    }
    return {c: found[c] for c in call_ids}


def offers(cc: Center, since: float) -> dict[str, list[float]]:
    """Agent -> wall-clock times its softphone saw an incoming call since `since`."""
    found: dict[str, list[float]] = {}
    for phone in set(cc.phones.values()):
        for e in phone.seen(lambda e: e.get("event") == "incoming"):
            if float(e["at"]) >= since:
                found.setdefault(str(e["user"]), []).append(float(e["at"]))
    return {agent: sorted(times) for agent, times in found.items()}


def test_engine_service_level_against_erlang_c(cc: Center) -> None:
    load = offered_load()
    numbers = [f"1391234{i:04d}" for i in range(len(load))]
    phones: list[Softphone] = []
    offered: list[Offered] = []
    try:
        for p, first in enumerate(range(0, len(load), PER_PHONE)):
            group = numbers[first : first + PER_PHONE]
            phone = Softphone(
                f"127.0.0.1:{SIP_PORT}",
                port=FIRST_PORT + p,
                accounts=[(n, "") for n in group],
                play=str(cc.caller_tone),
                rtp_port=FIRST_RTP + 40 * p,
            )
            phones.append(phone)
            for n in group:
                at, talk = load[numbers.index(n)]
                offered.append(Offered(n, at, talk, phone))
        for phone in phones:
            phone.wait_for(lambda e: e.get("event") == "ready")
        started = time.time()
        rows = drive(cc, offered)
    finally:
        for o in offered:
            if o.started and not o.hung_up:
                with contextlib.suppress(Exception):
                    o.phone.hangup(o.number)
        for phone in phones:
            with contextlib.suppress(Exception):
                phone.close()

    # the agents with softphones (the browser phone's agent stays logged out here)
    agents = [a for a in cc.config.agents if "general" in a.skills and not a.browser_phone]
    wrapup = cc.config.queue.wrapup
    assert len(rows) == len(offered)
    assert all(r.leave_reason != "abandoned" and r.connected_at for r in rows), rows
    rows.sort(key=lambda r: r.joined_at)
    ring = rings(cc, [r.call_id for r in rows])
    offered_at = [(r.connected_at or 0.0) - ring[r.call_id] for r in rows]
    handles = [(r.ended_at or 0.0) + wrapup - o for r, o in zip(rows, offered_at, strict=True)]
    # how long the engine's offer took to reach the phone (the PBX's part, for the record)
    seen = offers(cc, started)
    reach = [
        min((t for t in seen.get(str(r.agent_id), []) if t >= o - 0.05), default=o) - o
        for r, o in zip(rows, offered_at, strict=True)
    ]
    waits = [r.waited or 0.0 for r in rows]
    engine_sl = sum(w <= WITHIN for w in waits) / len(waits)

    arrivals = [float(r.joined_at) for r in rows]
    ideal = [
        w + ring[r.call_id]
        for w, r in zip(replay(arrivals, handles, len(agents)), rows, strict=True)
    ]
    ideal_sl = sum(w <= WITHIN for w in ideal) / len(ideal)
    gaps = [a - b for a, b in zip(waits, ideal, strict=True)]
    mean_gap = sum(abs(g) for g in gaps) / len(gaps)
    rate = len(rows) / WINDOW
    aht = sum(handles) / len(handles)
    predicted = erlang_c(len(agents), rate, aht, WITHIN)
    summary = (
        f"engine SL({WITHIN:g}s) {engine_sl:.3f}, ideal FCFS {ideal_sl:.3f}, mean gap "
        f"{mean_gap:.2f}s (largest {max(gaps):+.2f}s); offer to answer p50 "
        f"{median(ring.values()):.2f}s, offer to the phone p50 {median(reach):.2f}s; "
        f"Erlang C at {rate:.3f}/s, AHT {aht:.1f}s: "
        f"SL {predicted.service_level:.3f}, P(wait) {predicted.p_wait:.3f}, occupancy "
        f"{predicted.occupancy:.2f}"
    )
    print(summary)
    assert sum(w > 1.0 for w in ideal) >= 10, summary  # the load did make callers queue
    # One unified queue, first come first served: the engine offered the callers in the order
    # they joined (offer times from its own records, exact to the millisecond they are stored
    # in). The gap and the service level against the ideal queue are printed, not held to a
    # bound: they include how late a loaded machine runs the engine's timers and the PBX's
    # Dial (measured under a load average of 38 on CI's 2 cores), a timing, not a decision.
    order = sorted(range(len(rows)), key=lambda i: offered_at[i])
    late = [
        (rows[i].call_id, round(offered_at[i] - offered_at[j], 3))
        for i, j in zip(range(len(rows)), order, strict=True)
        if i != j and abs(offered_at[i] - offered_at[j]) > 0.002
    ]
    assert not late, (summary, late)


def drive(cc: Center, offered: list[Offered]) -> list[Row]:
    """Place each call at its time, hang it up `talk` seconds after the engine connected it
    to an agent, and return the engine's rows once every call has ended."""
    wanted = {o.number: o for o in offered}
    cipher = cc.engine.cipher()
    by_index = {cipher.phone_index(n): n for n in wanted}
    start = time.monotonic()
    deadline = start + WINDOW + 150
    rows: dict[str, Row] = {}
    while True:
        now = time.monotonic() - start
        for o in offered:
            if not o.started and o.at <= now:
                o.phone.call(o.number, "12345")
                o.started = True
        found = cc.rows(  # numbers are stored encrypted: found by their blind index
            "SELECT caller_number_hash, joined_at, waited, connected_at, ended_at, "
            "talk_seconds, leave_reason, agent_id, call_id FROM calls"
        )
        for r in found:
            number = by_index.get(r.caller_number_hash)
            if number is not None:
                rows[number] = Row(number, *r[1:])
        wall = time.time()
        for number, r in rows.items():
            o = wanted[number]
            if r.connected_at and not o.hung_up and wall >= (r.connected_at or 0.0) + o.talk:
                o.phone.hangup(number)
                o.hung_up = True
        if len(rows) == len(offered) and all(r.ended_at for r in rows.values()):
            return list(rows.values())
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(rows)} of {len(offered)} calls recorded, "
                f"{sum(1 for r in rows.values() if r.ended_at)} ended, in time"
            )
        time.sleep(0.1)


@dataclass
class Row:
    caller_number: str
    joined_at: float
    waited: float | None
    connected_at: float | None
    ended_at: float | None
    talk_seconds: float | None
    leave_reason: str | None
    agent_id: str | None
    call_id: str
