"""Export feeds on SQLite and PostgreSQL against a real aiohttp receiver on 127.0.0.1 that
checks the signature, records events and deduplicates them by event id: everything delivered
in order; errors and a timeout retried without a skip or a double; a feed process killed
mid-way and started again leaves no gap and no duplicate; a missing history id holds the
feed back until it commits or its grace runs out."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callcenter.data.crypto import FILE_ENV, load_cipher, write_key_file
from callcenter.data.feed_source import stage_of
from callcenter.data.feeds import (
    EVENT_SOURCES,
    FeedConfig,
    FeedError,
    FeedRunner,
    feed_redactor,
    verify_signature,
)
from callcenter.data.protection import Redactor
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, ExportCursor, ExportDelivery, TicketHistory
from callcenter.tickets import service as store
from callcenter.tickets.actions import (
    AcceptHandling,
    Action,
    Approve,
    Close,
    Dispatch,
    Evaluate,
    Redispatch,
    Reply,
    Return,
    Revisit,
    Supervise,
)
from callcenter.tickets.model import Actor, CallbackOutcome, Rating, Role
from callcenter.tickets.settings import TicketSettings, load_ticket_settings

# citizens' numbers are stored encrypted: the keys in a key file, which a feed process reads
KEY_FILE = Path(tempfile.mkdtemp(prefix="cc-feed-keys-")) / "keys.toml"
write_key_file(KEY_FILE)
PHONE_KEYS = load_cipher({FILE_ENV: str(KEY_FILE)})

REPO = Path(__file__).resolve().parents[2]
SECRET = b"feed-test-secret"
AGENT = Actor("1001", Role.AGENT)
SUPERVISOR = Actor("班长", Role.SUPERVISOR)
WATER = Actor("水务局", Role.DEPARTMENT, "water")
POWER = Actor("供电局", Role.DEPARTMENT, "power")
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
FULL: list[tuple[Action, Actor]] = [
    (Dispatch("water"), AGENT),
    (AcceptHandling(), WATER),
    (Reply("已抢修完毕"), WATER),
    (Approve(), SUPERVISOR),
    (Close(), SUPERVISOR),
    (Revisit(CallbackOutcome.REACHED), AGENT),
    (Evaluate(Rating.SATISFIED), AGENT),
]
Event = dict[str, object]


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(REPO / "config")


def make_ticket(
    db: Database,
    settings: TicketSettings,
    n: int,
    steps: list[tuple[Action, Actor]],
    start: datetime,
) -> int:
    intake = store.Intake(
        channel="phone",
        content=f"第{n}号：小区停水了，请回电13912345678",
        caller_number=f"1381234{n:04d}",
    )
    made = db.transaction(
        lambda s: store.create(s, settings, intake, AGENT, start, cipher=PHONE_KEYS)
    )
    assert not made.linked
    tid = made.ticket.id
    for i, (action, actor) in enumerate(steps, 1):
        db.transaction(
            partial(
                store.transition,
                settings=settings,
                ticket_id=tid,
                action=action,
                actor=actor,
                at=start + timedelta(minutes=i),
            )
        )
    return tid


def history_ids(db: Database) -> list[tuple[int, int, str]]:
    with db.session() as s:
        query = select(TicketHistory.id, TicketHistory.ticket_id, TicketHistory.action)
        return [(i, t, a) for i, t, a in s.execute(query.order_by(TicketHistory.id))]


def feed(name: str, url: str, **kw: object) -> FeedConfig:
    """A test feed; role agent by default, which the shipped policy gives the personal fields
    in clear: listed in clear_fields, as a feed config must."""
    options: dict[str, object] = {
        "secret_env": "UNUSED",
        "role": "agent",
        "clear_fields": tuple(EVENT_SOURCES),
        "batch": 5,
        "timeout": 5.0,
        "backoff": 0.01,
        "max_backoff": 0.05,
        "gap_grace": 30.0,
        "poll": 0.05,
    }
    options.update(kw)
    return FeedConfig(name=name, url=url, **options)  # type: ignore[arg-type]


class Receiver:
    """A partner system: verifies X-CC-Signature, answers 500 to the first `fail` requests,
    stalls one request for `stall` seconds (past the feed's timeout) and then takes it,
    deduplicates events by event id and counts the re-sent ones."""

    def __init__(self, fail: int = 0, stall: float = 0.0, delay: float = 0.0) -> None:
        self.fail = fail
        self.stall = stall
        self.delay = delay
        self.lock = threading.Lock()
        self.requests = 0
        self.inflight = 0
        self.bad_signatures = 0
        self.accepted: dict[str, list[Event]] = {}
        self.seen: set[str] = set()
        self.resent = 0
        self.keys: list[str] = []
        self.after_accept: Callable[[int], None] | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        with self.lock:
            self.requests += 1
            self.inflight += 1
            number = self.requests
        try:
            body = await request.read()
            if not verify_signature(body, request.headers.get("X-CC-Signature", ""), SECRET):
                with self.lock:
                    self.bad_signatures += 1
                return web.Response(status=401, text="bad signature")
            if number <= self.fail:
                return web.Response(status=500, text="down for maintenance")
            if number == self.fail + 1 and self.stall:
                await asyncio.sleep(self.stall)
            if self.delay:
                await asyncio.sleep(self.delay)
            document = json.loads(body)
            events: list[Event] = document["events"]
            key = request.headers["Idempotency-Key"]
            assert (
                key
                == f"{document['feed']}:{document['batch']['first']}-{document['batch']['last']}"
            )
            with self.lock:
                self.keys.append(key)
                for event in events:
                    if event["event_id"] in self.seen:
                        self.resent += 1
                    else:
                        self.seen.add(str(event["event_id"]))
                        self.accepted.setdefault(document["feed"], []).append(event)
            if self.after_accept is not None:
                self.after_accept(number)
            return web.json_response({"accepted": len(events)})
        finally:
            with self.lock:
                self.inflight -= 1

    def start(self) -> None:
        self.thread.start()

        async def up() -> str:
            app = web.Application()
            app.router.add_post("/feed", self.handle)
            self.runner = web.AppRunner(app, handler_cancellation=False)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            host, port = self.runner.addresses[0][:2]
            return f"http://{host}:{port}/feed"

        self.url = asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)

    def settle(self) -> None:
        """Wait for requests still being handled (a stalled one)."""
        deadline = time.monotonic() + 10
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def seqs(self, name: str) -> list[int]:
        return [int(str(e["seq"])) for e in self.accepted.get(name, [])]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.close()


def redactor(config: FeedConfig) -> Redactor:
    """The production masking: the shipped protection.toml and catalog.toml, the feed's role."""
    return feed_redactor(REPO / "config", config)


def run(db: Database, config: FeedConfig, now: float | None = None) -> tuple[FeedRunner, int]:
    """run_once with a watchdog: a feed that cannot deliver is stopped after 60 s."""
    stop = threading.Event()
    watchdog = threading.Timer(60, stop.set)
    watchdog.start()
    try:
        runner = FeedRunner(db, config, SECRET, redactor(config), "12345", stop, PHONE_KEYS)
        return runner, runner.run_once(now)
    finally:
        watchdog.cancel()


def cursor(db: Database, name: str) -> tuple[int, int]:
    with db.session() as s:
        row = s.get(ExportCursor, name)
        assert row is not None
        return int(row.position), int(row.delivered)


def exports(db: Database, name: str) -> list[DataAccess]:
    """The feed's rows in the data access log, oldest first."""
    with db.session() as s:
        query = select(DataAccess).where(DataAccess.actor == f"feed:{name}")
        rows = list(s.scalars(query.order_by(DataAccess.id)))
    assert {r.action for r in rows} <= {"export"}
    return rows


def deliveries(db: Database, name: str) -> list[ExportDelivery]:
    with db.session() as s:
        query = select(ExportDelivery).where(ExportDelivery.feed == name)
        return list(s.scalars(query.order_by(ExportDelivery.id)))


def test_feeds_deliver_every_event_in_order_signed_masked_and_filtered(
    database: Database, settings: TicketSettings, receiver: Receiver
) -> None:
    database.upgrade()
    water = [make_ticket(database, settings, n, FULL, T0 + timedelta(hours=n)) for n in (1, 2, 3)]
    moved = make_ticket(
        database,
        settings,
        4,
        [
            (Dispatch("water"), AGENT),
            (Return("不属于本单位职责"), WATER),
            (Redispatch("power"), SUPERVISOR),
            (AcceptHandling(), POWER),
        ],
        T0 + timedelta(hours=5),
    )
    rows = history_ids(database)
    top = rows[-1][0]

    every = feed("all", receiver.url)
    hcp = feed("hcp", receiver.url, stages=("办结", "回访", "评价"), role="department")
    water_feed = feed("water", receiver.url, department="water", role="department", batch=200)
    admin = feed("admin", receiver.url, role="admin", batch=200)
    for config in (every, hcp, water_feed, admin):
        assert run(database, config)[1] > 0

    assert receiver.bad_signatures == 0 and receiver.resent == 0
    assert receiver.seqs("all") == [i for i, _, _ in rows]
    assert receiver.seqs("hcp") == [i for i, _, a in rows if a in ("close", "revisit", "evaluate")]
    in_water = [
        i
        for i, t, a in rows
        if (t in water and a != "accept") or (t == moved and a in ("dispatch", "return"))
    ]
    assert receiver.seqs("water") == in_water
    for event in receiver.accepted["all"]:
        assert event["event_id"] == f"all:{event['seq']}"
        assert str(event["at"]).endswith("+08:00")
        assert event["stage"] == stage_of(str(event["action"]))
    # the shipped policy: agent and admin get the citizen's number and free text in clear
    # (their feeds list them in clear_fields), a department masked
    numbers = {f"1381234{n:04d}" for n in (1, 2, 3, 4)}
    for name in ("all", "admin"):
        assert {e["caller_number"] for e in receiver.accepted[name]} == numbers
        assert all("13912345678" in str(e["title"]) for e in receiver.accepted[name])
    for name in ("hcp", "water"):
        for event in receiver.accepted[name]:
            assert str(event["caller_number"]).startswith("138****")
            assert "13912345678" not in str(event["title"]) and "139****5678" in str(event["title"])
    ratings = [(e["action"], e["rating"], e["callback"]) for e in receiver.accepted["hcp"][:3]]
    assert ratings == [
        ("close", None, None),
        ("revisit", None, "reached"),
        ("evaluate", "满意", None),
    ]
    assert {e["department"] for e in receiver.accepted["water"]} == {"water"}

    counts = {"all": len(rows), "hcp": 9, "water": len(in_water), "admin": len(rows)}
    for name, count in counts.items():
        assert cursor(database, name) == (top, count)
        done = deliveries(database, name)
        assert {d.status for d in done} == {"delivered"}
        assert sum(d.events for d in done) == count
    assert len(deliveries(database, "all")) == -(-len(rows) // 5)
    assert len(receiver.accepted["hcp"]) == 9

    # every delivered batch on record in the access log: who, what, which fields in clear
    clear = "caller_number,title,note,details"
    for name, role, fields in (
        ("all", "agent", clear),
        ("hcp", "department", ""),
        ("water", "department", ""),
        ("admin", "admin", clear),
    ):
        logged = exports(database, name)
        done = deliveries(database, name)
        assert [r.record_id for r in logged] == [f"{d.first}-{d.last}" for d in done]
        for row, delivery in zip(logged, done, strict=True):
            assert (row.role, row.dataset, row.fields) == (role, "tickets", fields)
            assert f"to {receiver.url}: {delivery.events} events" in row.purpose
            assert f"Idempotency-Key {name}:{delivery.first}-{delivery.last}" in row.purpose
        masked = "none" if fields else clear
        assert all(f"masked {masked}," in r.purpose for r in logged)

    # caught up: nothing to send, no request
    before = receiver.requests
    assert run(database, every)[1] == 0 and receiver.requests == before
    # incremental: only what happened since
    make_ticket(database, settings, 5, FULL[:2], T0 + timedelta(hours=9))
    assert run(database, every)[1] == 3
    assert receiver.seqs("all") == [i for i, _, _ in history_ids(database)]
    assert run(database, hcp)[1] == 0  # no 办结/回访/评价, but the cursor moves on
    assert cursor(database, "hcp") == (history_ids(database)[-1][0], 9)
    assert len(exports(database, "hcp")) == len(deliveries(database, "hcp"))  # nothing sent


def test_errors_and_a_timeout_are_retried_without_a_skip_or_a_double(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    for n in (1, 2):
        make_ticket(database, settings, n, FULL, T0 + timedelta(hours=n))
    rows = history_ids(database)
    receiver = Receiver(fail=3, stall=1.0)
    receiver.start()
    try:
        config = feed("flaky", receiver.url, batch=4, timeout=0.3)
        assert run(database, config)[1] == len(rows)
        receiver.settle()
    finally:
        receiver.close()
    assert receiver.seqs("flaky") == [i for i, _, _ in rows]
    assert receiver.resent == 4  # the batch whose answer timed out came again
    failed = [d for d in deliveries(database, "flaky") if d.status == "failed"]
    assert [d.attempts for d in failed] == [1, 2, 3, 4]
    assert all("500" in d.error for d in failed[:3]) and "timed out" in failed[3].error
    assert {(d.first, d.last) for d in failed} == {(rows[0][0], rows[3][0])}
    delivered = [d for d in deliveries(database, "flaky") if d.status == "delivered"]
    assert delivered[0].attempts == 5 and sum(d.events for d in delivered) == len(rows)
    # one access-log row per delivered batch, the retries (one re-sent) counted in it
    logged = exports(database, "flaky")
    assert [r.record_id for r in logged] == [f"{d.first}-{d.last}" for d in delivered]
    assert "attempts 5," in logged[0].purpose
    assert cursor(database, "flaky") == (rows[-1][0], len(rows))


def test_a_killed_feed_process_resumes_without_gap_or_duplicate(
    database: Database, settings: TicketSettings, tmp_path: Path
) -> None:
    database.upgrade()
    for n in (1, 2, 3):
        make_ticket(database, settings, n, FULL, T0 + timedelta(hours=n))
    rows = history_ids(database)
    receiver = Receiver(delay=0.05)
    receiver.start()
    worker: dict[str, subprocess.Popen[bytes]] = {}

    def kill_on_third(number: int) -> None:
        # the receiver has taken batch 3; the worker dies before it can move its cursor
        if number == 3:
            os.kill(worker["proc"].pid, signal.SIGKILL)

    receiver.after_accept = kill_on_third
    for name in ("protection.toml", "catalog.toml"):  # the feed masks by the catalogue
        shutil.copy(REPO / "config" / name, tmp_path / name)
    (tmp_path / "exports.toml").write_text(
        f"""
[[feed]]
name = "partner"
url = "{receiver.url}"
secret_env = "CC_TEST_FEED_SECRET"
role = "agent"
clear_fields = ["caller_number", "title", "note", "details"]
batch = 3
timeout = 5
backoff = 0.01
max_backoff = 0.05
poll = 0.05
""",
        encoding="utf-8",
    )
    env = dict(os.environ, CC_TEST_FEED_SECRET=SECRET.decode(), **{FILE_ENV: str(KEY_FILE)})
    script = [sys.executable, str(REPO / "tests" / "storage" / "feed_worker.py")]
    args = [str(tmp_path), database.url, "partner"]
    try:
        worker["proc"] = subprocess.Popen([*script, *args, "forever"], env=env)
        assert worker["proc"].wait(timeout=60) == -signal.SIGKILL
        assert cursor(database, "partner") == (rows[5][0], 6)  # two batches committed
        # the third batch reached the receiver, but its row would come with the cursor move
        assert [r.record_id for r in exports(database, "partner")] == [
            f"{rows[0][0]}-{rows[2][0]}",
            f"{rows[3][0]}-{rows[5][0]}",
        ]
        assert len(receiver.seqs("partner")) == 9
        again = subprocess.run([*script, *args, "once"], env=env, timeout=60, capture_output=True)
        assert again.returncode == 0, again.stderr.decode()
        assert f"本次送达 {len(rows) - 6} 条" in again.stdout.decode()
    finally:
        if "proc" in worker and worker["proc"].poll() is None:
            worker["proc"].kill()
        receiver.close()
    assert receiver.seqs("partner") == [i for i, _, _ in rows]
    assert receiver.resent == 3
    assert len(receiver.keys) - len(set(receiver.keys)) == 1
    assert cursor(database, "partner") == (rows[-1][0], len(rows))
    # the re-sent batch (same Idempotency-Key) has one row, like every other batch
    logged = exports(database, "partner")
    batches = [f"{rows[i][0]}-{rows[min(i + 2, len(rows) - 1)][0]}" for i in range(0, len(rows), 3)]
    assert [r.record_id for r in logged] == batches
    assert [k.split(":")[1] for k in dict.fromkeys(receiver.keys)] == batches
    assert {(r.role, r.fields) for r in logged} == {("agent", "caller_number,title,note,details")}


def test_a_missing_history_id_holds_the_feed_until_it_commits_or_its_grace_ends(
    database: Database, settings: TicketSettings, receiver: Receiver
) -> None:
    database.upgrade()
    first = make_ticket(database, settings, 1, [], T0)
    second = make_ticket(database, settings, 2, [], T0)
    config = feed("gaps", receiver.url, batch=50, gap_grace=30.0)
    stop = threading.Event()
    runner = FeedRunner(database, config, SECRET, redactor(config), "12345", stop, PHONE_KEYS)
    assert runner.run_once(now=1000.0) == 2
    top = history_ids(database)[-1][0]
    postgres = database.engine.dialect.name == "postgresql"

    def supervise(s: Session, ticket: int, at: datetime) -> None:
        store.transition(s, settings, ticket, Supervise("请加快办理"), SUPERVISOR, at)

    # a rolled-back insert leaves id top+1 missing for good
    if postgres:
        with database.session() as s:
            supervise(s, first, T0 + timedelta(hours=1))
            s.flush()
            s.rollback()
        database.transaction(lambda s: supervise(s, second, T0 + timedelta(hours=1)))
    else:  # SQLite reuses the id of a rolled-back insert: leave the hole by hand
        row = TicketHistory(
            id=top + 2, ticket_id=second, seq=1, action="supervise", actor="班长",
            role="supervisor", at=T0.timestamp() + 3600, from_status="accepted",
            to_status="accepted", note="请加快办理", details="{}",
        )  # fmt: skip
        database.transaction(lambda s: s.add(row))
    assert history_ids(database)[-1][0] == top + 2
    assert runner.run_once(now=1000.0) == 0
    assert runner.run_once(now=1030.0) == 0  # within the grace
    assert cursor(database, "gaps")[0] == top
    assert runner.run_once(now=1031.0) == 1  # past it: skipped
    assert receiver.seqs("gaps")[-1] == top + 2 and cursor(database, "gaps") == (top + 2, 3)

    if postgres:
        # a transaction still open holds an id below one committed after it
        late = database.session()
        supervise(late, first, T0 + timedelta(hours=2))
        late.flush()
        database.transaction(lambda s: store.comment(s, second, AGENT, "无关", T0))
        database.transaction(lambda s: supervise(s, second, T0 + timedelta(hours=2)))
        assert runner.run_once(now=2000.0) == 0  # the later row waits for the open one
        late.commit()
        late.close()
        assert runner.run_once(now=2000.0) == 2
        assert receiver.seqs("gaps")[-2:] == [top + 3, top + 4]
    assert receiver.seqs("gaps") == [i for i, _, _ in history_ids(database) if i != top + 1]
    assert receiver.resent == 0


def test_a_batch_whose_cursor_move_fails_leaves_no_access_log_row(
    database: Database, settings: TicketSettings, receiver: Receiver
) -> None:
    """The access-log row shares the cursor's transaction: when another runner moved the
    cursor meanwhile, neither the delivery nor the row is recorded."""
    database.upgrade()
    make_ticket(database, settings, 1, FULL[:2], T0)
    config = feed("raced", receiver.url, role="department", clear_fields=())
    runner = FeedRunner(
        database, config, SECRET, redactor(config), "12345", threading.Event(), PHONE_KEYS
    )
    runner.position()

    def another_runner(number: int) -> None:
        database.transaction(
            lambda s: s.execute(
                update(ExportCursor).where(ExportCursor.feed == "raced").values(position=1)
            )
        )

    receiver.after_accept = another_runner
    with pytest.raises(FeedError, match="cursor moved"):
        runner.run_once()
    assert len(receiver.seqs("raced")) == 3
    assert exports(database, "raced") == []
    assert [d.status for d in deliveries(database, "raced")] == []


def test_a_feed_whose_role_sends_personal_data_in_clear_must_list_it(
    database: Database, receiver: Receiver
) -> None:
    config = feed("loose", receiver.url, role="supervisor", clear_fields=("title",))
    with pytest.raises(FeedError, match="caller_number, note, details"):
        FeedRunner(database, config, SECRET, redactor(config))
