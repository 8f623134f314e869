"""Chinese full-text search of the knowledge base, fast enough to use during a call.

Entries are indexed by their published version's segmented words (jieba, search mode: 拖欠工资
also gives 拖欠 and 工资); a newer draft under review is neither indexed nor shown: the hits
carry the published version's number, title and body. A query is segmented plainly, without
stop words and single characters. The database finds the candidates: entries in force (with
a published version, in effect, not expired) matching any of the query's words, one indexed
lookup per word (PostgreSQL's GIN index on the tsvector, SQLite's FTS5 table), the most
matched weight first. The best candidates are then scored the same way on both databases:
each matched word counts by its weight (its length, or the caller's weights), three times
when it is in the title; `coverage` is the share of the query's weight an entry matches (what
suggestions and the gap report compare with their thresholds). Snippets show the body around
the first matched word, the words marked 【】.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import and_, select, text
from sqlalchemy.orm import Session

from callcenter.storage.schema import KnowledgeEntry, KnowledgeVersion
from callcenter.tickets import text as segment

TITLE_WEIGHT = 3.0
SNIPPET_CHARS = 40  # either side of the matched word
MAX_QUERY_WORDS = 40
CANDIDATES = 60  # how many of the database's best are scored

# Words of conversation and intake that say nothing about what the request is about.
_STOP_TEXT = """
    你好 您好 请问 一下 我们 你们 他们 她们 这个 那个 这些 那些 就是 然后 什么 怎么 怎么办
    怎么样 为什么 可以 能不能 没有 现在 已经 还是 还有 因为 所以 但是 如果 问题 反映 咨询
    情况 知道 一个 谢谢 麻烦 是的 好的 来电 来电人 市民 网民 留言 希望 相关 部门 帮忙 解决
    处理 了解 时候 今天 昨天 明天 之前 这边 那边 需要 一直 不是 这样 那样 自己 大家 有没有
    有人 的话 一些 比较 非常 特别 可能 应该 要求 人称 你们好 嗯嗯 对对 行行 好好 请尽快
    尽快 多次 情况属实 联系 电话 工作 工作人员 您好请讲 请讲 号码 开始 小区 家里 附近 门口
    居民 意见 很大 只有 如何 存在 使用 不了 影响 发现 东西 出来 下来 起来 时间 地方
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def query_words(query: str, limit: int = MAX_QUERY_WORDS) -> list[str]:
    """The query's words worth matching: no punctuation, no stop words, no single characters
    (mostly particles in speech); the most frequent first when there are more than `limit`.
    Search-mode segmentation also yields the parts of a long word (暖气不热: 暖气), so a query
    matches entries whether or not the classifier's terms were in jieba's dictionary when
    either side was segmented."""
    words = [
        w
        for w in segment.search_words(query, index=True)
        if len(w) >= 2 and w.isalnum() and w not in STOP_WORDS
    ]
    counts = Counter(words)
    if len(counts) <= limit:
        return list(counts)
    return [w for w, _ in counts.most_common(limit)]


def word_weight(word: str) -> float:
    """Longer words are more specific: 2 characters 1.0, 3 characters 1.5, 4 or more 2.0."""
    return min(len(word), 4) / 2


@dataclass(frozen=True)
class Hit:
    entry_id: int
    kind: str
    title: str
    department: str
    version: int
    score: float
    coverage: float  # matched weight / query weight, 0..1
    matched: tuple[str, ...]
    snippet: str
    expires_at: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.entry_id,
            "kind": self.kind,
            "title": self.title,
            "department": self.department,
            "version": self.version,
            "score": round(self.score, 3),
            "coverage": round(self.coverage, 3),
            "matched": list(self.matched),
            "snippet": self.snippet,
            "expires_at": self.expires_at,
        }


def _in_force() -> str:
    return (
        "e.published_version IS NOT NULL "
        "AND (e.effective_from IS NULL OR e.effective_from <= :now) "
        "AND (e.expires_at IS NULL OR e.expires_at > :now)"
    )


