"""Migration 0011 on SQLite and PostgreSQL: a repeated caller's warning written at 0010 with a
digest of the phone number in its key keeps its row and is keyed by its first ticket alone;
other warnings' keys are untouched."""

from __future__ import annotations

import hashlib

from callcenter.storage.database import Database
from tests.storage.test_migration_0010 import migrate, rows, run

DIGEST = hashlib.sha256(b"13812345678").hexdigest()[:16]
KEYS = {
    1: (f"repeat_caller:{DIGEST}:4711", "repeat_caller:4711"),
    2: ("surge:110105:water:1795000000", "surge:110105:water:1795000000"),
    3: ("repeat_problem:abc:12", "repeat_problem:abc:12"),
}


def test_repeat_caller_keys_lose_the_number_digest(database: Database) -> None:
    migrate(database, "0010")
    run(
        database,
        "INSERT INTO warnings (id, kind, key, title, level, score, district, topic, onset_at, "
        "detected_at, evidence, state, acked_by, updated_at) VALUES "
        "(:id, 'repeat_caller', :key, '重复来电', 'yellow', 3, '', '', 1, 1, '{}', 'open', "
        "'', 1)",
        [{"id": i, "key": old} for i, (old, _) in KEYS.items()],
    )
    migrate(database, "head")
    assert dict(rows(database, "SELECT id, key FROM warnings")) == {
        i: new for i, (_, new) in KEYS.items()
    }
    assert not any(DIGEST in str(r) for r in rows(database, "SELECT * FROM warnings"))
