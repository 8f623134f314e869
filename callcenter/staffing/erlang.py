"""Queueing formulas for seat planning (GB/T 44190 6.1.1.1, 6.1.3.1): Erlang B, Erlang C
(M/M/n) and Erlang A (Palm's M/M/n+M, callers who give up after an exponential patience).

Units: rates per second, times in seconds. `calls` is the arrival rate λ, `aht` the mean
handle time 1/μ, `patience` the callers' mean patience 1/θ; the offered load is a = λ·aht.

Erlang B comes from the recursion B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1)), which never
overflows (hundreds or thousands of agents are fine); Erlang C and Erlang A are built on it.

Erlang A follows Mandelbaum & Zeltyn ("The Palm/Erlang-A queue, with applications to call
centers", 2007): with x = nμ/θ, y = λ/θ and A(x, y) = x·e^y·y^(-x)·γ(x, y) (γ the lower
incomplete gamma function), the probability of waiting is A·E / (1 + (A - 1)·E) with E the
Erlang B of n agents. The offered wait V (what a caller would wait with infinite patience)
given j callers ahead is a sum of exponentials of rates nμ + iθ, i = 0..j, so e^(-θV) is
Beta(x, j+1); summed over the queue this gives P(V > t) = P(W>0)·P(x, y·e^(-θt)) / P(x, y)
with P the regularised lower incomplete gamma function. The wait W = min(V, patience).
Incomplete gamma values are taken in log space so nothing under- or overflows.

Service level here is always the share of OFFERED calls answered within t (a caller who
abandons counts against it): for Erlang C every caller is answered, for Erlang A
P(V <= t and V < patience) =
1 - P(W>0) + P(W>0)·(x/y)·[P(x+1, y) - P(x+1, y·e^(-θt))] / P(x, y).
`sl_served` is the share of ANSWERED calls answered within t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import integrate, special


@dataclass(frozen=True)
class Target:
    """What a half hour must meet: `service_level` of offered calls answered within
    `within` seconds, optionally an average speed of answer, an occupancy cap and (Erlang A)
    an abandonment cap."""

    service_level: float = 0.8
    within: float = 20.0
    max_asa: float | None = None
    max_occupancy: float | None = None
    max_abandon: float | None = None


@dataclass(frozen=True)
class ErlangC:
    agents: int
    load: float  # erlangs
    p_wait: float
    service_level: float
    asa: float  # seconds, over all calls
    occupancy: float


@dataclass(frozen=True)
class ErlangA:
    agents: int
    load: float
    p_wait: float
    p_abandon: float
    service_level: float  # answered within t / offered
    sl_served: float  # answered within t / answered
    asa: float  # mean wait of answered calls, seconds
    mean_wait: float  # mean wait of all calls (answered or abandoned) = P(ab)·patience
    occupancy: float


MAX_AGENTS = 100_000


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of `agents` servers offered `load` erlangs (recursion)."""
    if agents < 0 or load < 0:
        raise ValueError("agents and load must not be negative")
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c_wait(agents: int, load: float) -> float:
    """Probability that a caller waits (Erlang C); 1 when the agents cannot keep up."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1 - b))


def erlang_c(agents: int, calls: float, aht: float, within: float) -> ErlangC:
    """M/M/n with `calls` per second, mean handle time `aht` s, target answer time `within`."""
    _check(calls, aht)
    load = calls * aht
    if load <= 0:
        return ErlangC(agents, 0.0, 0.0, 1.0, 0.0, 0.0)
    if agents <= load:
        return ErlangC(agents, load, 1.0, 0.0, math.inf, 1.0)
    pw = erlang_c_wait(agents, load)
    spare = (agents - load) / aht  # nμ - λ
    sl = 1.0 - pw * math.exp(-spare * within)
    return ErlangC(agents, load, pw, sl, pw / spare, load / agents)


def log_lower_gamma_p(a: float, x: float) -> float:
    """log P(a, x), P the regularised lower incomplete gamma function, without underflow:
    scipy's gammainc where P is not tiny, else the series
    P(a, x) = x^a e^-x / Γ(a+1) · Σ_k x^k / ((a+1)...(a+k)), which converges fast for x < a."""
    if x <= 0:
        return -math.inf
    if x >= a:
        return math.log(float(special.gammainc(a, x)))
    p = float(special.gammainc(a, x))
    if p > 1e-280:
        return math.log(p)
    total, term, k = 1.0, 1.0, 0
    while term > 1e-17 * total:
        k += 1
        term *= x / (a + k)
        total += term
    return a * math.log(x) - x - float(special.gammaln(a + 1)) + math.log(total)


def erlang_a(agents: int, calls: float, aht: float, patience: float, within: float) -> ErlangA:
    """M/M/n+M (Erlang A): `patience` is the callers' mean patience in seconds."""
    _check(calls, aht)
    if patience <= 0:
        raise ValueError("patience must be positive")
    load = calls * aht
    if load <= 0:
        return ErlangA(agents, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0)
    if agents == 0:
        return ErlangA(0, load, 1.0, 1.0, 0.0, 0.0, 0.0, patience, 0.0)
    theta = 1.0 / patience
    x = agents / aht / theta
    y = calls / theta
    log_p = log_lower_gamma_p(x, y)
    # A(x, y) = x e^y y^-x γ(x, y) = Γ(x+1) e^y y^-x P(x, y)
    log_a = float(special.gammaln(x + 1)) + y - x * math.log(y) + log_p
    e = erlang_b(agents, load)
    inv_a = math.exp(-log_a)  # A >= 1 (it is a sum of terms starting with 1)
    pw = e / (inv_a + e * (1.0 - inv_a))
    r1 = math.exp(log_lower_gamma_p(x + 1, y) - log_p)  # P(x+1, y) / P(x, y)
    # P(ab) = P(W>0)·(1 - (x/y)·P(x+1,y)/P(x,y)) = P(W>0)·(1/(ρA) + 1 - 1/ρ)
    p_ab = min(1.0, max(0.0, pw * (1.0 - x / y * r1)))
    shrink = y * math.exp(-theta * within)
    rt = math.exp(log_lower_gamma_p(x + 1, shrink) - log_p) if shrink > 0 else 0.0
    served_soon = min(1.0, max(0.0, 1.0 - pw + pw * (x / y) * (r1 - rt)))
    served = 1.0 - p_ab
    mean_wait = p_ab * patience
    return ErlangA(
        agents=agents,
        load=load,
        p_wait=pw,
        p_abandon=p_ab,
        service_level=served_soon,
        sl_served=min(1.0, served_soon / served) if served > 0 else 0.0,
        asa=_served_wait(pw, log_p, x, y, theta) / served if served > 0 else math.inf,
        mean_wait=mean_wait,
        occupancy=min(1.0, load * served / agents),
    )


