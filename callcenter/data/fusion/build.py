"""Rebuild the fused profiles and the topic libraries from the store (GB/T 44192 6.3).

A full rebuild: tickets (streamed in chunks, filed under the topic libraries on the way),
calls, queued callbacks and 回访 are read, matched in memory (`match.fuse`), and `profiles`,
`profile_links` and `ticket_topics` are replaced in one transaction: on PostgreSQL TRUNCATE
and COPY through the driver connection (readers wait for the short write phase, then see
the new profiles whole), elsewhere DELETE and bulk INSERT. Profile ids are numbered 1..N in
the order of first appearance, so a rebuild over the same data gives the same ids.
"""

from __future__ import annotations

import gc
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, Engine, Table, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex

from callcenter.data.audit import record_access
from callcenter.data.crypto import FieldCipher, KeyConfigError, Undecryptable, load_cipher
from callcenter.data.fusion.match import ENTERPRISE, Cluster, Record, Ref, fuse
from callcenter.data.fusion.topics import LIBRARIES, Vocabulary, vocabulary
from callcenter.storage.database import Database
from callcenter.storage.schema import (
    CallbackRecord,
    CallRecord,
    Profile,
    ProfileLink,
    RefEnterprise,
    Survey,
    Ticket,
    TicketTopic,
)
from callcenter.tickets.settings import TicketSettings, load_ticket_settings
from callcenter.tomlreader import ConfigError

CHUNK = 20_000

PROFILE_COLUMNS = (
    "id",
    "kind",
    "name",
    "phone",
    "phone_hash",
    "id_card_hash",
    "enterprise_code",
    "records",
    "first_seen",
    "last_seen",
    "run_at",
)
LINK_COLUMNS = ("profile_id", "record_type", "record_id", "via", "at")
TOPIC_COLUMNS = ("library", "term", "ticket_id")


@dataclass(frozen=True)
class FuseStats:
    tickets: int
    calls: int
    callbacks: int
    surveys: int
    profiles: dict[str, int]  # by kind; "unidentified" counts the phone-only person profiles
    links: dict[str, int]  # by via
    topics: dict[str, int]  # rows by library
    unlinked: int  # records no key could place
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)  # read, match, write

    @property
    def tickets_per_second(self) -> float:
        return self.tickets / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> list[str]:
        """The run in Chinese, for the console."""
        kinds = self.profiles
        vias = "，".join(f"{via} {n}" for via, n in sorted(self.links.items())) or "无"
        return [
            f"数据融合完成：工单 {self.tickets}，来电 {self.calls}，"
            f"排队回拨 {self.callbacks}，回访 {self.surveys}",
            f"画像 {sum(v for k, v in kinds.items() if k != 'unidentified')} 个："
            f"市民 {kinds.get('person', 0)}（其中仅凭电话 {kinds.get('unidentified', 0)}），"
            f"企业 {kinds.get('enterprise', 0)}",
            f"关联 {sum(self.links.values())} 条（{vias}），无法关联 {self.unlinked} 条",
            "主题库：" + "，".join(f"{lib} {self.topics.get(lib, 0)}" for lib in LIBRARIES),
            f"用时 {self.seconds:.1f} 秒（读取 {self.phases.get('read', 0):.1f}，"
            f"匹配 {self.phases.get('match', 0):.1f}，写入 {self.phases.get('write', 0):.1f}），"
            f"每秒 {self.tickets_per_second:.0f} 张工单",
        ]


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Read:
    records: list[Record] = field(default_factory=list)
    # (library, term) -> ticket ids, ascending: written in primary-key order
    topics: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)


def _stream(conn: Connection, query: Any, chunk: int) -> Iterator[Sequence[Any]]:
    result = conn.execution_options(yield_per=chunk).execute(query)
    yield from result.partitions()


class _PhoneBook:
    """Clear numbers of the encrypted ones (tickets, calls, callbacks, surveys): one decrypt
    per distinct number (by its blind index), counted for the access log."""

    def __init__(self, cipher: FieldCipher | None) -> None:
        self.cipher = cipher
        self.numbers: dict[str, str] = {}
        self.decrypted = 0
        self.undecryptable = 0

    def clear(self, stored: str, index: str) -> str:
        if not stored:
            return ""
        known = self.numbers.get(index)
        if known is not None:
            return known
        if self.cipher is None:
            raise KeyConfigError(
                "citizens' phone numbers are stored encrypted: fusion needs the "
                "data keys (see callcenter.data.crypto)"
            )
        self.decrypted += 1
        try:
            plain = self.cipher.decrypt(stored)
        except Undecryptable:
            self.undecryptable += 1
            return ""  # linked by its call or ticket only; never guessed
        self.numbers[index] = plain
        return plain


