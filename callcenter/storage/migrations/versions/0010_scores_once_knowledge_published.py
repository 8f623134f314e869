"""A call is scored once per rules version, whatever the workers (a unique index on
inspection_scores (call_id, rules_version)); a knowledge entry keeps serving its last approved
version while a newer one is drafted and reviewed (knowledge_entries.published_version).

Before the index, the scores two workers wrote for one call under one rules version are
reduced to one: the reviewed one, else the first; the others go with their findings. Two
reviewed scores of one call and version cannot be merged (reviews are append-only and name
their score): the upgrade then stops and names them.

published_version is set for the entries published now. Only the published version's words
are indexed from now on (search_text, so the FTS5 table and the GIN index): an entry with no
published version (a draft, under review, expired, retired) gets an empty search_text. A
draft edited from a published entry before this migration stays out of search until approved,
as it was: which of its older versions was approved cannot be told from the stored rows
(reviewer and reviewed_at mark rejections too).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CHUNK = 500


def _in(sql: str) -> sa.TextClause:
    return sa.text(sql).bindparams(sa.bindparam("ids", expanding=True))


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


def _drop_duplicate_scores() -> None:
    bind = op.get_bind()
    groups = bind.execute(
        sa.text(
            "SELECT call_id, rules_version FROM inspection_scores "
            "GROUP BY call_id, rules_version HAVING count(*) > 1"
        )
    ).all()
    drop: list[int] = []
    for call_id, version in groups:
        ids = list(
            bind.scalars(
                sa.text(
                    "SELECT id FROM inspection_scores "
                    "WHERE call_id = :call AND rules_version = :version ORDER BY id"
                ),
                {"call": call_id, "version": version},
            )
        )
        reviewed = sorted(
            bind.scalars(
                _in("SELECT DISTINCT score_id FROM inspection_reviews WHERE score_id IN :ids"),
                {"ids": ids},
            )
        )
        if len(reviewed) > 1:
            raise RuntimeError(
                f"inspection_scores {reviewed} all score call {call_id!r} under rules version "
                f"{version!r} and each has reviews; keep one of them (move its reviews by hand) "
                "before upgrading"
            )
        keep = reviewed[0] if reviewed else ids[0]
        drop += [i for i in ids if i != keep]
    for chunk in _chunks(drop):
        bind.execute(_in("DELETE FROM inspection_findings WHERE score_id IN :ids"), {"ids": chunk})
        bind.execute(_in("DELETE FROM inspection_scores WHERE id IN :ids"), {"ids": chunk})


def upgrade() -> None:
    _drop_duplicate_scores()
    op.create_index(
        "ux_inspection_scores_call_rules",
        "inspection_scores",
        ["call_id", "rules_version"],
        unique=True,
    )
    op.add_column("knowledge_entries", sa.Column("published_version", sa.Integer, nullable=True))
    op.execute(
        "UPDATE knowledge_entries SET published_version = version WHERE status = 'published'"
    )
    op.execute(
        "UPDATE knowledge_entries SET search_text = '' "
        "WHERE published_version IS NULL AND search_text <> ''"
    )


def downgrade() -> None:
    op.drop_column("knowledge_entries", "published_version")
    op.drop_index("ux_inspection_scores_call_rules", "inspection_scores")
