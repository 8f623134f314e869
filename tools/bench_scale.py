"""A day at Beijing or province scale replayed through the routing core, against Erlang.

On a simulated clock: wall time, CPU, events/s, and per half hour the service level and
abandonment the replay measured against Erlang A's (and Erlang C's) prediction for the same
staffing.

Beijing: about 58,700 calls, 750 agents, 200 skills. Province: 5,000 agents, 300 skills,
20 calls/s in the busiest hour (about 774,000 calls). The arrival profile is the synthetic
year's working day; the model is described in `callcenter/staffing/replay.py`.

By default the day is replayed twice in this invocation, on the same callers and plan:
separate skill groups (each agent one skill: Erlang's own model, the baseline the prediction
should match) and multi-skill agents (one primary skill and two secondary ones: the groups
pool, so the replay should beat the per-skill prediction). `--secondary N` replays only one.

    python tools/bench_scale.py --scale beijing
    python tools/bench_scale.py --scale province --secondary 2 --seed 3 --summary-only
    python tools/bench_scale.py --scale beijing --secondary 0 --handle lognormal
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.staffing.replay import SCALES, Result, Scenario, replay  # noqa: E402


def load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def describe(s: Scenario) -> str:
    patience = "infinite (Erlang C)" if s.patience is None else f"exp. mean {s.patience:.0f} s"
    return (
        f"{s.name}: {s.calls:,} calls expected, {s.agents:,} agents, {s.skills} skills "
        f"(Zipf {s.zipf}), seed {s.seed}; talk {s.handle} mean {s.talk_mean:.1f} s, "
        f"ring {s.ring:.0f} s, wrap-up {s.wrapup:.0f} s (Erlang AHT {s.aht:.1f} s); "
        f"patience {patience}; target {s.target.service_level:.0%} within "
        f"{s.target.within:.0f} s; {s.secondary} secondary skills per agent"
    )


def half_hours(r: Result) -> None:
    print(
        "| half hour | offered | on duty | SL replay | SL Erlang A | SL Erlang C "
        "| abandoned replay | abandoned Erlang A |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for f in r.slots:
        print(
            f"| {f.label} | {f.offered:,} | {f.on_duty:,} | {f.sl:.3f} | {f.erlang_a_sl:.3f} "
            f"| {f.erlang_c_sl:.3f} | {f.abandon:.3f} | {f.erlang_a_abandon:.3f} |"
        )


def summary(r: Result, label: str) -> list[str]:
    s = r.scenario
    errors = r.sl_errors()
    bias = sum(e for e, _ in errors) / len(errors)
    busy = [e for e, f in errors if f.offered >= 500]
    abandon = [f.abandon - f.erlang_a_abandon for f in r.slots if f.offered]
    replay_sl, erlang_sl = r.overall_sl()
    cells = [sl - predicted for _, sl, predicted in r.cells]
    weighted = sum(n * abs(sl - p) for n, sl, p in r.cells) / max(1, sum(n for n, _, _ in r.cells))
    worst = ", ".join(f"{f.label} {e:+.3f} ({f.offered:,} calls)" for e, f in errors[:3])
    peak = max(range(s.slots), key=r.plan.on_duty)
    return [
        f"[{label}] {r.calls:,} calls, {r.events:,} core events: replay wall {r.wall:.1f} s, "
        f"CPU {r.cpu:.1f} s, {r.events_per_second:,.0f} events/s of CPU, "
        f"{86400 / r.cpu if r.cpu else 0:,.0f}x faster than the day (CPU); "
        f"plan CPU {r.plan.seconds:.1f} s",
        f"[{label}] plan: {r.plan.on_duty(peak):,} agents on duty at the peak "
        f"({r.slots[peak].label}), {sum(r.plan.headcount):,} of {s.agents:,} rostered",
        f"[{label}] answered {r.answered:,}, abandoned {r.abandoned:,}; lost {r.lost}, "
        f"offered twice {r.offered_twice}, connected twice {r.connected_twice}",
        f"[{label}] day SL {replay_sl:.3f} replay vs {erlang_sl:.3f} Erlang A; "
        f"per half hour SL error (replay - Erlang A): mean {bias:+.3f}, "
        f"mean abs {r.mean_abs([e for e, _ in errors]):.3f} (all 48), "
        f"{r.mean_abs(busy):.3f} ({len(busy)} half hours with >= 500 calls); "
        f"abandonment mean abs error {r.mean_abs(abandon):.3f}",
        f"[{label}] day abandoned {r.overall_abandon()[0]:.4f} replay vs "
        f"{r.overall_abandon()[1]:.4f} Erlang A",
        f"[{label}] worst half hours: {worst}",
        f"[{label}] per skill and half hour ({len(cells)} cells with >= 30 calls): SL error mean "
        f"{sum(cells) / max(1, len(cells)):+.3f}, call-weighted mean abs {weighted:.3f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--scale", choices=sorted(SCALES), default="beijing")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--secondary",
        type=int,
        default=None,
        help="secondary skills per agent (default: replay 0 and 2, both)",
    )
    parser.add_argument("--handle", choices=("exponential", "lognormal"), default="exponential")
    parser.add_argument(
        "--summary-only", action="store_true", help="leave out the table of the 48 half hours"
    )
    args = parser.parse_args(argv)
    base = dataclasses.replace(SCALES[args.scale], seed=args.seed, handle=args.handle)
    runs = [0, 2] if args.secondary is None else [args.secondary]
    print(describe(base))
    print(f"load before: {load()}; python {sys.version.split()[0]}")
    lines: list[str] = []
    results: list[Result] = []
    started = time.perf_counter()
    for secondary in runs:
        s = dataclasses.replace(base, secondary=secondary)
        label = "separate groups" if secondary == 0 else f"{secondary} secondary skills"

        def say(message: str, label: str = label) -> None:
            print(f"[{label}] {message}", flush=True)

        r = replay(s, progress=say)
        results.append(r)
        if not args.summary_only:
            print(f"\n[{label}] per half hour")
            half_hours(r)
            print()
        for line in summary(r, label):
            print(line, flush=True)
            lines.append(line)
    if len(results) == 2 and results[0].cpu:
        a, b = results
        print(
            f"multi-skill / separate groups: CPU {b.cpu / a.cpu:.2f}x, day SL "
            f"{b.overall_sl()[0] - a.overall_sl()[0]:+.3f} (the pooling gain Erlang per skill "
            f"does not see)"
        )
    print(f"load after: {load()}; total wall {time.perf_counter() - started:.0f} s")
    broken = [r for r in results if r.lost or r.offered_twice or r.connected_twice]
    if broken:
        print("FAILED: a caller was lost, offered twice or connected twice")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
