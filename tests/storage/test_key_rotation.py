"""Key rotation of ticket ID-card numbers on SQLite and PostgreSQL: everything moves under the
new key in batches and reads with the new key alone, a second run rotates nothing, a run cut
short resumes, values no key can open are reported and left byte for byte, the CLI's exit
codes and Chinese report."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.data import rotation
from callcenter.data.crypto import INDEX_ENV, KEYS_ENV, FieldCipher, generate_key
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, Ticket
from callcenter.tickets import service as store
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import TicketSettings, load_ticket_settings

REPO = Path(__file__).resolve().parents[2]
AGENT = Actor("1001", Role.AGENT)
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
INDEX = generate_key()
OLD, NEW, STRANGER = generate_key(), generate_key(), generate_key()
NUMBERS = [f"11010519491231{n:03d}X" for n in range(7)]


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(REPO / "config")


def cipher(*keys: str) -> FieldCipher:
    return FieldCipher([k.encode() for k in keys], INDEX.encode())


def add(database: Database, settings: TicketSettings, number: str, under: FieldCipher) -> int:
    intake = store.Intake(channel="web", content=f"路灯不亮 {len(number)}", id_card=number)
    return database.transaction(
        lambda s: store.create(s, settings, intake, AGENT, T0, cipher=under).ticket.id
    )


def stored(database: Database) -> dict[int, tuple[str, str]]:
    with database.session() as s:
        rows = s.execute(select(Ticket.id, Ticket.id_card, Ticket.id_card_hash)).all()
        return {i: (c, h) for i, c, h in rows}


@pytest.fixture
def old_tickets(database: Database, settings: TicketSettings) -> tuple[list[int], list[int]]:
    """Seven numbers under OLD, one ticket without a number, one under a key nobody has and
    one under OLD's id whose token was damaged: (good ids, bad ids)."""
    database.upgrade()
    good = [add(database, settings, n, cipher(OLD)) for n in NUMBERS]
    add(database, settings, "", cipher(OLD))
    bad = [add(database, settings, "11010519491231999X", cipher(STRANGER))]
    damaged = add(database, settings, "11010519491231888X", cipher(OLD))
    with database.session() as s:
        row = s.get(Ticket, damaged)
        assert row is not None
        row.id_card = row.id_card[:-6] + "AAAAAA"
        s.commit()
    return good, bad + [damaged]


def test_everything_moves_under_the_new_key_and_reads_with_it_alone(
    database: Database, old_tickets: tuple[list[int], list[int]]
) -> None:
    good, bad = old_tickets
    before = stored(database)
    report = rotation.rotate_keys(database, cipher(NEW, OLD), batch=3)
    assert (report.rotated, report.already_current, report.undecryptable) == (7, 0, 2)
    assert report.undecryptable_ids == bad and report.changed_meanwhile == 0
    after = stored(database)
    alone = cipher(NEW)
    for ticket_id, number in zip(good, NUMBERS, strict=True):
        value, index = after[ticket_id]
        assert value.startswith(f"{alone.current}:") and alone.decrypt(value) == number
        assert index == before[ticket_id][1]  # the blind index does not rotate
    for ticket_id in bad:
        assert after[ticket_id] == before[ticket_id]  # reported, never touched
    assert sum(1 for v, _ in after.values() if v == "") == 1
    with database.session() as s:
        log = s.scalars(select(DataAccess)).one()
        assert (log.actor, log.action, log.dataset, log.fields) == (
            "key-rotation",
            "decrypt",
            "tickets",
            "id_card",
        )

    again = rotation.rotate_keys(database, cipher(NEW, OLD), batch=3)
    assert (again.rotated, again.already_current, again.undecryptable) == (0, 7, 2)
    assert stored(database) == after
    with database.session() as s:
        assert len(s.scalars(select(DataAccess)).all()) == 1  # nothing rotated, nothing logged


