"""The database: a sync SQLAlchemy engine used from worker threads, migrated by Alembic."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from callcenter.data.crypto import FieldCipher
from callcenter.storage.schema import AgentStatusRecord, CallRecord

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")

SQLITE_BUSY_MS = 30_000


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Write-ahead logging, so a long read (a report, the inspection's scan) never blocks the
    engine's writes nor they the read; and a writer waits up to 30 s for another's commit
    instead of failing at once. WAL is kept in the file; an in-memory database ignores it."""
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    finally:
        cursor.close()


class Database:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self, cipher: FieldCipher | None = None) -> None:
        """Apply every migration (idempotent). `cipher` encrypts what a migration must
        encrypt (else the keys of the environment, when there is something to encrypt)."""
        cfg = AlembicConfig()
        if cipher is not None:
            cfg.attributes["cipher"] = cipher
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    def session(self) -> Session:
        return self._sessions()

    def transaction(self, work: Callable[[Session], T]) -> T:
        with self._sessions.begin() as session:
            return work(session)

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.session() as s:
            s.execute(select(1))

    def load_agent_statuses(self) -> dict[str, tuple[str, str]]:
        with self.session() as s:
            rows = s.scalars(select(AgentStatusRecord)).all()
            return {r.agent_id: (r.status, r.reason) for r in rows}

    def recent_call_count(self, cipher: FieldCipher, caller_number: str, since: float) -> int:
        """Calls from this number since then, found by its blind index."""
        with self.session() as s:
            query = select(func.count()).where(
                CallRecord.caller_number_hash == cipher.phone_index(caller_number),
                CallRecord.joined_at >= since,
            )
            return int(s.scalar(query) or 0)

    def recent_callers(self, since: float) -> list[tuple[str, float]]:
        """(blind index of the caller's number, joined at) of every call since then: seeds
        the repeat-caller rule, which keys callers by the same index (nothing decrypted)."""
        with self.session() as s:
            query = (
                select(CallRecord.caller_number_hash, CallRecord.joined_at)
                .where(CallRecord.joined_at >= since, CallRecord.caller_number_hash != "")
                .order_by(CallRecord.joined_at)
            )
            return [(index, at) for index, at in s.execute(query)]

    def call(self, call_id: str) -> CallRecord | None:
        with self.session() as s:
            return s.get(CallRecord, call_id)

    def close(self) -> None:
        self.engine.dispose()
