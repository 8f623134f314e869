"""Bulk loading of a synthetic year: PostgreSQL through COPY (psycopg 3, one connection per
table so the server parses one table while Python makes the next rows), SQLite through
executemany in large transactions. Rows carry explicit ids (truth files name them). On
PostgreSQL the secondary indexes of the four big tables are dropped during the COPY and built
again from their own definitions afterwards (the full-text GIN index above all is many times
cheaper to build once than to keep up row by row); the triggers stay, so the change log gets
every ticket. The sequences are then moved past the ids and the tables analysed.

The tables must be empty: a year is loaded into a fresh (migrated) database."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from callcenter.errors import CallcenterError
from callcenter.storage.database import Database
from callcenter.synthetic.truth import TruthWriter
from callcenter.synthetic.year import (
    CALL_COLUMNS,
    DEPARTMENT_COLUMNS,
    ENTERPRISE_COLUMNS,
    GRID_COLUMNS,
    HISTORY_COLUMNS,
    HOLIDAY_COLUMNS,
    SURVEY_COLUMNS,
    TICKET_COLUMNS,
    Batch,
    Reference,
    Row,
    Year,
)

STREAMS: tuple[tuple[str, tuple[str, ...], Callable[[Batch], list[Row]]], ...] = (
    ("tickets", TICKET_COLUMNS, lambda b: b.tickets),
    ("ticket_history", HISTORY_COLUMNS, lambda b: b.history),
    ("calls", CALL_COLUMNS, lambda b: b.calls),
    ("surveys", SURVEY_COLUMNS, lambda b: b.surveys),
)
SEQUENCED = ("tickets", "ticket_history", "surveys")
MUST_BE_EMPTY = ("tickets", "ticket_history", "calls", "surveys", "ref_departments", "ref_grids")


class NotEmpty(CallcenterError):
    """A table the synthetic data goes to already holds rows."""

    status = 409
    error_id = "synthetic.not_empty"


@dataclass
class LoadStats:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def tickets_per_second(self) -> float:
        return self.rows.get("tickets", 0) / self.seconds if self.seconds else 0.0

    @property
    def rows_per_second(self) -> float:
        return sum(self.rows.values()) / self.seconds if self.seconds else 0.0


def _reference_tables(ref: Reference) -> list[tuple[str, tuple[str, ...], list[Row]]]:
    return [
        ("ref_departments", (*DEPARTMENT_COLUMNS, "import_id"), [(*r, 0) for r in ref.departments]),
        ("ref_grids", (*GRID_COLUMNS, "import_id"), [(*r, 0) for r in ref.grids]),
        ("ref_holidays", (*HOLIDAY_COLUMNS, "import_id"), [(*r, 0) for r in ref.holidays]),
        ("ref_enterprises", (*ENTERPRISE_COLUMNS, "import_id"), [(*r, 0) for r in ref.enterprises]),
    ]


def _check_empty(db: Database) -> None:
    with db.engine.connect() as conn:
        for table in MUST_BE_EMPTY:
            if conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None:  # noqa: S608
                raise NotEmpty(f"表 {table} 已有数据：合成数据只能装入空库")


def load(
    db: Database,
    year: Year,
    truth: TruthWriter | None = None,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> LoadStats:
    """Load the reference data and the year's rows; returns the row counts and seconds."""
    _check_empty(db)
    started = time.monotonic()
    stats = LoadStats()
    ref = _reference_tables(year.reference())
    for name, _, rows in ref:
        stats.rows[name] = len(rows)
    for name, _, _ in STREAMS:
        stats.rows[name] = 0
    if db.engine.dialect.name == "postgresql":
        _load_postgresql(db, year, ref, truth, batch_size, stats, progress)
    else:
        _load_sqlite(db, year, ref, truth, batch_size, stats, progress)
    stats.seconds = time.monotonic() - started
    return stats


