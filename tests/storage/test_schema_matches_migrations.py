"""After every migration, the live schema is what `callcenter/storage/schema.py` declares (on
SQLite and PostgreSQL): Alembic's autogenerate comparison finds nothing to change.

Left out of the comparison: the full-text search objects each dialect has outside the ORM
(SQLite's FTS5 virtual tables `tickets_fts`, `knowledge_fts` and their shadow tables,
PostgreSQL's GIN indexes `ix_tickets_search`, `ix_knowledge_search`); server defaults (not
compared).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from callcenter.storage.database import Database
from callcenter.storage.schema import Base


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "table" and name is not None:
        return not name.startswith(("tickets_fts", "knowledge_fts"))
    if type_ == "index":
        return name not in ("ix_tickets_search", "ix_knowledge_search")
    return True


def _differences(database: Database) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _include_name})
        return list(_flatten(compare_metadata(context, Base.metadata)))


def _flatten(diffs: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
    for d in diffs:
        if isinstance(d, list):  # column modifications come grouped per column
            yield from _flatten(d)
        else:
            yield tuple(d)


def test_migrated_schema_matches_the_orm(database: Database) -> None:
    database.upgrade()
    assert _differences(database) == []


def test_the_comparison_sees_a_column_the_orm_does_not_declare(database: Database) -> None:
    database.upgrade()
    with database.engine.begin() as conn:
        conn.execute(text("ALTER TABLE calls ADD COLUMN mood VARCHAR(8)"))
        conn.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    found = {(d[0], d[2], d[3].name) for d in _differences(database) if d[0] == "remove_column"}
    assert found == {("remove_column", "calls", "mood")}
    assert any(d[0] == "remove_table" and d[1].name == "stray" for d in _differences(database))
