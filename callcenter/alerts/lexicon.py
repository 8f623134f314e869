"""Sensitive requests (敏感诉求) and group events (群体性事件), checked on each intake.

Method. The text (title and content, NFKC-normalised) is searched for every configured word
(plain substring search: a lexicon word is matched wherever it occurs, whatever jieba would
cut). A group event is a group word (集体, 多名业主, 上访, ...) or a stated number of people of
at least `group_people` ("30多名业主", "上百人", "几十户居民")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from callcenter.alerts.settings import Lexicon
from callcenter.tickets.text import normalize

_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_PEOPLE = re.compile(
    r"(\d+|[一二两三四五六七八九十百千几数上近]+)\s*(?:多|余|来)?\s*"
    r"(?:名|位|个|户|人|家)\s*(?:业主|居民|村民|工人|职工|群众|商户|家长|学生|员工|农民工|人)?"
)


def chinese_number(text: str) -> int | None:
    """'30' -> 30, '三十' -> 30, '上百' / '数百' -> 100, '几十' -> 10, '二十五' -> 25."""
    if text.isdigit():
        return int(text)
    value = 0
    current = 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch in "几数上近":
            current = current or 1
        elif ch == "十":
            value += (current or 1) * 10
            current = 0
        elif ch == "百":
            value += (current or 1) * 100
            current = 0
        elif ch == "千":
            value += (current or 1) * 1000
            current = 0
        else:
            return None
    value += current
    return value or None


def people_count(text: str) -> int:
    """The largest number of people the text speaks of (0 when none)."""
    best = 0
    for m in _PEOPLE.finditer(normalize(text)):
        whole = m.group(0)
        if whole.rstrip().endswith(("名", "位", "个", "户", "家")) and "人" not in whole:
            continue  # "3个" alone is not people: a noun must follow, or 人
        n = chinese_number(m.group(1))
        if n is not None:
            best = max(best, n)
    return best


@dataclass(frozen=True)
class Hits:
    sensitive: tuple[str, ...]
    severe: bool
    group: tuple[str, ...]
    people: int

    @property
    def is_group(self) -> bool:
        return bool(self.group)


@lru_cache(maxsize=64)
def _normalized(words: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((w, normalize(w)) for w in words)


def scan(text: str, lexicon: Lexicon) -> Hits:
    plain = normalize(text)
    sensitive = tuple(w for w, n in _normalized(lexicon.sensitive) if n in plain)
    severe = any(n in plain for _, n in _normalized(lexicon.severe))
    group = [w for w, n in _normalized(lexicon.group) if n in plain]
    people = people_count(plain)
    if people >= lexicon.group_people:
        group.append(f"{people}人")
    return Hits(sensitive, severe, tuple(group), people)