def _note(batch: Batch, stats: LoadStats, truth: TruthWriter | None) -> None:
    for name, _, rows_of in STREAMS:
        stats.rows[name] += len(rows_of(batch))
    if truth is not None:
        truth.add(batch)


def _copy_sql(table: str, columns: Sequence[str]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"


def _load_postgresql(
    db: Database,
    year: Year,
    ref: list[tuple[str, tuple[str, ...], list[Row]]],
    truth: TruthWriter | None,
    batch_size: int,
    stats: LoadStats,
    progress: Callable[[int], None] | None,
) -> None:
    raws = [db.engine.raw_connection() for _ in STREAMS]
    try:
        first: Any = raws[0].driver_connection
        with first.cursor() as cur:
            for table, columns, rows in ref:
                with cur.copy(_copy_sql(table, columns)) as copy:
                    for row in rows:
                        copy.write_row(row)
        first.commit()
        indexes = _drop_indexes(first, [name for name, _, _ in STREAMS])
        try:
            _copy_year(raws, year, truth, batch_size, stats, progress)
        finally:
            _create_indexes(first, indexes)
        with first.cursor() as cur:
            for table in SEQUENCED:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"COALESCE((SELECT max(id) FROM {table}), 1), "
                    f"(SELECT count(*) > 0 FROM {table}))"
                )
        first.commit()
        first.autocommit = True
        with first.cursor() as cur:
            for table in (*(name for name, _, _ in ref), *(name for name, _, _ in STREAMS)):
                cur.execute(f"ANALYZE {table}")
            cur.execute("ANALYZE change_log")
        first.autocommit = False
    finally:
        for raw in raws:
            raw.close()


def _drop_indexes(conn: Any, tables: list[str]) -> list[str]:
    """Drop the tables' secondary indexes (a bulk build after the load is many times faster
    than keeping them up row by row); returns their definitions to build them again."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname AND c.connamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()))",
            (tables,),
        )
        found = [(str(name), str(definition)) for name, definition in cur.fetchall()]
        for name, _ in found:
            cur.execute(f'DROP INDEX "{name}"')
    conn.commit()
    return [definition for _, definition in found]


def _create_indexes(conn: Any, definitions: list[str]) -> None:
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '256MB'")
        for definition in definitions:
            cur.execute(definition)
    conn.commit()


def _copy_year(
    raws: list[Any],
    year: Year,
    truth: TruthWriter | None,
    batch_size: int,
    stats: LoadStats,
    progress: Callable[[int], None] | None,
) -> None:
    conns = [raw.driver_connection for raw in raws]
    for conn in conns:
        with conn.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
    with ExitStack() as stack:
        copies = []
        for conn, (table, columns, _) in zip(conns, STREAMS, strict=True):
            cur = stack.enter_context(conn.cursor())
            copies.append(stack.enter_context(cur.copy(_copy_sql(table, columns))))
        for batch in year.batches(batch_size):
            for copy, (_, _, rows_of) in zip(copies, STREAMS, strict=True):
                for row in rows_of(batch):
                    copy.write_row(row)
            _note(batch, stats, truth)
            if progress is not None:
                progress(stats.rows["tickets"])
    for conn in conns:
        conn.commit()


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608


def _load_sqlite(
    db: Database,
    year: Year,
    ref: list[tuple[str, tuple[str, ...], list[Row]]],
    truth: TruthWriter | None,
    batch_size: int,
    stats: LoadStats,
    progress: Callable[[int], None] | None,
) -> None:
    raw = db.engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        for table, columns, rows in ref:
            conn.executemany(_insert_sql(table, columns), rows)
        conn.commit()
        pending = 0
        for batch in year.batches(batch_size):
            for table, columns, rows_of in STREAMS:
                conn.executemany(_insert_sql(table, columns), rows_of(batch))
            _note(batch, stats, truth)
            pending += len(batch.tickets)
            if pending >= 50_000:
                conn.commit()
                pending = 0
            if progress is not None:
                progress(stats.rows["tickets"])
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        raw.close()