def candidate_ids(
    session: Session, weights: Mapping[str, float], now: float, limit: int
) -> list[int]:
    """Entries in force matching any of the words, the most matched weight first.

    One indexed lookup per word (GIN on PostgreSQL, FTS5 on SQLite), summed per entry: no
    row's text is parsed again to rank it, so a common word matching thousands of entries
    stays cheap.
    """
    if not weights:
        return []
    params: dict[str, object] = {"now": now, "k": limit}
    branches: list[str] = []
    postgres = session.get_bind().dialect.name == "postgresql"
    for i, (word, weight) in enumerate(weights.items()):
        params[f"q{i}"], params[f"w{i}"] = (word if postgres else f'"{word}"'), weight
        if postgres:
            branches.append(
                f"SELECT id, CAST(:w{i} AS float) AS w FROM knowledge_entries "
                f"WHERE to_tsvector('simple', search_text) @@ to_tsquery('simple', :q{i})"
            )
        else:
            branches.append(
                f"SELECT rowid AS id, :w{i} AS w FROM knowledge_fts WHERE knowledge_fts MATCH :q{i}"
            )
    sql = (
        f"SELECT m.id FROM ({' UNION ALL '.join(branches)}) m "
        f"JOIN knowledge_entries e ON e.id = m.id WHERE {_in_force()} "
        "GROUP BY m.id ORDER BY sum(m.w) DESC, m.id LIMIT :k"
    )
    return [int(r[0]) for r in session.execute(text(sql), params)]


def _normalized(body: str) -> tuple[str, list[int]]:
    """The normalized body and, for each of its characters, the index of the body's
    character it came from (NFKC may turn one character into several: ℃ -> °C)."""
    norm = segment.normalize(body)
    if len(norm) == len(body) and norm == body.lower():  # the usual case: one to one
        return norm, list(range(len(body) + 1))
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(body):
        n = segment.normalize(ch)
        parts.append(n)
        origin.extend([i] * len(n))
    origin.append(len(body))
    return "".join(parts), origin


def snippet(body: str, matched: tuple[str, ...], chars: int = SNIPPET_CHARS) -> str:
    """The body around the first matched word (`chars` either side), the matched words
    marked 【】; the body's own characters, matched after normalization."""
    norm, origin = _normalized(body)
    spans: list[tuple[int, int]] = []
    if matched:
        pattern = "|".join(re.escape(w) for w in sorted(matched, key=len, reverse=True))
        spans = [(origin[m.start()], origin[m.end()]) for m in re.finditer(pattern, norm)]
    if not spans:
        return body[: 2 * chars] + ("…" if len(body) > 2 * chars else "")
    start, end = max(0, spans[0][0] - chars), min(len(body), spans[0][1] + chars)
    out: list[str] = ["…" if start > 0 else ""]
    at = start
    for a, b in spans:
        if a < at or b > end:
            continue
        out += [body[at:a], "【", body[a:b], "】"]
        at = b
    out += [body[at:end], "…" if end < len(body) else ""]
    return "".join(out)


def rank(
    session: Session,
    words: list[str],
    now: float,
    limit: int,
    weights: Mapping[str, float] | None = None,
) -> list[Hit]:
    """The best `limit` entries in force for the query words, each word weighing
    `weights[word]` (default: by its length)."""
    weight = {w: word_weight(w) if weights is None else weights[w] for w in words}
    ids = candidate_ids(session, weight, now, max(CANDIDATES, limit))
    if not ids:
        return []
    order = {entry_id: i for i, entry_id in enumerate(ids)}
    rows = session.execute(
        select(
            KnowledgeEntry.id,
            KnowledgeEntry.kind,
            KnowledgeVersion.title,
            KnowledgeEntry.department,
            KnowledgeVersion.version,
            KnowledgeEntry.expires_at,
            KnowledgeVersion.body,
        )
        .join(
            KnowledgeVersion,
            and_(
                KnowledgeVersion.entry_id == KnowledgeEntry.id,
                KnowledgeVersion.version == KnowledgeEntry.published_version,
            ),
        )
        .where(KnowledgeEntry.id.in_(ids))
    )
    total = sum(weight.values()) or 1.0
    hits: list[Hit] = []
    for entry in rows:
        body = entry.body
        title, norm_body = segment.normalize(entry.title), segment.normalize(body)
        score = covered = 0.0
        matched: list[str] = []
        for w in words:
            in_title = w in title
            if in_title or w in norm_body:
                matched.append(w)
                covered += weight[w]
                score += weight[w] * (TITLE_WEIGHT if in_title else 1.0)
        if not matched:
            continue
        found = tuple(matched)
        hits.append(
            Hit(
                entry.id,
                entry.kind,
                entry.title,
                entry.department,
                entry.version,
                score,
                covered / total,
                found,
                body,  # replaced by the snippet for the hits returned
                entry.expires_at,
            )
        )
    hits.sort(key=lambda h: (-h.score, order[h.entry_id]))
    return [replace(h, snippet=snippet(h.snippet, h.matched)) for h in hits[:limit]]


def search(session: Session, query: str, now: float, limit: int = 10) -> list[Hit]:
    """Entries in force for a typed query, best first, with snippets."""
    return rank(session, query_words(query), now, limit)
