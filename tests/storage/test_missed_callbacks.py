"""漏接回拨 in storage (SQLite and PostgreSQL): a missed caller's callback task is stored with
its number encrypted, restored after a restart (pending ones, and today's numbers so that a
number gets one task a day), and counted for reports and /metrics: missed callers, called
back, reached, 回拨率 and the time to callback p50/p90."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest

from callcenter import domain
from callcenter.api.http import build_app
from callcenter.bus import Bus
from callcenter.live_figures.metrics import Metrics
from callcenter.live_figures.model import LiveFigures
from callcenter.outbound import callback_store
from callcenter.reports.build import SHANGHAI, build_report
from callcenter.reports.query import MissedCounts, Period, missed_totals
from callcenter.storage.database import Database
from callcenter.storage.recorder import CallRecorder
from callcenter.storage.schema import CallbackRecord
from callcenter.tickets.settings import load_ticket_settings
from tests.storage.test_phone_encryption import CIPHER, REPO, TOKEN, raw_rows
from tests.unit.fakes import running_runtime

DAY = datetime(2026, 12, 1, tzinfo=SHANGHAI).timestamp()
T = DAY + 9 * 3600  # 09:00 China time


def missed(n: int, number: str, at: float) -> domain.CallbackRequested:
    return domain.CallbackRequested(
        f"missed-c{n}", "a", number, "labor", -100, at, at, "missed", f"c{n}", "abandoned"
    )


def dialled(n: int, at: float, attempt: int = 1) -> domain.CallbackAttempt:
    return domain.CallbackAttempt(f"missed-c{n}", attempt, "1002", "agent", at)


def story() -> list[domain.DomainEvent]:
    """Six missed callers: three called back after 60, 120 and 600 s (one reached, one retried
    and given up, one dialled now), one still waiting, one merged, one returned."""
    return [
        missed(1, "13800000001", T),
        dialled(1, T + 60),
        domain.CallbackAttempt("missed-c1", 1, "1002", "answered", T + 70),
        domain.CallbackClosed("missed-c1", "completed", 1, T + 200),
        missed(2, "13800000002", T),
        dialled(2, T + 120),
        domain.CallbackAttempt("missed-c2", 1, "1002", "no_answer", T + 150),
        domain.CallbackScheduled("missed-c2", 1, T + 450, T + 150),
        dialled(2, T + 450, attempt=2),  # the retry: the first dial still counts
        domain.CallbackClosed("missed-c2", "unreached", 2, T + 480),
        missed(3, "13800000003", T),
        dialled(3, T + 600),
        missed(4, "13800000004", T + 10),
        domain.CallbackScheduled("missed-c4", 0, T + 3600, T + 10),
        missed(5, "13800000005", T),
        domain.CallbackClosed("missed-c5", "merged", 0, T + 30),
        missed(6, "13800000006", T),
        domain.CallbackClosed("missed-c6", "returned", 0, T + 40),
        # a queued callback (pressed 1) is not a missed caller
        domain.CallbackRequested("q1", "a", "13800000009", "labor", 0, T - 30, T),
    ]


async def record(database: Database, events: list[domain.DomainEvent]) -> None:
    database.upgrade(CIPHER)
    bus = Bus()
    recorder = CallRecorder(database, bus.subscribe("storage"), cipher=CIPHER)
    task = asyncio.create_task(recorder.run())
    for e in events:
        bus.publish(e)
    bus.close()
    await asyncio.wait_for(task, 60)


async def test_missed_call_tasks_are_stored_encrypted_and_restored(database: Database) -> None:
    await record(database, story())
    dump = raw_rows(database)
    assert "missed-c1" in dump and "13800000001" not in dump and "00000001" not in dump
    with database.session() as s:
        row = s.get(CallbackRecord, "missed-c2")
        assert row is not None
        assert (row.kind, row.missed_call_id, row.missed_reason) == ("missed", "c2", "abandoned")
        assert (row.state, row.attempts, row.first_dialed_at) == ("unreached", 2, T + 120)
        assert CIPHER.decrypt(row.number) == "13800000002"
        assert s.get(CallbackRecord, "q1").kind == "queued"  # type: ignore[union-attr]
    pending = callback_store.pending(database, CIPHER)
    by_id = {p.call_id: p for p in pending}
    assert set(by_id) == {"missed-c3", "missed-c4", "q1"}
    assert (by_id["missed-c4"].kind, by_id["missed-c4"].priority) == ("missed", -100)
    assert by_id["missed-c4"].due_at == T + 3600 and by_id["missed-c4"].number == "13800000004"
    assert by_id["q1"].kind == "queued"
    # the numbers that already had a task (blind index), for one task per number per day
    made = callback_store.missed_since(database, T - 1)
    assert sorted(made) == sorted(
        (CIPHER.phone_index(f"1380000000{n}"), T + (10 if n == 4 else 0)) for n in range(1, 7)
    )
    assert callback_store.missed_since(database, T + 11) == []


async def test_missed_callback_rate_and_time_to_callback(database: Database) -> None:
    await record(database, story())
    with database.engine.connect() as conn:
        found = missed_totals(conn, Period(DAY, DAY + 86400))
        elsewhere = missed_totals(conn, Period(DAY + 86400, DAY + 2 * 86400))
    # merged and returned citizens reached us themselves: 4 missed, 3 called back, 1 reached
    assert found == MissedCounts(missed=4, called_back=3, reached=1, p50=120.0, p90=600.0)
    assert elsewhere == MissedCounts()


async def test_daily_report_and_metrics_show_the_missed_callback_figures(
    database: Database,
) -> None:
    await record(database, story())
    start = datetime(2026, 12, 1, tzinfo=SHANGHAI)
    end = datetime(2026, 12, 2, tzinfo=SHANGHAI)
    report = build_report(database, "daily", start, end, [], "班长", store=False)
    lines = {line.key: line for line in report.kpis}
    assert (lines["missed_callers"].label, lines["missed_callers"].value) == ("漏接来电数", 4)
    assert lines["missed_callback_rate"].label == "漏接回拨率"
    assert lines["missed_callback_rate"].value == 0.75
    assert (lines["missed_callback_p50"].value, lines["missed_callback_p90"].value) == (120, 600)
    m = Metrics(LiveFigures(), clock=lambda: T + 3600)
    counts = database.transaction(m.read_storage)
    assert counts.missed_today == MissedCounts(4, 3, 1, 120.0, 600.0)
    m.observe_stored(counts)
    text = generate_latest(m.registry).decode()
    assert "callcenter_missed_callback_rate 0.75" in text
    assert 'callcenter_missed_callback_time_seconds{quantile="0.9"} 600.0' in text
    assert 'callcenter_missed_callers_today{stage="called_back"} 3.0' in text


async def test_callbacks_listing_filters_missed_tasks_and_refuses_an_unknown_kind(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await record(database, story())
    monkeypatch.setenv("CALLCENTER_API_TOKEN", TOKEN)
    monkeypatch.delenv("CALLCENTER_TOKENS_FILE", raising=False)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with running_runtime() as harness:
        app = build_app(
            harness.runtime,
            harness.stats,
            database,
            tmp_path / "recordings",
            load_ticket_settings(REPO / "config"),
            tmp_path / "attachments",
            cipher=CIPHER,
        )
        async with TestClient(TestServer(app)) as c:
            resp = await c.get("/api/callbacks?kind=missed", headers=headers)
            assert resp.status == 200
            rows = {r["call_id"]: r for r in (await resp.json())["callbacks"]}
            bad = await c.get("/api/callbacks?kind=lost", headers=headers)
            assert bad.status == 400
            assert (await bad.json())["error_id"] == "api.invalid"
    assert set(rows) == {f"missed-c{n}" for n in range(1, 7)}
    first = rows["missed-c1"]
    assert (first["number"], first["missed_call_id"], first["missed_reason"]) == (
        "138****0001",
        "c1",
        "abandoned",
    )
    assert (first["state"], first["first_dialed_at"]) == ("completed", T + 60)
