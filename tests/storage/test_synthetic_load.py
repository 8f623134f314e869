"""Loading a small synthetic year into SQLite and PostgreSQL: counts, the ticket store reads
the generated tickets, new tickets get fresh ids afterwards, the change log has every ticket,
the ground-truth files agree with the database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from callcenter.config import load_config
from callcenter.data.crypto import FILE_ENV, KEYS_ENV, ephemeral_cipher
from callcenter.data.crypto import ephemeral_cipher as _phone_keys
from callcenter.storage.database import Database
from callcenter.storage.schema import (
    CallRecord,
    ChangeLog,
    RefDepartment,
    RefEnterprise,
    RefGrid,
    RefHoliday,
    Survey,
    Ticket,
    TicketHistory,
)
from callcenter.synthetic import main_synth
from callcenter.synthetic.command import holiday_names
from callcenter.synthetic.load import NotEmpty, load
from callcenter.synthetic.truth import (
    TruthWriter,
    read_defects,
    read_events,
    read_manifest,
    read_persons,
)
from callcenter.synthetic.year import Year, YearSpec
from callcenter.tickets import service as store
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import load_ticket_settings

PHONE_KEYS = _phone_keys()  # citizens' numbers are stored encrypted

CONFIG = Path(__file__).resolve().parents[2] / "config"
TICKETS = 2000


def _indexes(db: Database) -> set[str]:
    if db.engine.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE tablename IN ('tickets', 'ticket_history')"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    with db.engine.connect() as conn:
        return {str(name) for (name,) in conn.execute(text(query))}


def test_a_small_year_loads_and_the_store_reads_it(database: Database, tmp_path: Path) -> None:
    database.upgrade()
    settings = load_ticket_settings(CONFIG)
    year = Year(
        YearSpec(TICKETS, seed=3, start=date(2026, 1, 1), defect_rate=0.03),
        settings,
        load_config(CONFIG).numbers,
        ephemeral_cipher(),
        holiday_names(CONFIG),
    )
    writer = TruthWriter(tmp_path)
    indexes = _indexes(database)
    stats = load(database, year, writer, batch_size=700)
    assert _indexes(database) == indexes  # dropped for the COPY, built again
    assert any("search" in name for name in indexes) or database.engine.dialect.name == "sqlite"
    writer.finish([e.truth(year.zone) for e in year.events], {"counts": stats.rows})

    with database.session() as s:
        models = {
            "tickets": Ticket,
            "ticket_history": TicketHistory,
            "calls": CallRecord,
            "surveys": Survey,
            "ref_departments": RefDepartment,
            "ref_grids": RefGrid,
            "ref_holidays": RefHoliday,
            "ref_enterprises": RefEnterprise,
        }
        counted = {
            name: int(s.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in models.items()
        }
        assert counted == stats.rows
        assert counted["tickets"] == TICKETS
        assert counted["ticket_history"] > 5 * TICKETS
        assert counted["calls"] > TICKETS / 2

        changed = s.scalar(select(func.count(func.distinct(ChangeLog.record_id))))
        assert changed == TICKETS

        row = store.get(s, 1)
        assert row.number.endswith("000001")
        entries = store.history(s, row.id)
        assert entries[0].action == "accept"
        assert [e.seq for e in entries] == list(range(len(entries)))
        assert entries[-1].to_status == row.status

        total, found = store.search(s, store.Filters(q="暖气"), per_page=5)
        assert total > 0
        assert all("暖气" in r.content or "暖气" in r.title for r in found if r.content)
        total, found = store.search(s, store.Filters(status="evaluated"), per_page=3)
        assert total > TICKETS / 2

    def create(s: Session) -> int:
        made = store.create(
            s,
            settings,
            store.Intake(
                channel="web", content="小区门口路灯不亮，请尽快维修", caller_number="13800000001"
            ),
            Actor("1001", Role.AGENT),
            datetime(2027, 1, 2, 9, tzinfo=UTC),
            cipher=PHONE_KEYS,
        )
        s.flush()
        return made.ticket.id

    new_id = database.transaction(create)
    assert new_id == TICKETS + 1
    with database.session() as s:
        assert store.history(s, new_id)[0].id == counted["ticket_history"] + 1

    assert len(read_persons(tmp_path)) == TICKETS
    defects = read_defects(tmp_path)
    assert sum(year.defect_counts.values()) == len(defects) > 0
    events = read_events(tmp_path)
    assert {e["kind"] for e in events} == {"surge", "cluster"}
    assert read_manifest(tmp_path)["counts"]["tickets"] == TICKETS

    with pytest.raises(NotEmpty):
        load(database, year)


def test_main_synth_writes_a_year_and_its_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEYS_ENV, raising=False)
    monkeypatch.delenv(FILE_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'synth.db'}"
    truth = tmp_path / "truth"
    code = main_synth(url, 400, 9, date(2026, 1, 1), truth, CONFIG, 0.02)
    assert code == 0
    manifest = read_manifest(truth)
    assert manifest["seed"] == 9 and manifest["counts"]["tickets"] == 400
    assert set(manifest["defects"]) >= {"phone.format", "access.undecryptable"}
    assert (truth / "keys.toml").exists()  # no keys configured: a sandbox key file
    db = Database(url)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tickets")).scalar() == 400
    db.close()
    assert main_synth(url, 400, 9, date(2026, 1, 1), truth, CONFIG, 0.02) == 1
