"""Benchmark: engine takeover time, an active/standby pair against a restarted single engine.

On the sandbox Asterisk (the integration harness: real SIP and RTP, agents' softphones) and a
PostgreSQL database (CALLCENTER_TEST_PG_URL, else a private throwaway cluster), each round has
one caller talking to agent 1001 and one waiting; the engine serving them is killed (SIGKILL)
and the talk ends while no engine is active. Measured: kill -> the waiting caller's offer
ringing an agent's phone, and which route rang it (the engine, or the dialplan's fallback
route when no engine took the caller back within engine.fallback_after).

- baseline: one engine without `[ha]`, started again at once after the kill (what a process
  supervisor gives without a standby: imports, migrations, model load, PBX restore);
- pair: two engines with `[ha]`; the standby takes over, the killed one is started again as
  the new standby before the next round.

Prints each phase's p50/p95 and the ratio pair/baseline.

    CALLCENTER_IT_SLOT=0 python tools/bench_takeover.py --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.percentile import percentile  # noqa: E402
from tests import private_postgres  # noqa: E402
from tests.integration.harness import Center, Engine  # noqa: E402
from tests.integration.pair import (  # noqa: E402
    PAIR_PORTS,
    engine_pair,
    one_takeover,
    start_standby,
)


def restarted(engine: Engine) -> Engine:
    engine.start(linked=False)
    return engine


def baseline(cc: Center, rounds: int) -> list[float]:
    times: list[float] = []
    with engine_pair(cc) as pair:  # its database and helpers; its two engines stay down
        log = cc.workdir / "engine-single.log"
        engine = Engine(cc.config_dir, pair.pg_url, cc.engine.secret, log, http_port=PAIR_PORTS[0])
        engine.start()
        try:
            for i in range(rounds):
                seconds, route = one_takeover(pair, engine, partial(restarted, engine), i)
                times.append(seconds)
                print(f"baseline round {i + 1}: {seconds:.2f} s (served by: {route})", flush=True)
        finally:
            engine.stop()
    return times


def pair_rounds(cc: Center, rounds: int) -> list[float]:
    times: list[float] = []
    with engine_pair(cc) as pair:
        first, second = pair.engines
        first.start()
        start_standby(second)
        for i in range(rounds):
            active = pair.active()
            seconds, route = one_takeover(pair, active, partial(pair.other, active), 50 + i)
            times.append(seconds)
            print(f"pair round {i + 1}: {seconds:.2f} s (served by: {route})", flush=True)
            start_standby(active)  # the killed one comes back as the standby
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep the logs")
    args = parser.parse_args()
    pg = None
    if not os.environ.get(private_postgres.URL_ENV):
        pg = private_postgres.start()
        os.environ[private_postgres.URL_ENV] = pg.url
    try:
        with contextlib.ExitStack() as stack:
            if args.keep is not None:
                args.keep.mkdir(parents=True)
                work = args.keep
            else:
                work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="takeover-")))
            cc = Center(work)
            try:
                base = baseline(cc, args.rounds)
                ha = pair_rounds(cc, args.rounds)
            finally:
                cc.close()
    finally:
        if pg is not None:
            pg.stop()
    print(f"{'kill -> first offer':24} {'p50':>7} {'p95':>7}  rounds")
    for name, values in (("restart (baseline)", base), ("standby takeover", ha)):
        p50, p95 = statistics.median(values), percentile(values, 95) or 0.0
        print(f"{name:24} {p50:6.2f}s {p95:6.2f}s  {len(values)}")
    print(
        f"ratio takeover/restart: p50 {statistics.median(ha) / statistics.median(base):.2f}, "
        f"p95 {(percentile(ha, 95) or 0.0) / (percentile(base, 95) or 1.0):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
