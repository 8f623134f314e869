"""The service checks every new ticket for early warnings, whatever path created it: here
tickets written straight through the ticket store (as the call-ticket maker and the API do)
raise a repeated-problem warning that reaches the bus."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.config import load_config
from callcenter.data.crypto import ephemeral_cipher
from callcenter.data.crypto import ephemeral_cipher as _phone_keys
from callcenter.service import Service, ServiceOptions
from callcenter.storage.database import Database
from callcenter.storage.schema import Warning as WarningRow
from callcenter.tickets import service as ticket_store
from callcenter.tickets.model import Actor, Role

PHONE_KEYS = _phone_keys()  # citizens' numbers are stored encrypted

REPO = Path(__file__).resolve().parents[2]
TEXT = "幸福家园小区3号楼从昨天开始停水，到现在还没有来水，家里老人孩子用水困难，希望尽快恢复供水"


async def test_new_tickets_are_checked_for_warnings(database: Database, tmp_path: Path) -> None:
    database.upgrade()
    options = ServiceOptions(db_url=database.url, workdir=tmp_path, cipher=ephemeral_cipher())
    service = Service(load_config(REPO / "config"), options)
    queue = service.bus.subscribe_warnings()
    task = asyncio.create_task(service._alerts(every=0.2))
    await asyncio.sleep(0.5)  # warmed up on an empty store
    agent = Actor("1001", Role.AGENT)
    for i in range(3):
        intake = ticket_store.Intake(
            channel="web",
            content=TEXT,
            caller_number=f"1380000{i:04d}",
            grid="110105003007",
        )

        def take(s: Session, intake: ticket_store.Intake = intake) -> None:
            ticket_store.create(
                s, service.ticket_settings, intake, agent, datetime.now(UTC), cipher=PHONE_KEYS
            )

        await asyncio.to_thread(service.database.transaction, take)
    deadline = time.monotonic() + 60
    while queue.empty() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    service.stop()
    await task
    raised = queue.get_nowait()
    assert (raised.kind, raised.new) == ("repeat_problem", True)
    with database.session() as s:
        assert s.scalars(select(WarningRow.kind)).all() == ["repeat_problem"]
    service.database.close()