def _read(conn: Connection, vocab: Vocabulary, chunk: int, book: _PhoneBook) -> _Read:
    out = _Read()
    by_call: dict[str, list[Ref]] = defaultdict(list)
    tickets = select(
        Ticket.id,
        Ticket.caller_number,
        Ticket.caller_number_hash,
        Ticket.caller_name,
        Ticket.id_card_hash,
        Ticket.enterprise_code,
        Ticket.enterprise_name,
        Ticket.call_id,
        Ticket.created_at,
        Ticket.department,
        Ticket.topic,
        Ticket.request_type,
    ).order_by(Ticket.id)
    terms: dict[tuple[str | None, str, str], tuple[str, str, str]] = {}
    for rows in _stream(conn, tickets, chunk):
        for tid, stored, index, name, id_hash, code, ent, call_id, at, dept, topic, kind in rows:
            phone = book.clear(stored, index)
            ref = Ref("ticket", str(tid))
            out.records.append(Record("ticket", ref.record_id, phone, name, id_hash, code, at, ent))
            if call_id:
                by_call[call_id].append(ref)
            key = (dept, topic, kind)
            filed = terms.get(key)
            if filed is None:
                filed = terms[key] = vocab.file(dept, topic, kind)
            for library, term in zip(LIBRARIES, filed, strict=True):
                filed_under = out.topics.get((library, term))
                if filed_under is None:
                    filed_under = out.topics[(library, term)] = []
                filed_under.append(tid)
        out.counts["tickets"] += len(rows)
    calls = select(
        CallRecord.call_id,
        CallRecord.caller_number,
        CallRecord.caller_number_hash,
        CallRecord.joined_at,
    )
    for rows in _stream(conn, calls.order_by(CallRecord.call_id), chunk):
        for call_id, stored, index, at in rows:
            phone = book.clear(stored, index)
            out.records.append(
                Record("call", call_id, phone, at=at, follows=tuple(by_call.get(call_id, ())))
            )
        out.counts["calls"] += len(rows)
    callbacks = select(
        CallbackRecord.call_id,
        CallbackRecord.number,
        CallbackRecord.number_hash,
        CallbackRecord.requested_at,
    )
    for rows in _stream(conn, callbacks.order_by(CallbackRecord.call_id), chunk):
        for call_id, stored, index, at in rows:
            number = book.clear(stored, index)
            out.records.append(
                Record("callback", call_id, number, at=at, follows=(Ref("call", call_id),))
            )
        out.counts["callbacks"] += len(rows)
    surveys = select(
        Survey.id, Survey.ticket_id, Survey.number, Survey.number_hash, Survey.created_at
    )
    for rows in _stream(conn, surveys.order_by(Survey.id), chunk):
        for sid, ticket_id, stored, index, at in rows:
            number = book.clear(stored, index)
            follows = (Ref("ticket", str(ticket_id)),)
            out.records.append(Record("survey", str(sid), number, at=at, follows=follows))
        out.counts["surveys"] += len(rows)
    return out


def _registry_names(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    """Names of these enterprises in the imported registry."""
    wanted = sorted(set(codes))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 1000):
        part = wanted[start : start + 1000]
        rows = conn.execute(
            select(RefEnterprise.code, RefEnterprise.name).where(RefEnterprise.code.in_(part))
        )
        names.update({code: name for code, name in rows if name})
    return names


# --- rows ------------------------------------------------------------------------------------


