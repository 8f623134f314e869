"""Benchmark: the data foundation on PostgreSQL with a synthetic year of 1,000,000 tickets
(10,000,000 with --ten-million): load, a full governance run and an incremental one, fusion
of every record, the catalogue, an export feed. Each step prints its time and rows per
second, and its cost against a baseline measured in the same run: one plain read of the
whole tickets table (COPY ... TO STDOUT), the floor of any pass over the data.

Governance is scored against the generator's planted defects (recall, precision) and fusion
against the true party behind every ticket (pairwise precision and recall).

    python tools/bench_data.py                   # 1,000,000 tickets
    python tools/bench_data.py --tickets 100000
    python tools/bench_data.py --ten-million
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from callcenter.data.catalog import build_catalog  # noqa: E402
from callcenter.data.crypto import FILE_ENV, load_cipher, write_key_file  # noqa: E402
from callcenter.data.feeds import FeedConfig, FeedRunner, feed_redactor  # noqa: E402
from callcenter.data.fusion.build import rebuild  # noqa: E402
from callcenter.data.quality.config import load_quality  # noqa: E402
from callcenter.data.quality.evaluation import evaluate  # noqa: E402
from callcenter.data.quality.runner import run  # noqa: E402
from callcenter.storage.database import Database  # noqa: E402
from callcenter.storage.schema import ExportCursor, Profile, ProfileLink, TicketHistory  # noqa: E402
from callcenter.synthetic.command import main_synth  # noqa: E402
from callcenter.synthetic.truth import read_persons  # noqa: E402
from callcenter.tickets.settings import load_ticket_settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config"
PG = os.environ.get("CALLCENTER_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
T = TypeVar("T")


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"cc_bench_data_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def checked_at() -> datetime:
    """When governance checks the 2026 year: now, but never before a month after it ends
    (date.future finds times later than the run's own)."""
    return max(datetime.now(UTC), datetime(2027, 1, 31, tzinfo=UTC))


def timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def read_all_tickets(db: Database) -> int:
    """The baseline: every byte of the tickets table, read once."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        size = 0
        with cur.copy("COPY tickets TO STDOUT") as copy:
            for block in copy:
                size += len(block)
        return size
    finally:
        raw.close()


def pairwise(truth: dict[int, str], found: dict[int, str]) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering of tickets against the truth."""

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = Counter((truth[t], found.get(t, f"none-{t}")) for t in truth)
    true_pairs = pairs(Counter(truth.values()))
    found_pairs = pairs(Counter(found.get(t, f"none-{t}") for t in truth))
    agree = pairs(both)
    precision = agree / found_pairs if found_pairs else 1.0
    recall = agree / true_pairs if true_pairs else 1.0
    return precision, recall


def fusion_quality(db: Database, truth_dir: Path) -> dict[str, tuple[float, float]]:
    persons = read_persons(truth_dir)
    found: dict[str, dict[int, str]] = defaultdict(dict)
    with db.session() as s:
        rows = s.execute(
            select(ProfileLink.record_id, Profile.kind, ProfileLink.profile_id)
            .join(Profile, Profile.id == ProfileLink.profile_id)
            .where(ProfileLink.record_type == "ticket")
        )
        for record_id, kind, profile_id in rows:
            found[kind][int(record_id)] = str(profile_id)
    result = {}
    for kind in ("person", "enterprise"):
        truth = {t: key for t, (k, key) in persons.items() if k == kind}
        result[kind] = pairwise(truth, found[kind])
    return result


class Receiver(BaseHTTPRequestHandler):
    events = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.events += len(json.loads(body)["events"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def feed_step(db: Database, events: int) -> tuple[int, float]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["CC_BENCH_FEED_SECRET"] = "bench-secret"
    feed = FeedConfig(
        name="bench",
        url=f"http://127.0.0.1:{server.server_address[1]}/",
        secret_env="CC_BENCH_FEED_SECRET",
        role="department",  # the shipped feeds' view: personal fields masked
        batch=1000,
        gap_grace=0.0,
    )
    with db.session() as s:
        last = int(s.scalar(select(func.max(TicketHistory.id))) or 0)
    db.transaction(
        lambda s: s.add(
            ExportCursor(
                feed="bench", position=max(0, last - events), delivered=0, updated_at=time.time()
            )
        )
    )
    runner = FeedRunner(
        db, feed, b"bench-secret", feed_redactor(CONFIG, feed), "bench", cipher=load_cipher()
    )  # the caller's number is stored encrypted: decrypted, then masked for the role
    sent, seconds = timed(runner.run_once)
    server.shutdown()
    return sent, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--ten-million", action="store_true", help="10,000,000 tickets")
    parser.add_argument("--feed-events", type=int, default=200_000)
    parser.add_argument("--out", default="", help="also write the results as JSON here")
    args = parser.parse_args()
    tickets = 10_000_000 if args.ten_million else args.tickets
    work = Path(tempfile.mkdtemp(prefix="cc-bench-data-"))
    config = work / "config"  # a snapshot: the run sees one version of the config
    shutil.copytree(CONFIG, config)
    keys = work / "keys.toml"
    write_key_file(keys)
    os.environ[FILE_ENV] = str(keys)
    cipher = load_cipher()
    truth = work / "truth"
    lines: list[tuple[str, int, float]] = []

    def step(name: str, count: int, seconds: float) -> None:
        lines.append((name, count, seconds))
        print(f"{name}: {count:,} rows in {seconds:.1f} s ({count / seconds:,.0f}/s)", flush=True)

    extra: dict[str, Any] = {"tickets": tickets}
    with scratch_database() as url:
        db = Database(url)
        db.upgrade()
        print(f"loading a synthetic year of {tickets:,} tickets into PostgreSQL ...", flush=True)
        code, seconds = timed(
            lambda: main_synth(url, tickets, 2026, date(2026, 1, 1), truth, config, 0.02)
        )
        assert code == 0, "synthetic load failed"
        manifest = json.loads((truth / "manifest.json").read_text(encoding="utf-8"))
        rows = sum(manifest["counts"].values())
        step("load (generate + COPY + indexes)", rows, seconds)
        size, baseline = timed(lambda: read_all_tickets(db))
        print(f"baseline: read every ticket once: {baseline:.2f} s ({size / 1e6:.0f} MB)")

        rules = load_quality(config).rules
        time.sleep(6)  # runs take changes logged more than 5 s before they start (late commits)
        full, seconds = timed(lambda: run(db, rules, cipher, "full", "bench", checked_at()))
        step("governance: full run", full.records, seconds)
        recall, precision, per_rule = evaluate(db, full.run_id, truth / "defects.jsonl")
        extra["governance"] = {
            "recall": recall,
            "precision": precision,
            "problems": full.problems,
            "per_rule": {k: vars(v) for k, v in per_rule.items()},
        }
        print(f"governance: recall {recall:.4f}, precision {precision:.4f}", flush=True)

        with db.engine.begin() as conn:  # 1 % of tickets change
            changed = conn.execute(text("UPDATE tickets SET title = title WHERE id % 100 = 0"))
        time.sleep(6)
        inc, seconds = timed(lambda: run(db, rules, cipher, "incremental", "bench", checked_at()))
        assert inc.records == changed.rowcount, (inc.records, changed.rowcount)
        step("governance: incremental (1 % changed)", inc.records, seconds)

        settings = load_ticket_settings(config)
        stats, seconds = timed(lambda: rebuild(db.engine, settings, cipher=cipher))
        records = stats.tickets + stats.calls + stats.callbacks + stats.surveys
        step("fusion: every ticket, call, survey", records, seconds)
        quality = fusion_quality(db, truth)
        extra["fusion"] = {k: {"precision": p, "recall": r} for k, (p, r) in quality.items()}
        extra["fusion"]["profiles"] = stats.profiles
        for kind, (p, r) in quality.items():
            print(f"fusion {kind}: pairwise precision {p:.4f}, recall {r:.4f}")

        catalog, seconds = timed(lambda: build_catalog(db.engine, config / "catalog.toml", config))
        step("catalogue (live schema + notes)", len(catalog.datasets), seconds)

        sent, seconds = feed_step(db, args.feed_events)
        step("export feed (signed HTTP batches of 1,000)", sent, seconds)
        db.close()

    print(f"\n{tickets:,} tickets; baseline read of the tickets table: {baseline:.2f} s\n")
    print("| step | rows | seconds | rows/s | × baseline read |")
    print("|---|---:|---:|---:|---:|")
    for name, count, seconds in lines:
        print(
            f"| {name} | {count:,} | {seconds:.1f} | {count / seconds:,.0f} | "
            f"{seconds / baseline:.1f} |"
        )
    if args.out:
        extra["steps"] = [
            {"step": n, "rows": c, "seconds": s, "baseline": baseline} for n, c, s in lines
        ]
        Path(args.out).write_text(json.dumps(extra, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