def _served_wait(pw: float, log_p: float, x: float, y: float, theta: float) -> float:
    """E[V; V < patience] = ∫ v·f_V(v)·e^(-θv) dv over v > 0, where the offered wait's
    density is f_V(v) = P(W>0)/P(x,y)·θ·g^x·e^-g/Γ(x) with g = y·e^(-θv). The integrand is
    v·exp(c - (x+1)θv - y·e^(-θv)): it peaks at v* = ln(y/(x+1))/θ (or at 0) and falls off
    on a known time scale, so the quadrature is told where to look."""
    if pw <= 0:
        return 0.0
    const = math.log(pw) - log_p + math.log(theta) + x * math.log(y) - float(special.gammaln(x))

    def integrand(v: float) -> float:
        return v * math.exp(const - (x + 1) * theta * v - y * math.exp(-theta * v))

    if y > x + 1:
        peak = math.log(y / (x + 1)) / theta
        scale = 1.0 / (theta * math.sqrt(x + 1))
    else:
        peak = 0.0
        scale = min(1.0 / ((x + 1 - y) * theta), 1.0 / (theta * math.sqrt(x + 1)))
    low, high = max(0.0, peak - 40 * scale), peak + 40 * scale
    value = integrate.quad(integrand, low, high, points=[peak] if peak > low else None)[0]
    value += integrate.quad(integrand, high, math.inf)[0]
    if low > 0:
        value += integrate.quad(integrand, 0.0, low)[0]
    return max(0.0, float(value))


def agents_erlang_c(calls: float, aht: float, target: Target) -> ErlangC:
    """The fewest agents meeting the service level (and ASA and occupancy caps if set)."""
    _check(calls, aht)
    load = calls * aht
    n = max(1, math.floor(load) + 1)
    if target.max_occupancy:
        n = max(n, math.ceil(load / target.max_occupancy - 1e-9))
    while n <= MAX_AGENTS:
        r = erlang_c(n, calls, aht, target.within)
        if (
            r.service_level >= target.service_level
            and (target.max_asa is None or r.asa <= target.max_asa)
            and (target.max_occupancy is None or r.occupancy <= target.max_occupancy + 1e-12)
        ):
            return r
        n += 1
    raise ValueError(f"more than {MAX_AGENTS} agents needed")


def agents_erlang_a(calls: float, aht: float, patience: float, target: Target) -> ErlangA:
    """The fewest agents meeting the service level of offered calls (and the ASA,
    occupancy and abandonment caps if set) with impatient callers."""
    _check(calls, aht)
    if calls * aht <= 0:
        return erlang_a(0, calls, aht, patience, target.within)
    # at most n/a of the calls can be answered, so fewer than SL·a agents never meet the SL
    n = max(1, math.floor(target.service_level * calls * aht))
    while n <= MAX_AGENTS:
        r = erlang_a(n, calls, aht, patience, target.within)
        if (
            r.service_level >= target.service_level
            and (target.max_asa is None or r.asa <= target.max_asa)
            and (target.max_occupancy is None or r.occupancy <= target.max_occupancy + 1e-12)
            and (target.max_abandon is None or r.p_abandon <= target.max_abandon)
        ):
            return r
        n += 1
    raise ValueError(f"more than {MAX_AGENTS} agents needed")


def _check(calls: float, aht: float) -> None:
    if calls < 0 or not math.isfinite(calls):
        raise ValueError("the call rate must be a finite number >= 0")
    if aht <= 0 or not math.isfinite(aht):
        raise ValueError("the handle time must be a positive number")
