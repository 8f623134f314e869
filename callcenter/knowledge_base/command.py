"""`callcenter kb seed|search|gaps|expire`: the knowledge base from the command line."""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from pathlib import Path

from callcenter.knowledge_base import store
from callcenter.knowledge_base.gaps import THRESHOLD, Gap, gaps
from callcenter.knowledge_base.search import Hit, search
from callcenter.knowledge_base.seed import day_start, load_seed, seed
from callcenter.storage.database import Database
from callcenter.tickets.settings import load_ticket_settings
from callcenter.tomlreader import ConfigErrors

SEED_FILE = "knowledge_base_seed.toml"
ACTIONS = ("seed", "search", "gaps", "expire")
KIND_NAMES = {"policy": "政策", "duty": "职责", "notice": "公告"}


def _topic_names(config_dir: Path) -> dict[str, str]:
    try:
        return {t.id: t.name for t in load_ticket_settings(config_dir).knowledge.topics}
    except ConfigErrors:
        return {}


def _print_hits(hits: list[Hit]) -> None:
    if not hits:
        print("未找到匹配的知识条目")
    for n, h in enumerate(hits, 1):
        kind = KIND_NAMES.get(h.kind, h.kind)
        dept = f"（{h.department}）" if h.department else ""
        print(f"{n}. [{kind}] {h.title}{dept}  #{h.entry_id} v{h.version}  得分 {h.score:.1f}")
        print(f"   匹配：{'、'.join(h.matched)}")
        print(f"   {h.snippet}")


def _print_gaps(found: list[Gap], names: dict[str, str], since: date, until: date) -> None:
    print(f"知识库缺口（{since.isoformat()} 至 {until.isoformat()}）：")
    if not found:
        print("无：每类高频诉求都有匹配的知识条目")
    for g in found:
        name = names.get(g.topic, g.topic or "未分类")
        best = f"最接近：#{g.best_entry} {g.best_title}" if g.best_entry else "无相近条目"
        print(f"- {name}：{g.tickets} 件，覆盖度 {g.coverage:.0%}，{best}")
        print(f"  高频词：{'、'.join(g.words)}")
        print(f"  示例工单：{'、'.join(g.examples)}")


def main_kb(
    config_dir: Path,
    db_url: str,
    action: str,
    query: str = "",
    since: date | None = None,
    until: date | None = None,
    min_count: int = 10,
    threshold: float = THRESHOLD,
    limit: int = 10,
    seed_file: Path | None = None,
    now: float | None = None,
) -> int:
    """Run one knowledge-base action; the exit code (0 done, 2 a mistake in the arguments
    or the seed file)."""
    at = time.time() if now is None else now
    if action not in ACTIONS:
        print(f"未知操作 {action}：可用 {'、'.join(ACTIONS)}", file=sys.stderr)
        return 2
    if action == "search" and not query.strip():
        print("请给出检索词", file=sys.stderr)
        return 2
    if not 0.0 <= threshold <= 1.0 or min_count < 1 or limit < 1:
        print("参数错误：threshold 取 0 到 1，min_count 与 limit 至少为 1", file=sys.stderr)
        return 2
    seed_data = None
    if action == "seed":
        try:
            seed_data = load_seed(seed_file or config_dir / SEED_FILE)
        except ConfigErrors as exc:
            for e in exc.errors:
                print(f"配置错误：{e}", file=sys.stderr)
            return 2
    db = Database(db_url)
    try:
        db.upgrade()
        if seed_data is not None:
            created = db.transaction(lambda s: seed(s, seed_data, at))
            skipped = len(seed_data.entries) - len(created)
            print(f"已导入 {len(created)} 条知识条目（已存在或已过期而跳过 {skipped} 条）")
        elif action == "search":
            _print_hits(db.transaction(lambda s: search(s, query, at, limit)))
        elif action == "expire":
            expired = db.transaction(lambda s: store.expire_due(s, at))
            ids = "、".join(f"#{i}" for i in expired)
            print(f"已将 {len(expired)} 条到期知识条目标记为过期" + (f"：{ids}" if ids else ""))
        else:
            last = until or date.today()
            first = since or last - timedelta(days=30)
            if first >= last:
                print("参数错误：起始日期须早于结束日期", file=sys.stderr)
                return 2
            start, end = day_start(first), day_start(last + timedelta(days=1))
            found = db.transaction(
                lambda s: gaps(s, start, end, min_count, threshold, min(end, at))
            )
            _print_gaps(found, _topic_names(config_dir), first, last)
    finally:
        db.close()
    return 0