def profile_rows(
    clusters: Sequence[Cluster],
    run_at: float,
    registry: dict[str, str],
    cipher: FieldCipher | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The profiles' rows; a profile's phone is stored encrypted with its blind index (a
    number needs `cipher`: KeyConfigError without one)."""
    for number, c in enumerate(clusters, start=1):
        name = registry.get(c.enterprise_code, c.name) if c.kind == ENTERPRISE else c.name
        phone, phone_hash = "", ""
        if c.phone:
            if cipher is None:
                raise KeyConfigError("a profile's phone number is stored encrypted: no data keys")
            phone, phone_hash = cipher.seal_phone(c.phone[:32])
        yield (
            number,
            c.kind,
            name[:128],
            phone,
            phone_hash,
            c.id_hash[:64],
            c.enterprise_code[:18],
            len(c.members),
            c.first_seen,
            c.last_seen,
            run_at,
        )


def link_rows(clusters: Sequence[Cluster]) -> Iterator[tuple[Any, ...]]:
    for number, c in enumerate(clusters, start=1):
        for m in c.members:
            yield (number, m.record_type, m.record_id, m.via, m.at)


def topic_rows(topics: dict[tuple[str, str], list[int]]) -> Iterator[tuple[Any, ...]]:
    for library, term in sorted(topics):
        for ticket_id in topics[(library, term)]:
            yield (library, term, ticket_id)


# --- writing ---------------------------------------------------------------------------------

_TABLES: tuple[tuple[type[Profile | ProfileLink | TicketTopic], tuple[str, ...]], ...] = (
    (Profile, PROFILE_COLUMNS),
    (ProfileLink, LINK_COLUMNS),
    (TicketTopic, TOPIC_COLUMNS),
)


def _table(model: type[Profile | ProfileLink | TicketTopic]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _write_postgresql(engine: Engine, tables: Sequence[Iterable[tuple[Any, ...]]]) -> None:
    raw = engine.raw_connection()
    try:
        driver = cast(psycopg.Connection[Any], raw.driver_connection)
        with driver.cursor() as cur:
            cur.execute("TRUNCATE profile_links, profiles, ticket_topics")
            # the secondary indexes of schema.py are built once after the load (much faster
            # than row by row); the primary keys stay and check every row
            indexes = [index for table, _ in _TABLES for index in _table(table).indexes]
            for index in indexes:
                cur.execute(f'DROP INDEX IF EXISTS "{index.name}"')
            for (table, columns), rows in zip(_TABLES, tables, strict=True):
                sql = f"COPY {table.__tablename__} ({', '.join(columns)}) FROM STDIN"
                with cur.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            for index in indexes:
                cur.execute(str(CreateIndex(index).compile(dialect=engine.dialect)))
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('profiles', 'id'), "
                "GREATEST((SELECT max(id) FROM profiles), 1))"
            )
        driver.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


def _write_generic(engine: Engine, tables: Sequence[Iterable[tuple[Any, ...]]]) -> None:
    with engine.begin() as conn:
        for table, _ in reversed(_TABLES):
            conn.execute(delete(table))
        for (table, columns), rows in zip(_TABLES, tables, strict=True):
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(dict(zip(columns, row, strict=True)))
                if len(batch) >= CHUNK:
                    conn.execute(insert(table), batch)
                    batch = []
            if batch:
                conn.execute(insert(table), batch)


# --- the rebuild -----------------------------------------------------------------------------


def rebuild(
    engine: Engine,
    settings: TicketSettings,
    now: float | None = None,
    chunk: int = CHUNK,
    cipher: FieldCipher | None = None,
) -> FuseStats:
    """Replace every profile, profile link and topic filing from the store's records. The
    encrypted numbers of tickets, calls, callbacks and surveys are decrypted with `cipher`
    (KeyConfigError
    without one when there are any), once per distinct number, and the run's decrypts are
    one row of the data access log (none when it decrypted nothing)."""
    collecting = gc.isenabled()
    gc.disable()  # millions of small objects and no cycles: the collector would only rescan
    try:
        return _rebuild(engine, settings, now, chunk, _PhoneBook(cipher))
    finally:
        if collecting:
            gc.enable()


def _rebuild(
    engine: Engine, settings: TicketSettings, now: float | None, chunk: int, book: _PhoneBook
) -> FuseStats:
    started = time.perf_counter()
    with engine.connect() as conn:
        vocab = vocabulary(conn, settings)
        read = _read(conn, vocab, chunk, book)
        read_done = time.perf_counter()
        fusion = fuse(read.records)
        read.records.clear()
        codes = [c.enterprise_code for c in fusion.clusters if c.kind == ENTERPRISE]
        registry = _registry_names(conn, codes)
    matched = time.perf_counter()
    run_at = time.time() if now is None else now
    clusters = fusion.clusters
    tables = (
        profile_rows(clusters, run_at, registry, book.cipher),
        link_rows(clusters),
        topic_rows(read.topics),
    )
    if engine.dialect.name == "postgresql":
        _write_postgresql(engine, tables)
    else:
        _write_generic(engine, tables)
    if book.decrypted:
        with Session(engine) as s, s.begin():
            record_access(
                s,
                "fusion",
                "system",
                "decrypt",
                "calls",
                fields=(
                    "caller_number",
                    "callbacks.number",
                    "tickets.caller_number",
                    "surveys.number",
                ),
                purpose=f"profile fusion by phone: {book.decrypted} distinct numbers decrypted,"
                f" {book.undecryptable} undecryptable",
            )
    done = time.perf_counter()
    profiles = Counter(c.kind for c in clusters)
    profiles["unidentified"] = sum(1 for c in clusters if not c.identified)
    return FuseStats(
        tickets=read.counts["tickets"],
        calls=read.counts["calls"],
        callbacks=read.counts["callbacks"],
        surveys=read.counts["surveys"],
        profiles=dict(profiles),
        links=dict(Counter(m.via for c in clusters for m in c.members)),
        topics={
            library: sum(len(ids) for (lib, _), ids in read.topics.items() if lib == library)
            for library in LIBRARIES
        },
        unlinked=fusion.unlinked,
        seconds=done - started,
        phases={"read": read_done - started, "match": matched - read_done, "write": done - matched},
    )


def main_fuse(config_dir: Path, db_url: str) -> int:
    """`callcenter data fuse`: rebuild the profiles and topic libraries. Returns 0 when done,
    2 when the ticket settings (departments, knowledge, tickets.toml) are wrong, 1 when the
    database refused (stderr says why)."""
    try:
        settings = load_ticket_settings(config_dir)
    except ConfigError as exc:
        print(f"工单配置有误：\n{exc}", file=sys.stderr)
        return 2
    try:
        cipher = load_cipher()
    except KeyConfigError as exc:
        print(f"密钥配置错误：{exc}", file=sys.stderr)
        return 2
    db = Database(db_url)
    try:
        db.upgrade(cipher)
        stats = rebuild(db.engine, settings, cipher=cipher)
    except (SQLAlchemyError, psycopg.Error) as exc:
        print(f"数据融合失败：{exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    print("\n".join(stats.summary()))
    return 0


__all__ = ["FuseStats", "link_rows", "main_fuse", "profile_rows", "rebuild", "topic_rows"]
