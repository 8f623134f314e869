"""The live early warning: tickets taken in through the ticket store, each checked as it
arrives. The third near-identical request about one grid raises a repeated-problem warning,
the fifth neighbour a cluster warning; both are published on the bus, later requests update
them (published again only when the level goes up) rather than raise others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.alerts.service import AlertService
from callcenter.alerts.settings import load_alerts
from callcenter.bus import Bus
from callcenter.data.crypto import ephemeral_cipher as _phone_keys
from callcenter.storage.database import Database
from callcenter.storage.schema import Warning as WarningRow
from callcenter.storage.schema import WarningTicket
from callcenter.tickets import service as ticket_store
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import load_ticket_settings

PHONE_KEYS = _phone_keys()  # citizens' numbers are stored encrypted

CONFIG = Path(__file__).resolve().parents[2] / "config"
TEXT = "幸福家园小区3号楼从昨天开始停水，到现在还没有来水，家里老人孩子用水困难，希望尽快恢复供水"


async def test_a_cluster_raised_once_and_published(database: Database) -> None:
    database.upgrade()
    settings = load_ticket_settings(CONFIG)
    bus = Bus()
    queue = bus.subscribe_warnings()
    service = AlertService(database, load_alerts(CONFIG), settings, bus)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert service.warm(start.timestamp()) == 0
    agent = Actor("1001", Role.AGENT)
    raised: list[list[int]] = []
    for i in range(7):
        intake = ticket_store.Intake(
            channel="phone",
            content=TEXT if i % 2 else f"{TEXT}。",
            caller_number=f"1380000{i:04d}",
            grid="110105003007",
            address="朝阳区幸福家园小区",
        )
        at = start + timedelta(minutes=10 * i)

        def take(s: Session, intake: ticket_store.Intake = intake, at: datetime = at) -> int:
            return ticket_store.create(s, settings, intake, agent, at, cipher=PHONE_KEYS).ticket.id

        raised.append(await service.on_ticket(database.transaction(take)))
    assert [len(r) for r in raised] == [0, 0, 1, 0, 1, 1, 0]
    events = [queue.get_nowait() for _ in range(3)]
    assert [(e.kind, e.new, e.level) for e in events] == [
        ("repeat_problem", True, "yellow"),
        ("cluster", True, "yellow"),
        ("repeat_problem", False, "orange"),  # six times: the level went up
    ]
    assert queue.empty()
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(WarningRow)) == 2
        assert s.scalar(select(func.count()).select_from(WarningTicket)) == 14
