"""How fast search and suggestions are with a large knowledge base.

`bench(db_url)` adds `entries` published entries (variants of the seed file's entries, per
district and year) inside one transaction, times typed searches and suggestions for callers'
sentences against them, and rolls everything back: the database is left as it was.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from callcenter.knowledge_base.model import Status
from callcenter.knowledge_base.search import search
from callcenter.knowledge_base.seed import load_seed
from callcenter.knowledge_base.store import indexed_text
from callcenter.knowledge_base.suggest import suggest
from callcenter.percentile import percentile
from callcenter.storage.database import Database
from callcenter.storage.schema import KnowledgeEntry, KnowledgeVersion

SEED = Path(__file__).resolve().parents[2] / "config" / "knowledge_base_seed.toml"
DISTRICTS = (
    "东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区", "通州区", "顺义区",
    "大兴区", "昌平区", "房山区", "门头沟区", "平谷区", "怀柔区", "密云区", "延庆区",
)  # fmt: skip
QUERIES = (
    "暖气不热", "拖欠工资", "异地就医备案", "社保断缴补缴", "违章停车", "公积金提取", "停水通知",
    "燃气泄漏", "夜间施工噪音", "预付卡退费", "小学入学条件", "身份证补办", "低保申请",
    "井盖缺失", "个税汇算", "物业乱收停车费", "楼上卫生间渗水", "出租车绕路", "失业金申领",
    "油烟直排",
)  # fmt: skip
SAID = (
    "喂你好，我们小区从昨天开始暖气就不热，屋里才十五度，家里还有老人孩子，这个归谁管",
    "我在工地干了半年活，项目完工了老板跑了，拖欠我们十几个人三个月工资，我该找哪里",
    "你好我想问一下，我妈在外地住院，医保异地就医要怎么备案，回来还能报销吗",
    "我们楼下那个烧烤店天天半夜还在喧哗，音响也很大，根本睡不着觉",
    "我之前那个公司没给我交社保，断了半年，现在新单位能不能补缴",
    "我家门口一直有辆车停了好几个月没动过，像是僵尸车，把消防通道都堵了",
    "上个月办了一张健身房的预付卡，现在店突然关门了，老板联系不上，钱能退吗",
    "孩子明年上小学，我们户口不在这边，有居住证，入学需要什么材料",
)


def _add_entries(session: Session, count: int, rng: random.Random, at: float) -> None:
    base = load_seed(SEED).entries
    done = 0
    while done < count:
        batch = min(1000, count - done)
        rows, bodies = [], []
        for i in range(done, done + batch):
            e = base[i % len(base)].draft
            district = DISTRICTS[rng.randrange(len(DISTRICTS))]
            sentences = [s for s in e.body.split("。") if s]
            rng.shuffle(sentences)
            body = f"{district}：" + "。".join(sentences[: max(1, len(sentences) - 1)]) + "。"
            title = f"{district}{e.title}（{2020 + i % 7}年第{i}号）"
            rows.append(
                {
                    "kind": e.kind,
                    "title": title,
                    "department": e.department,
                    "status": Status.PUBLISHED.value,
                    "version": 1,
                    "published_version": 1,
                    "created_at": at,
                    "updated_at": at,
                    "search_text": indexed_text(title, body),
                }
            )
            bodies.append((title, body))
        ids = list(session.scalars(insert(KnowledgeEntry).returning(KnowledgeEntry.id), rows))
        session.execute(
            insert(KnowledgeVersion),
            [
                {"entry_id": eid, "version": 1, "title": t, "body": b, "author": "bench", "at": at}
                for eid, (t, b) in zip(ids, bodies, strict=True)
            ],
        )
        done += batch


def _timed(run: Callable[[str], object], inputs: list[str]) -> dict[str, float]:
    samples: list[float] = []
    for one in inputs:
        started = time.perf_counter()
        run(one)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(percentile(samples, 50) or 0.0, 2),
        "p95_ms": round(percentile(samples, 95) or 0.0, 2),
        "mean_ms": round(statistics.fmean(samples), 2),
    }


def bench(
    db_url: str, entries: int = 10_000, queries: int = 200, seed: int = 1
) -> dict[str, object]:
    """p50/p95 of search and suggestions with `entries` more published entries; nothing is
    kept (the entries are added in a transaction that is rolled back)."""
    rng = random.Random(seed)
    db = Database(db_url)
    try:
        db.upgrade()
        with db.session() as s:
            before = s.scalar(select(func.count()).select_from(KnowledgeEntry)) or 0
            now = time.time()
            started = time.perf_counter()
            _add_entries(s, entries, rng, now - 1)
            s.flush()
            if s.get_bind().dialect.name == "postgresql":
                # what autovacuum does to committed rows: the GIN index's pending list merged
                # into the index proper, and fresh statistics for the planner
                s.execute(text("SELECT gin_clean_pending_list('ix_knowledge_search')"))
                s.execute(text("ANALYZE knowledge_entries"))
            load_seconds = time.perf_counter() - started
            search(s, QUERIES[0], now)  # warm the tokenizer and the connection
            result = {
                "dialect": s.get_bind().dialect.name,
                "entries": before + entries,
                "queries": queries,
                "load_seconds": round(load_seconds, 1),
                "search": _timed(
                    lambda q: search(s, q, now), [rng.choice(QUERIES) for _ in range(queries)]
                ),
                "suggest": _timed(
                    lambda t: suggest(s, t, now), [rng.choice(SAID) for _ in range(queries)]
                ),
            }
            s.rollback()
        return result
    finally:
        db.close()
