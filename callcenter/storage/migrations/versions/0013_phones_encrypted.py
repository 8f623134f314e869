"""Citizens' phone numbers at rest (GB/T 44192 8.2): the caller's number of every call
(`calls.caller_number`) and the number of every queued callback (`callbacks.number`) become
ciphertext (`<key id>:<fernet token>`, see callcenter.data.crypto), each with its keyed blind
index (`caller_number_hash`, `number_hash`) for look-ups by number. Existing rows are
encrypted in batches of 1,000 with the keys given to `Database.upgrade` or, else, those of the
environment; a database with numbers to encrypt and no key stops the upgrade with
KeyConfigError (nothing changed). Downgrade decrypts them back (the keys are needed again).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import sqlalchemy as sa
from alembic import context, op

from callcenter.data.crypto import FieldCipher, KeyConfigError, load_cipher

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 1000
# (table, key column, number column, hash column)
COLUMNS = (
    ("calls", "call_id", "caller_number", "caller_number_hash"),
    ("callbacks", "call_id", "number", "number_hash"),
)


def _cipher(why: str) -> FieldCipher:
    given = context.config.attributes.get("cipher")
    if isinstance(given, FieldCipher):
        return given
    try:
        return load_cipher()
    except KeyConfigError as exc:
        raise KeyConfigError(f"migration 0013 ({why}): {exc}") from None


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
    after = ""
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
    where = sa.column(column) != ""
    query = sa.select(sa.func.count()).select_from(sa.table(table)).where(where)
    return bool(op.get_bind().execute(query).scalar())


def upgrade() -> None:
    # the key first: without one, stop before anything changed (SQLite's DDL is not undone)
    cipher: FieldCipher | None = None
    if any(_stored(table, column) for table, _key, column, _hashed in COLUMNS):
        cipher = _cipher("encrypting the phone numbers already stored")
    for table, _key, column, hashed in COLUMNS:
        with op.batch_alter_table(table) as t:
            t.add_column(sa.Column(hashed, sa.String(64), nullable=False, server_default=""))
            t.alter_column(column, type_=sa.Text(), existing_type=sa.String(32))
    op.drop_index("ix_calls_caller_number", "calls")
    op.create_index("ix_calls_caller_hash", "calls", ["caller_number_hash", "joined_at"])
    op.create_index("ix_callbacks_number_hash", "callbacks", ["number_hash"])
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
    op.drop_index("ix_callbacks_number_hash", "callbacks")
    op.drop_index("ix_calls_caller_hash", "calls")
    op.create_index("ix_calls_caller_number", "calls", ["caller_number", "joined_at"])
    for table, _key, column, hashed in COLUMNS:
        with op.batch_alter_table(table) as t:
            t.drop_column(hashed)
            t.alter_column(column, type_=sa.String(32), existing_type=sa.Text())
