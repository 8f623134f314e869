"""Benchmark: ticket create and query rates with 1,000,000 tickets in PostgreSQL, against the
same operations on a small table (1,000 tickets) in the same run.

Tickets are bulk-loaded with COPY from a pool of realistic requests (segmented once with
jieba); then each operation runs through the same code the API uses (`tickets.service`):
create (classify, repeat check, deadline, history), list a department's open tickets,
full-text search, a caller's history, read one ticket with its history.

    python tools/bench_tickets.py                 # 1,000,000 tickets
    python tools/bench_tickets.py --tickets 100000
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from callcenter.data.crypto import ephemeral_cipher  # noqa: E402
from callcenter.storage.database import Database  # noqa: E402
from callcenter.tickets import service as store  # noqa: E402
from callcenter.tickets.model import Actor, Role  # noqa: E402
from callcenter.tickets.settings import TicketSettings, load_ticket_settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PG = os.environ.get("CALLCENTER_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
AGENT = Actor("1001", Role.AGENT)
PLACES = ["幸福小区", "中山路", "人民公园", "滨江花园", "解放街", "东湖苑", "新华书店旁", "火车站"]
PROBLEMS = [
    "停水三天了没人管",
    "夜间施工噪音扰民",
    "公司拖欠工资三个月",
    "违章停车堵住消防通道",
    "饭店油烟太大",
    "路灯坏了一个星期",
    "暖气不热室温只有十度",
    "燃气表漏气有味道",
    "物业乱收费",
    "医保报销流程咨询",
    "公交线路建议增加班次",
    "占道经营影响通行",
    "房屋漏水开发商不维修",
    "食品过期还在销售",
    "垃圾清运不及时",
]
COLUMNS = [
    "number",
    "channel",
    "call_id",
    "caller_number",
    "caller_number_hash",
    "caller_name",
    "did",
    "hotline",
    "region",
    "skill",
    "agent_id",
    "ivr_path",
    "request_type",
    "topic",
    "department",
    "title",
    "content",
    "address",
    "status",
    "version",
    "state",
    "proposal",
    "confirmed",
    "created_at",
    "updated_at",
    "deadline",
    "closed_at",
    "repeat_of",
    "repeats",
    "search_text",
]


CIPHER = ephemeral_cipher()  # phone numbers are stored encrypted, with their blind index
NULLABLE = {"call_id", "department", "deadline", "closed_at", "repeat_of"}


def pool(settings: TicketSettings, size: int, rng: random.Random) -> list[dict[str, str]]:
    from callcenter.tickets.classifier import classify

    out = []
    for _ in range(size):
        content = f"{rng.choice(PLACES)}{rng.choice(PROBLEMS)}，{rng.choice(PROBLEMS)}"
        found = classify(settings.knowledge, content)
        out.append(
            {
                "content": content,
                "request_type": found.request_type,
                "topic": found.topic or "",
                "department": found.department,
                "search_text": store.search_words(content),
            }
        )
    return out


def copy_tickets(url: str, settings: TicketSettings, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    texts = pool(settings, 3000, rng)
    statuses = ["accepted", "dispatched", "handling", "replied", "closed", "evaluated"]
    start = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        batch = 100_000
        for first in range(0, count, batch):
            buf = io.StringIO()
            for i in range(first, min(count, first + batch)):
                t = texts[i % len(texts)]
                created = start + i * 30.0
                status = rng.choice(statuses)
                row = [
                    f"B{i:011d}",
                    "phone",
                    "",
                    *CIPHER.seal_phone(f"13{rng.randrange(10**9):09d}"),  # as stored
                    "",
                    "12345",
                    "12345",
                    "",
                    "general",
                    "1001",
                    "",
                    t["request_type"],
                    t["topic"],
                    t["department"] if status != "accepted" else "",
                    t["content"][:40],
                    t["content"],
                    "",
                    status,
                    "1",
                    "{}",
                    "{}",
                    "1",
                    str(created),
                    str(created),
                    str(created + 5 * 86400),
                    "",
                    "",
                    "0",
                    t["search_text"],
                ]
                cells = [
                    "\\N" if (x == "" and name in NULLABLE) else x.replace("\t", " ")
                    for name, x in zip(COLUMNS, row, strict=True)
                ]
                buf.write("\t".join(cells) + "\n")
            with cursor.copy(f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
            raw.commit()
            print(f"  loaded {min(count, first + batch):,} tickets", flush=True)
        cursor.execute("ANALYZE tickets")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def timed(label: str, n: int, work: Callable[[int], None]) -> tuple[str, float, float, float]:
    laps: list[float] = []
    for i in range(n):
        t = time.perf_counter()
        work(i)
        laps.append(time.perf_counter() - t)
    laps.sort()
    return label, n / sum(laps), 1000 * laps[len(laps) // 2], 1000 * laps[int(0.99 * len(laps))]


def measure(
    db: Database, settings: TicketSettings, n: int
) -> list[tuple[str, float, float, float]]:
    rng = random.Random(7)
    now = datetime.now(UTC)

    def create(i: int) -> None:
        content = f"{rng.choice(PLACES)}{rng.choice(PROBLEMS)}"
        intake = store.Intake("web", content, caller_number=f"139{rng.randrange(10**8):08d}")
        db.transaction(lambda s: store.create(s, settings, intake, AGENT, now, cipher=CIPHER))

    def department_open(i: int) -> None:
        with db.session() as s:
            store.search(s, store.Filters(department="water", status="dispatched"), 1, 20)

    def full_text(i: int) -> None:
        with db.session() as s:
            store.search(
                s, store.Filters(q=rng.choice(["噪音", "拖欠工资", "路灯", "燃气"])), 1, 20
            )

    def caller_history(i: int) -> None:
        with db.session() as s:
            number = f"13{rng.randrange(10**9):09d}"
            store.search(s, store.Filters(caller_number=number), 1, 20, CIPHER)

    def read_one(i: int) -> None:
        with db.session() as s:
            ids = s.execute(text("SELECT max(id) FROM tickets")).scalar() or 1
            row = store.get(s, rng.randrange(1, ids + 1))
            store.history(s, row.id)

    return [
        timed("create (classify, repeat check, deadline, history)", n, create),
        timed("list a department's open tickets (page 1)", n, department_open),
        timed("full-text search (page 1 + total)", n, full_text),
        timed("a caller's history", n, caller_history),
        timed("read one ticket with history", n, read_one),
    ]


def with_database(
    count: int, settings: TicketSettings, n: int
) -> list[tuple[str, float, float, float]]:
    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    try:
        db.upgrade()
        started = time.monotonic()
        copy_tickets(url, settings, count)
        print(f"  {count:,} tickets loaded and analyzed in {time.monotonic() - started:.0f} s")
        return measure(db, settings, n)
    finally:
        db.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ticket create/query rates in PostgreSQL")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--ops", type=int, default=300, help="operations of each kind")
    args = parser.parse_args(argv)
    settings = load_ticket_settings(REPO / "config")
    print("baseline: 1,000 tickets")
    small = with_database(1_000, settings, args.ops)
    print(f"large: {args.tickets:,} tickets")
    large = with_database(args.tickets, settings, args.ops)
    print(
        f"\n| operation | ops/s at 1,000 | ops/s at {args.tickets:,} | p50 / p99 ms at "
        f"{args.tickets:,} | large vs small |"
    )
    print("|---|---:|---:|---:|---:|")
    for (label, r_small, _, _), (_, r_large, p50, p99) in zip(small, large, strict=True):
        print(
            f"| {label} | {r_small:,.0f} | {r_large:,.0f} | {p50:.1f} / {p99:.1f} | "
            f"{r_large / r_small:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
