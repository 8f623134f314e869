"""Tickets in the store on SQLite and PostgreSQL: intake pre-filled by the classifier,
repeat requests linked, every transition through the pure lifecycle with its history, a
refused transition changing nothing, full-text search over segmented Chinese, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from callcenter.data.crypto import ephemeral_cipher as _phone_keys
from callcenter.storage.database import Database
from callcenter.tickets import service as store
from callcenter.tickets.actions import (
    AcceptHandling,
    Action,
    Approve,
    Close,
    Dispatch,
    Reply,
    Return,
)
from callcenter.tickets.errors import IllegalTransition, NotAllowed
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import TicketSettings, load_ticket_settings

PHONE_KEYS = _phone_keys()  # citizens' numbers are stored encrypted

REPO = Path(__file__).resolve().parents[2]
AGENT = Actor("1001", Role.AGENT)
SUPERVISOR = Actor("班长", Role.SUPERVISOR)
WATER = Actor("水务局", Role.DEPARTMENT, "water")
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(REPO / "config")


def intake(content: str, number: str = "13812345678", **kw: object) -> store.Intake:
    return store.Intake(channel="phone", content=content, caller_number=number, **kw)  # type: ignore[arg-type]


def test_a_call_becomes_a_prefilled_ticket(database: Database, settings: TicketSettings) -> None:
    database.upgrade()
    made = database.transaction(
        lambda s: store.create(
            s,
            settings,
            intake("小区停水三天了，什么时候恢复供水", call_id="c1", did="12345", agent_id="1001"),
            AGENT,
            T0,
            cipher=PHONE_KEYS,
        )
    )
    assert not made.linked
    with database.session() as s:
        row = store.get(s, made.ticket.id)
        assert row.number.startswith("20261124") and row.status == "accepted"
        assert (row.call_id, row.did, row.agent_id) == ("c1", "12345", "1001")
        assert row.topic == "water_supply"
        assert row.deadline is not None and row.deadline > row.created_at
        assert '"department": "water"' in row.proposal
        assert [h.action for h in store.history(s, row.id)] == ["accept"]


def test_same_caller_similar_request_is_linked_not_duplicated(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    first = database.transaction(
        lambda s: store.create(
            s, settings, intake("小区停水三天了没人管"), AGENT, T0, cipher=PHONE_KEYS
        )
    )
    again = database.transaction(
        lambda s: store.create(
            s,
            settings,
            intake("停水三天了还没人管"),
            AGENT,
            T0 + timedelta(hours=5),
            cipher=PHONE_KEYS,
        )
    )
    other = database.transaction(
        lambda s: store.create(
            s,
            settings,
            intake("楼下饭店油烟太大"),
            AGENT,
            T0 + timedelta(hours=6),
            cipher=PHONE_KEYS,
        )
    )
    stranger = database.transaction(
        lambda s: store.create(
            s, settings, intake("小区停水三天了没人管", "13900000000"), AGENT, T0, cipher=PHONE_KEYS
        )
    )
    assert again.linked and again.ticket.id == first.ticket.id and again.similarity >= 0.45
    assert not other.linked and not stranger.linked
    with database.session() as s:
        assert store.get(s, first.ticket.id).repeats == 1
        assert "重复来电" in store.comments(s, first.ticket.id)[0].text


def test_lifecycle_in_the_store_and_a_refused_step_changes_nothing(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    made = database.transaction(
        lambda s: store.create(
            s, settings, intake("自来水管爆了，路面全是水"), AGENT, T0, cipher=PHONE_KEYS
        )
    )
    tid = made.ticket.id
    steps: list[tuple[Action, Actor]] = [
        (Dispatch("water"), AGENT),
        (AcceptHandling(), WATER),
        (Reply("已派人抢修，当日恢复"), WATER),
        (Approve(), SUPERVISOR),
        (Close(), SUPERVISOR),
    ]
    for i, (action, actor) in enumerate(steps, 1):
        at = T0 + timedelta(minutes=i)
        database.transaction(
            partial(
                store.transition,
                settings=settings,
                ticket_id=tid,
                action=action,
                actor=actor,
                at=at,
            )
        )
    with database.session() as s:
        row = store.get(s, tid)
        assert row.status == "closed" and row.version == 5 and row.closed_at is not None
        kept = [(h.seq, h.action, h.from_status, h.to_status) for h in store.history(s, tid)]
    assert kept[-1] == (5, "close", "reviewed", "closed")
    for action, actor, error in (
        (Return("不归我们管"), WATER, IllegalTransition),
        (Dispatch("gas"), WATER, NotAllowed),
    ):
        with pytest.raises(error):
            database.transaction(
                partial(
                    store.transition,
                    settings=settings,
                    ticket_id=tid,
                    action=action,
                    actor=actor,
                    at=T0 + timedelta(hours=1),
                )
            )
    with database.session() as s:
        assert store.get(s, tid).version == 5
        assert len(store.history(s, tid)) == len(kept)


def test_full_text_search_filters_and_paging(database: Database, settings: TicketSettings) -> None:
    database.upgrade()
    texts = [
        ("13800000001", "小区门口违章停车堵住消防通道"),
        ("13800000002", "夜间施工噪音扰民严重"),
        ("13800000003", "公司拖欠工资三个月"),
        ("13800000004", "又有车辆违章停车在人行道上"),
    ]
    for i, (number, content) in enumerate(texts):
        at = T0 + timedelta(minutes=i)
        database.transaction(
            partial(
                store.create,
                settings=settings,
                intake=intake(content, number),
                actor=AGENT,
                at=at,
                cipher=PHONE_KEYS,
            )
        )
    database.transaction(lambda s: store.attach_transcript(s, "none", "无关"))
    with database.session() as s:
        total, rows = store.search(s, store.Filters(q="违章停车"))
        clear = PHONE_KEYS.decrypt  # numbers are stored encrypted
        assert total == 2
        assert {clear(r.caller_number) for r in rows} == {"13800000001", "13800000004"}
        total, rows = store.search(s, store.Filters(q="工资"))
        assert [clear(r.caller_number) for r in rows] == ["13800000003"]
        total, rows = store.search(s, store.Filters(), page=2, per_page=3)
        assert total == 4 and len(rows) == 1 and clear(rows[0].caller_number) == "13800000001"
        total, _ = store.search(s, store.Filters(status="closed"))
        assert total == 0
