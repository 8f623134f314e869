"""The published version of a knowledge entry on SQLite and PostgreSQL, as a table of
lifecycles: while a newer draft is edited, submitted or rejected, search, suggestions and the
agents' view keep serving the last approved version (its number, title and body) and the
full-text index holds its words, not the draft's; approval moves them to the new version;
expiry and retirement withdraw it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from callcenter.knowledge_base import store
from callcenter.knowledge_base.model import InvalidField, Status, in_force
from callcenter.knowledge_base.search import search
from callcenter.knowledge_base.store import Draft, indexed_text
from callcenter.knowledge_base.suggest import suggest
from callcenter.storage.database import Database

T0 = 1_790_000_000.0
V1 = Draft(
    "policy",
    "住房公积金提取条件",
    "购买自住住房、租房的职工，可以申请提取住房公积金。",
    "市住房公积金管理中心",
    expires_at=T0 + 1000,
)
V2 = Draft(
    "policy",
    "住房公积金销户提取",
    "与单位终止劳动关系的职工，可以申请销户提取住房公积金。",
    "市住房公积金管理中心",
    expires_at=T0 + 1000,
)
V3 = Draft(V2.kind, V2.title, V2.body + "出境定居的同样可以。", V2.department, expires_at=T0 + 1000)
ONLY_V1, ONLY_V2 = "租房", "销户"  # words only in v1's text, only in v2's


@dataclass(frozen=True)
class Expect:
    status: Status
    version: int  # the latest
    published: int | None  # the version served


def run(s: Session, entry_id: int, step: str, n: int) -> None:
    at = T0 + 10 * n
    if step == "edit v2":
        store.edit(s, entry_id, V2, "编辑丙", at, "改为销户提取")
    elif step == "edit v3":
        store.edit(s, entry_id, V3, "编辑丙", at, "补充出境定居")
    elif step == "submit":
        store.submit(s, entry_id, "编辑丙", at)
    elif step == "approve":
        store.approve(s, entry_id, "审核乙", at, "同意")
    elif step == "reject":
        store.reject(s, entry_id, "审核乙", at, "依据不足")
    elif step == "retire":
        store.retire(s, entry_id, "审核乙", at, "政策废止")
    elif step == "expire":
        assert store.expire_due(s, V1.expires_at or 0.0) == [entry_id]
    else:
        raise AssertionError(step)


def published_v1(db: Database) -> int:
    def work(s: Session) -> int:
        row = store.create(s, V1, "编辑甲", T0)
        assert (row.published_version, row.search_text) == (None, "")  # a draft: not indexed
        store.submit(s, row.id, "编辑甲", T0)
        store.approve(s, row.id, "审核乙", T0)
        return row.id

    return db.transaction(work)


def fts_rows(s: Session, word: str) -> list[int]:
    """The entries the full-text index itself finds for a word (no in-force filter)."""
    if s.get_bind().dialect.name == "postgresql":
        sql = (
            "SELECT id FROM knowledge_entries "
            "WHERE to_tsvector('simple', search_text) @@ to_tsquery('simple', :q)"
        )
        return list(s.scalars(text(sql), {"q": word}))
    sql = "SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH :q"
    return list(s.scalars(text(sql), {"q": f'"{word}"'}))


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], Expect(Status.PUBLISHED, 1, 1)),
        (["edit v2"], Expect(Status.DRAFT, 2, 1)),
        (["edit v2", "submit"], Expect(Status.REVIEW, 2, 1)),
        (["edit v2", "submit", "approve"], Expect(Status.PUBLISHED, 2, 2)),
        (["edit v2", "submit", "reject"], Expect(Status.DRAFT, 2, 1)),
        (["edit v2", "submit", "reject", "edit v3", "submit"], Expect(Status.REVIEW, 3, 1)),
        (
            ["edit v2", "submit", "approve", "edit v3", "submit", "reject"],
            Expect(Status.DRAFT, 3, 2),
        ),
        (["edit v2", "submit", "retire"], Expect(Status.RETIRED, 2, None)),
        (["edit v2", "expire"], Expect(Status.DRAFT, 2, None)),
        (["expire"], Expect(Status.EXPIRED, 1, None)),
        (["expire", "edit v2", "submit"], Expect(Status.REVIEW, 2, None)),
    ],
    ids=lambda v: (" > ".join(v) or "v1") if isinstance(v, list) else None,
)
def test_what_search_serves_through_the_lifecycle(
    database: Database, steps: list[str], expected: Expect
) -> None:
    database.upgrade()
    entry_id = published_v1(database)
    for n, step in enumerate(steps, 1):
        with database.session() as s:
            run(s, entry_id, step, n)
            s.commit()
    now = T0 + 500  # before the expiry time, but after every step
    shown = {1: V1, 2: V2, 3: V3}.get(expected.published or 0)
    with database.session() as s:
        row = store.get(s, entry_id)
        assert (Status(row.status), row.version, row.published_version) == (
            expected.status,
            expected.version,
            expected.published,
        )
        served = store.published(s, row)
        assert (served.version if served else None) == expected.published
        assert in_force(row.published_version, row.effective_from, row.expires_at, now) is (
            shown is not None
        )
        # the index holds the published version's words, nothing when none is published
        assert row.search_text == (indexed_text(shown.title, shown.body) if shown else "")
        for word, owner in ((ONLY_V1, V1), (ONLY_V2, V2)):
            found = [(h.entry_id, h.version, h.title) for h in search(s, word, now)]
            in_index = fts_rows(s, word)
            if shown is not None and word in shown.body:
                assert found == [(entry_id, expected.published, shown.title)], word
                assert in_index == [entry_id], word
                assert word in search(s, word, now)[0].snippet
            else:
                assert found == [], word
                assert in_index == [], word
            assert owner.body.count(word) == 1
        said = (
            "我辞职了，想把公积金销户提取出来"
            if shown is V2 or shown is V3
            else "我租房想提取公积金"
        )
        hits = suggest(s, said, now)
        assert [(h.entry_id, h.version) for h in hits] == (
            [(entry_id, expected.published)] if shown is not None else []
        )


def test_editors_see_the_draft_and_approval_history_is_kept(database: Database) -> None:
    database.upgrade()
    entry_id = published_v1(database)
    database.transaction(lambda s: run(s, entry_id, "edit v2", 1))
    with database.session() as s:
        row = store.get(s, entry_id)
        latest = store.version(s, entry_id, row.version)
        served = store.published(s, row)
        assert served is not None
        assert (row.title, latest.title, served.title) == (V2.title, V2.title, V1.title)
        assert store.published_versions(s, [row]) == {entry_id: served}
        total, rows = store.listing(s, store.Filters(published=True))
        assert total == 1 and rows[0].id == entry_id
        assert store.listing(s, store.Filters(status="published"))[0] == 0  # the entry is a draft
    database.transaction(lambda s: store.retire(s, entry_id, "审核乙", T0 + 20))
    with database.session() as s:
        assert store.listing(s, store.Filters(published=True))[0] == 0
        assert store.published_versions(s, [store.get(s, entry_id)]) == {}


def test_an_expired_version_is_not_served_before_the_sweep(database: Database) -> None:
    database.upgrade()
    entry_id = published_v1(database)
    database.transaction(lambda s: run(s, entry_id, "edit v2", 1))
    with database.session() as s:
        assert [h.entry_id for h in search(s, ONLY_V1, T0 + 999)] == [entry_id]
        assert search(s, ONLY_V1, T0 + 1000) == []  # due: gone, though expire_due has not run
        assert store.expire_due(s, T0 + 999) == []
        assert store.expire_due(s, T0 + 1000) == [entry_id]
        assert store.expire_due(s, T0 + 2000) == []  # nothing published left to expire
        s.commit()
    with database.session() as s:
        store.submit(s, entry_id, "编辑丙", T0 + 1001)
        with pytest.raises(InvalidField, match="expiry time has passed"):
            store.approve(s, entry_id, "审核乙", T0 + 1002)  # v2 keeps the entry's expiry
        row = store.get(s, entry_id)
        assert (row.status, row.published_version, row.search_text) == ("review", None, "")
