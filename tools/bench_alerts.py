"""Benchmark: the early warning on a synthetic year. Generates the year (main_synth, SQLite
in a temporary directory unless --db/--truth name an existing one), replays its tickets in
the order they were created through every detector, and prints the evaluation time per
incoming ticket (p50/p95) and the detection metrics against the injected surges and clusters
(detection rate, false alarms per day, delay from onset).

    python tools/bench_alerts.py                 # 100,000 tickets
    python tools/bench_alerts.py --million       # and 1,000,000 (long: generation included)
    python tools/bench_alerts.py --tickets 20000 --seed 11
    python tools/bench_alerts.py --db sqlite:////tmp/y/cc.db --truth /tmp/y/truth
    python tools/bench_alerts.py --quiet         # a year without injected events

The generator has no switch for its surges and clusters: `--quiet` drops them in this process
(the year is planned as usual, then its event list is emptied and every ticket is a base
ticket), so every surge or cluster warning on that year is a false alarm.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.alerts.evaluate import evaluate, table  # noqa: E402
from callcenter.alerts.settings import load_alerts  # noqa: E402
from callcenter.data.crypto import FILE_ENV, write_key_file  # noqa: E402
from callcenter.storage.database import Database  # noqa: E402
from callcenter.synthetic.command import main_synth  # noqa: E402
from callcenter.synthetic.year import Year  # noqa: E402
from callcenter.tickets.settings import load_ticket_settings  # noqa: E402

CONFIG = Path(__file__).resolve().parent.parent / "config"


def run(db_url: str, truth: Path, config: Path) -> None:
    db = Database(db_url)
    started = time.monotonic()
    try:
        found, result = evaluate(db, truth, load_alerts(config), load_ticket_settings(config))
    finally:
        db.close()
    print(table(found, result))
    print(f"{'replay wall time (s)':<34}{time.monotonic() - started:.1f}")
    for miss in found.missed:
        print(f"  missed: {miss}")


def without_events() -> None:
    """Plan years without surges and clusters (see the module docstring)."""
    plan = Year._events

    def quiet(self: Year) -> None:
        plan(self)
        self.events = []
        self.event_slots = []
        self.base_tickets = self.spec.tickets

    Year._events = quiet  # type: ignore[method-assign]


def generated(tickets: int, seed: int, work: Path, config: Path) -> tuple[str, Path]:
    keys = work / "keys.toml"
    write_key_file(keys)
    os.environ[FILE_ENV] = str(keys)
    url = f"sqlite:///{work / 'cc.db'}"
    started = time.monotonic()
    if main_synth(url, tickets, seed, date(2026, 1, 1), work / "truth", config, 0.02) != 0:
        raise SystemExit("main_synth failed")
    print(f"generated {tickets} tickets in {time.monotonic() - started:.0f} s", flush=True)
    return url, work / "truth"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else "")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="also a year of 1,000,000")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--db", default="", help="an existing synthetic year (with --truth)")
    parser.add_argument("--truth", default="")
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--quiet", action="store_true", help="a year without injected events")
    args = parser.parse_args()
    if args.quiet:
        without_events()
    config = Path(args.config)
    if args.db:
        run(args.db, Path(args.truth), config)
        return 0
    sizes = [args.tickets] + ([1_000_000] if args.million else [])
    for n in sizes:
        quiet = ", no injected events" if args.quiet else ""
        print(f"\n== {n:,} tickets, seed {args.seed}{quiet} ==", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
            url, truth = generated(n, args.seed, Path(tmp), config)
            run(url, truth, config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
