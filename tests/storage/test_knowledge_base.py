"""The knowledge base on SQLite and PostgreSQL: versions kept through edits and reviews,
Chinese full-text search of what is in force (not drafts, not expired, not retired), title
matches first, suggestions for a caller's words, and the gap report over a synthetic year
with one topic left without entries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from callcenter.data.crypto import FILE_ENV, write_key_file
from callcenter.knowledge_base import store
from callcenter.knowledge_base.command import main_kb
from callcenter.knowledge_base.gaps import gaps
from callcenter.knowledge_base.model import IllegalTransition, SameReviewer, StaleEntry, Status
from callcenter.knowledge_base.search import search
from callcenter.knowledge_base.seed import load_seed, seed
from callcenter.knowledge_base.store import Draft
from callcenter.knowledge_base.suggest import suggest
from callcenter.storage.database import Database
from callcenter.synthetic.command import main_synth

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
T0 = 1_790_000_000.0

HEATING = Draft(
    "policy",
    "供暖期室温不达标如何处理",
    "供暖期内居室温度应不低于18℃。暖气不热的，可拨打热力公司报修电话，供热单位24小时内上门测温。",
    "市供热管理办公室",
)
FUND = Draft(
    "policy",
    "住房公积金提取条件",
    "购买自住住房、偿还住房贷款本息、租房的，可以申请提取住房公积金。",
    "市住房公积金管理中心",
)
WAGES = Draft(
    "duty",
    "劳动保障监察的职责",
    "受理用人单位拖欠工资、克扣工资的投诉举报，责令限期支付劳动报酬。",
    "市人力资源和社会保障局",
)


def _publish(database: Database, draft: Draft, at: float = T0) -> int:
    def work(s: Session) -> int:
        row = store.create(s, draft, "编辑甲", at)
        store.submit(s, row.id, "编辑甲", at)
        store.approve(s, row.id, "审核乙", at)
        return row.id

    return database.transaction(work)


def _found(database: Database, query: str, at: float) -> list[str]:
    with database.session() as s:
        return [h.title for h in search(s, query, at)]


def test_versions_review_and_search(database: Database) -> None:
    database.upgrade()
    with database.session() as s:
        row = store.create(s, HEATING, "编辑甲", T0)
        entry_id = row.id
        assert (row.status, row.version) == ("draft", 1)
        s.commit()
    assert _found(database, "暖气不热", T0) == []  # a draft is not shown

    with database.session() as s:
        changed = Draft(
            HEATING.kind, HEATING.title, HEATING.body + "室温不达标的，按规定退还供暖费。"
        )
        store.edit(s, entry_id, changed, "编辑丙", T0 + 10, "补充退费规定")
        with pytest.raises(StaleEntry):
            store.edit(s, entry_id, changed, "编辑丙", T0 + 11, expected_version=1)
        store.submit(s, entry_id, "编辑丙", T0 + 20)
        with pytest.raises(SameReviewer):
            store.approve(s, entry_id, "编辑丙", T0 + 30)
        store.reject(s, entry_id, "审核乙", T0 + 30, "请写明退费标准")
        with pytest.raises(IllegalTransition):
            store.approve(s, entry_id, "审核乙", T0 + 31)
        store.submit(s, entry_id, "编辑丙", T0 + 40)
        store.approve(s, entry_id, "编辑甲", T0 + 50, "同意")  # v2's author is 编辑丙
        s.commit()
    with database.session() as s:
        versions = store.versions(s, entry_id)
        assert [(v.version, v.author, v.reviewer) for v in versions] == [
            (1, "编辑甲", ""),
            (2, "编辑丙", "编辑甲"),
        ]
        assert "退还供暖费" not in versions[0].body and "退还供暖费" in versions[1].body
        assert store.get(s, entry_id).status == "published"

    with database.session() as s:
        hits = search(s, "暖气不热怎么办", T0 + 60)
        assert [h.entry_id for h in hits] == [entry_id]
        # "暖气" at least; with the classifier's terms in jieba's dictionary also 暖气不热, 不热
        assert "暖气" in hits[0].matched
        assert "【暖气" in hits[0].snippet
        assert [h.title for h in search(s, "退还供暖费", T0 + 60)] == [HEATING.title]


def test_title_matches_rank_first_and_what_is_out_of_force_is_not_found(
    database: Database,
) -> None:
    database.upgrade()
    in_body = Draft("notice", "关于冬季安全用气的提示", "供暖季燃气使用增多，住房公积金无关。", "")
    fund, _, body_only = (_publish(database, d) for d in (FUND, WAGES, in_body))
    assert _found(database, "公积金", T0 + 1) == [FUND.title, in_body.title]
    assert _found(database, "拖欠工资", T0 + 1) == [WAGES.title]

    notice = Draft("notice", "春节期间公积金业务暂停的通知", "春节假期公积金柜台暂停办理。", "",
                   expires_at=T0 + 100)  # fmt: skip
    notice_id = _publish(database, notice)
    assert notice.title in _found(database, "公积金柜台", T0 + 50)
    assert notice.title not in _found(database, "公积金柜台", T0 + 100)  # due, not yet swept
    with database.session() as s:
        assert store.expire_due(s, T0 + 99) == []
        assert store.expire_due(s, T0 + 100) == [notice_id]
        assert store.expire_due(s, T0 + 200) == []
        assert store.get(s, notice_id).status == Status.EXPIRED
        store.retire(s, body_only, "审核乙", T0 + 101, "与公积金无关")
        s.commit()
    assert _found(database, "公积金", T0 + 102) == [FUND.title]
    assert fund > 0


def test_suggestions_for_what_the_caller_said(database: Database) -> None:
    database.upgrade()
    for draft in (HEATING, FUND, WAGES):
        _publish(database, draft)
    said = "喂，你好，我们小区这两天暖气一直不热，屋里才十五度，家里还有老人，供暖这块谁管啊"
    with database.session() as s:
        hits = suggest(s, said, T0 + 1, limit=3)
        assert [h.title for h in hits] == [HEATING.title]
        assert {"暖气", "供暖"} <= set(hits[0].matched)
        assert suggest(s, "嗯，好的，谢谢你", T0 + 1) == []
        assert [h.title for h in suggest(s, "老板拖欠我们三个月工资", T0 + 1)] == [WAGES.title]


def test_gaps_name_the_topic_without_entries(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    assert main_synth(database.url, 600, 7, date(2026, 1, 1), tmp_path / "t", CONFIG, 0.0) == 0
    base = load_seed(CONFIG / "knowledge_base_seed.toml")
    now = datetime(2027, 1, 2, tzinfo=UTC).timestamp()
    covered = frozenset(e.topic for e in base.entries) - {"heating"}
    with database.session() as s:
        assert seed(s, base, now, only=covered)
        s.commit()
    since, until = datetime(2026, 1, 1, tzinfo=UTC).timestamp(), now
    with database.session() as s:
        found = gaps(s, since, until, min_count=10, now=now)
    assert [g.topic for g in found] == ["heating"]
    heating = found[0]
    assert heating.tickets >= 10 and heating.coverage < 0.3
    assert {"暖气", "供暖"} <= set(heating.words)
    assert len(heating.examples) == 5 and all(n.isdigit() for n in heating.examples)
    with database.session() as s:
        assert seed(s, base, now)  # the heating entries now
        s.commit()
        assert gaps(s, since, until, min_count=10, now=now) == []


def test_the_kb_command(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    at = datetime(2026, 12, 20, tzinfo=UTC).timestamp()
    assert main_kb(CONFIG, database.url, "seed", now=at) == 0
    assert "已导入" in capsys.readouterr().out
    assert main_kb(CONFIG, database.url, "seed", now=at) == 0
    assert "已导入 0 条" in capsys.readouterr().out

    assert main_kb(CONFIG, database.url, "search", "异地就医怎么备案", now=at) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. [政策] 异地就医备案和医保报销比例") and "【异地】" in out

    assert main_kb(CONFIG, database.url, "search", "城乡居民医保缴费", now=at) == 0
    assert "集中缴费的通知" in capsys.readouterr().out
    jan = datetime(2027, 1, 2, tzinfo=UTC).timestamp()  # the notice expired on 2027-01-01
    assert main_kb(CONFIG, database.url, "expire", now=jan) == 0
    assert "已将 1 条" in capsys.readouterr().out
    assert main_kb(CONFIG, database.url, "search", "城乡居民医保缴费", now=jan) == 0
    assert "集中缴费的通知" not in capsys.readouterr().out

    assert main_kb(CONFIG, database.url, "gaps", since=date(2026, 1, 1), now=jan) == 0
    assert "无：" in capsys.readouterr().out
    assert main_kb(CONFIG, database.url, "search", "", now=at) == 2
    assert main_kb(CONFIG, database.url, "publish", now=at) == 2