def test_a_run_cut_short_resumes_where_it_stopped(
    database: Database, old_tickets: tuple[list[int], list[int]]
) -> None:
    good, _ = old_tickets
    both = cipher(NEW, OLD)
    partly = rotation.RotationReport(both.current)
    last = database.transaction(
        partial(rotation._batch, cipher=both, after=0, size=4, report=partly)
    )
    assert partly.rotated == 4 and last == good[3]  # one batch done, then the run stopped
    report = rotation.rotate_keys(database, both, batch=1000)
    assert (report.rotated, report.already_current, report.undecryptable) == (3, 4, 2)
    assert all(cipher(NEW).can_decrypt(stored(database)[i][0]) for i in good)


def test_rotation_needs_a_positive_batch(database: Database) -> None:
    database.upgrade()
    with pytest.raises(ValueError, match="batch"):
        rotation.rotate_keys(database, cipher(NEW), batch=0)


def test_the_cli_reports_in_chinese_and_exits_by_outcome(
    database: Database,
    settings: TicketSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database.upgrade()
    for number in NUMBERS[:2]:
        add(database, settings, number, cipher(OLD))
    monkeypatch.delenv("CALLCENTER_DATA_KEY_FILE", raising=False)
    monkeypatch.delenv(KEYS_ENV, raising=False)
    assert rotation.main_rotate(database.url) == 2
    assert "密钥配置错误" in capsys.readouterr().err
    monkeypatch.setenv(KEYS_ENV, f"{NEW},{OLD}")
    monkeypatch.setenv(INDEX_ENV, INDEX)
    assert rotation.main_rotate(database.url) == 0
    out = capsys.readouterr().out
    assert "已轮换：2 条" in out and "无法解密（未改动）：0 条" in out
    stranger = add(database, settings, NUMBERS[3], cipher(STRANGER))
    assert rotation.main_rotate(database.url) == 1
    out = capsys.readouterr().out
    assert "已轮换：0 条" in out and "原已使用当前密钥：2 条" in out
    assert f"无法解密的工单：{stranger}" in out


def test_a_new_index_key_rebuilds_every_blind_index(
    database: Database, old_tickets: tuple[list[int], list[int]]
) -> None:
    """Lookups by ID number work under the new index key once reindexed; the numbers no key
    can open keep their hash; a second run changes nothing; the decrypts are on record."""
    good, bad = old_tickets
    before = stored(database)
    other = generate_key()
    moved = FieldCipher([OLD.encode()], other.encode())
    report = rotation.reindex(database, moved, batch=3)
    assert (report.reindexed, report.already_current, report.undecryptable) == (7, 0, 2)
    after = stored(database)
    for ticket_id, number in zip(good, NUMBERS, strict=True):
        assert after[ticket_id] == (before[ticket_id][0], moved.blind_index(number))
        assert after[ticket_id][1] != cipher(OLD).blind_index(number)
    for ticket_id in bad:
        assert after[ticket_id] == before[ticket_id]
    again = rotation.reindex(database, moved, batch=3)
    assert (again.reindexed, again.already_current) == (0, 7)
    with database.session() as s:
        logged = s.scalars(select(DataAccess.fields)).all()
        assert logged == ["id_card,id_card_hash", "id_card,id_card_hash"]


def test_the_cli_rebuilds_the_index_on_request(
    database: Database,
    settings: TicketSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database.upgrade()
    first = add(database, settings, NUMBERS[0], cipher(OLD))
    other = generate_key()
    monkeypatch.delenv("CALLCENTER_DATA_KEY_FILE", raising=False)
    monkeypatch.setenv(KEYS_ENV, OLD)
    monkeypatch.setenv(INDEX_ENV, other)
    assert rotation.main_rotate(database.url) == 0
    assert "已重建索引" not in capsys.readouterr().out  # not asked
    assert rotation.main_rotate(database.url, index=True) == 0
    assert "已重建索引：1 条" in capsys.readouterr().out
    with database.session() as s:
        row = s.get(Ticket, first)
        assert row is not None
        assert row.id_card_hash == FieldCipher([OLD.encode()], other.encode()).blind_index(
            NUMBERS[0]
        )
