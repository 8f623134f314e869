"""The rest of the citizens' phone numbers at rest (GB/T 44192 8.2), as 0013 did for calls and
callbacks: the number on every ticket (`tickets.caller_number`), of every satisfaction survey
(`surveys.number`) and the main phone of every fused profile (`profiles.phone`) become
ciphertext (`<key id>:<fernet token>`, see callcenter.data.crypto), each with its keyed blind
index (`caller_number_hash`, `number_hash`, `phone_hash`) for look-ups by number (repeat
linking, ticket search, the agent's view of a caller's earlier tickets, profiles by phone).
Existing rows are encrypted in batches of 1,000 with the keys given to `Database.upgrade` or,
else, those of the environment; a database with numbers to encrypt and no key stops the
upgrade with KeyConfigError before anything changed. Downgrade decrypts them back.

On SQLite, changing a column's type rebuilds the table, which drops its triggers (the
full-text index and the change log of `tickets`): they are read before and created again
after, as they were.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import sqlalchemy as sa
from alembic import context, op
from alembic.operations import BatchOperations

from callcenter.data.crypto import FieldCipher, KeyConfigError, load_cipher

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 1000
# (table, key column, number column, hash column)
COLUMNS = (
    ("tickets", "id", "caller_number", "caller_number_hash"),
    ("surveys", "id", "number", "number_hash"),
    ("profiles", "id", "phone", "phone_hash"),
)
# (table, index before, its columns, index after, its columns)
INDEXES = (
    (
        "tickets",
        "ix_tickets_caller",
        ["caller_number", "created_at"],
        "ix_tickets_caller_hash",
        ["caller_number_hash", "created_at"],
    ),
    ("profiles", "ix_profiles_phone", ["phone"], "ix_profiles_phone_hash", ["phone_hash"]),
)


def _cipher(why: str) -> FieldCipher:
    given = context.config.attributes.get("cipher")
    if isinstance(given, FieldCipher):
        return given
    try:
        return load_cipher()
    except KeyConfigError as exc:
        raise KeyConfigError(f"migration 0014 ({why}): {exc}") from None


def _rewrite(
    table: str,
    key: str,
    column: str,
    hashed: str,
    todo: sa.ColumnElement[bool],
    step: Callable[[str], tuple[str, str]],
) -> None:
    """Rewrite (number, hash) of every row matching `todo`, BATCH rows per statement round,
    in key order; `step` maps the stored number to its new (number, hash)."""
    bind = op.get_bind()
    t = sa.table(table, sa.column(key), sa.column(column), sa.column(hashed))
    after = -1
    while True:
        rows = bind.execute(
            sa.select(t.c[key], t.c[column])
            .where(todo, t.c[key] > after)
            .order_by(t.c[key])
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = [{"k": k, "n": n, "h": h} for k, v in rows for n, h in [step(v)]]
        bind.execute(
            t.update()
            .where(t.c[key] == sa.bindparam("k"))
            .values({column: sa.bindparam("n"), hashed: sa.bindparam("h")}),
            values,
        )
        after = rows[-1][0]


def _stored(table: str, column: str) -> bool:
    """Whether any row of the table has a number in the column."""
    where = sa.and_(sa.column(column).is_not(None), sa.column(column) != "")
    query = sa.select(sa.func.count()).select_from(sa.table(table)).where(where)
    return bool(op.get_bind().execute(query).scalar())


def _sqlite_triggers(table: str) -> list[str]:
    """The CREATE TRIGGER statements of a SQLite table (a rebuild drops them)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    query = sa.text(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t ORDER BY name"
    )
    return [str(sql) for sql in bind.execute(query, {"t": table}).scalars() if sql]


def _alter(table: str, change: Callable[[BatchOperations], None]) -> None:
    """Alter a table in batch mode; on SQLite (a table rebuild) its triggers are kept."""
    triggers = _sqlite_triggers(table)
    with op.batch_alter_table(table) as t:
        change(t)
    if not triggers:
        return
    present = set(
        op.get_bind()
        .execute(
            sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        )
        .scalars()
    )
    for sql in triggers:
        if sql.split()[2] not in present:  # CREATE TRIGGER <name> ...
            op.execute(sql)


def _to_text(column: str, t: BatchOperations) -> None:
    t.alter_column(column, type_=sa.Text(), existing_type=sa.String(32))


def _to_string(column: str, hashed: str, t: BatchOperations) -> None:
    t.drop_column(hashed)
    t.alter_column(column, type_=sa.String(32), existing_type=sa.Text())


def upgrade() -> None:
    # the key first: without one, stop before anything changed (SQLite's DDL is not undone)
    cipher: FieldCipher | None = None
    if any(_stored(table, column) for table, _key, column, _hashed in COLUMNS):
        cipher = _cipher("encrypting the phone numbers already stored")
    for table, _key, column, hashed in COLUMNS:
        op.add_column(table, sa.Column(hashed, sa.String(64), nullable=False, server_default=""))
        _alter(table, partial(_to_text, column))
    for table, before, _columns, after, columns in INDEXES:
        op.drop_index(before, table)
        op.create_index(after, table, columns)
    if cipher is None:
        return
    for table, key, column, hashed in COLUMNS:
        todo = sa.and_(sa.column(column) != "", sa.column(hashed) == "")
        _rewrite(table, key, column, hashed, todo, cipher.seal_phone)


def _clear(cipher: FieldCipher, stored: str) -> tuple[str, str]:
    return cipher.decrypt(stored), ""


def downgrade() -> None:
    if any(_stored(table, column) for table, _key, column, _hashed in COLUMNS):
        cipher = _cipher("decrypting the phone numbers back")
        for table, key, column, hashed in COLUMNS:
            todo = sa.column(column) != ""
            _rewrite(table, key, column, hashed, todo, partial(_clear, cipher))
    for table, before, columns, after, _columns in INDEXES:
        op.drop_index(after, table)
        op.create_index(before, table, columns)
    for table, _key, column, hashed in COLUMNS:
        _alter(table, partial(_to_string, column, hashed))
