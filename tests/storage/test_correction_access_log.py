"""An ID-card correction decrypts the old number (to keep it masked in the audit): the
decryption is a row of the data access log, in the correction's transaction (SQLite and
PostgreSQL). A ticket without a number decrypts nothing and logs nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callcenter.data.crypto import FieldCipher, ephemeral_cipher
from callcenter.data.crypto import ephemeral_cipher as _phone_keys
from callcenter.data.quality.corrections import CorrectionError, correct
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, DataCorrection, Ticket
from callcenter.tickets import service as store
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import load_ticket_settings

PHONE_KEYS = _phone_keys()  # citizens' numbers are stored encrypted

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
OLD_ID = "110105194912310021"  # a wrong check digit, as typed
NEW_ID = "11010519491231002X"


def ticket(database: Database, cipher: FieldCipher | None, number: str = "") -> int:
    settings = load_ticket_settings(REPO / "config")
    phone = "13812340001" if number else "13812340000"  # two callers: two tickets
    intake = store.Intake(channel="phone", content=f"核对证件{phone}", caller_number=phone)
    made = database.transaction(
        lambda s: store.create(
            s, settings, intake, Actor("1001", Role.AGENT), T0, cipher=PHONE_KEYS
        )
    )
    if number and cipher is not None:
        with database.engine.begin() as conn:
            conn.execute(
                update(Ticket)
                .where(Ticket.id == made.ticket.id)
                .values(id_card=cipher.encrypt(number), id_card_hash=cipher.blind_index(number))
            )
    assert not made.linked
    return made.ticket.id


def fix(
    database: Database, cipher: FieldCipher, tid: int, value: str = NEW_ID, remote: str = ""
) -> None:
    database.transaction(
        lambda s: correct(
            s,
            cipher,
            "tickets",
            str(tid),
            "id_card",
            value,
            "核对证件",
            "班长",
            "supervisor",
            T0,
            remote=remote,
        )  # fmt: skip
    )


def log(database: Database) -> list[tuple[str, str, str, str, str, str, str, str]]:
    with database.session() as s:
        return [
            (r.actor, r.role, r.action, r.dataset, r.record_id, r.fields, r.purpose, r.remote)
            for r in s.scalars(select(DataAccess).order_by(DataAccess.id))
        ]


def test_the_old_number_decrypted_is_on_record(database: Database) -> None:
    database.upgrade()
    cipher = ephemeral_cipher()
    blank = ticket(database, None)
    fix(database, cipher, blank)  # no number before: nothing decrypted, nothing logged
    tid = ticket(database, cipher, OLD_ID)
    with pytest.raises(CorrectionError):
        fix(database, cipher, tid, OLD_ID)  # fails its check before anything is read
    assert log(database) == []
    fix(database, cipher, tid, remote="10.0.0.8")
    assert log(database) == [
        ("班长", "supervisor", "decrypt", "tickets", str(tid), "id_card", "correction", "10.0.0.8")
    ]
    with database.session() as s:
        done = s.scalars(select(DataCorrection).where(DataCorrection.record_id == str(tid))).one()
        assert (done.before, done.after) == ("110105********0021", "110105********002X")
    fix(database, cipher, tid, NEW_ID.lower())  # corrected again: decrypted again
    assert [row[4] for row in log(database)] == [str(tid), str(tid)]
