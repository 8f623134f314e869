"""Query words, snippets, the words that describe a group of tickets, the caller's text of a
live transcript, the seed file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from callcenter.knowledge_base.gaps import describing_words
from callcenter.knowledge_base.search import query_words, snippet, word_weight
from callcenter.knowledge_base.seed import load_seed
from callcenter.knowledge_base.suggest import caller_text
from callcenter.tomlreader import ConfigErrors

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("拖欠工资", ["拖欠工资"]),
        ("你好，我想问一下暖气不热怎么办", ["暖气"]),
        ("医保 医保 异地就医", ["医保", "异地", "就医"]),
        ("嗯，好的，谢谢", []),
        ("ＫＴＶ太吵", ["ktv"]),
    ],
)
def test_query_words(query: str, expected: list[str]) -> None:
    words = query_words(query)
    assert set(expected) <= set(words) if expected else words == []
    assert not {"你好", "怎么办", "谢谢", "好的"} & set(words)


def test_query_words_keeps_the_most_frequent_of_a_long_text() -> None:
    words = query_words("暖气 暖气 暖气 停水 停水 供电", limit=2)
    assert words == ["暖气", "停水"]


@pytest.mark.parametrize(("word", "weight"), [("医保", 1.0), ("公积金", 1.5), ("拖欠工资", 2.0)])
def test_word_weight(word: str, weight: float) -> None:
    assert word_weight(word) == weight


@pytest.mark.parametrize(
    ("body", "matched", "expected"),
    [
        ("供暖期内室温应不低于18℃。", ("室温",), "供暖期内【室温】应不低于18℃。"),
        ("拖欠工资的可以投诉", ("拖欠工资", "工资"), "【拖欠工资】的可以投诉"),
        (
            "甲" * 50 + "公积金" + "乙" * 50,
            ("公积金",),
            "…" + "甲" * 10 + "【公积金】" + "乙" * 10 + "…",
        ),
        ("没有匹配", ("社保",), "没有匹配"),
        ("ＫＴＶ太吵，ktv", ("ktv",), "【ＫＴＶ】太吵，【ktv】"),
    ],
)
def test_snippet(body: str, matched: tuple[str, ...], expected: str) -> None:
    assert snippet(body, matched, chars=10 if len(body) > 60 else 40) == expected


def test_describing_words_prefer_what_is_frequent_here_and_rare_elsewhere() -> None:
    group = Counter({"暖气": 9, "小区": 10, "冰凉": 2, "偶然": 0})
    df = Counter({"暖气": 10, "小区": 90, "冰凉": 2, "偶然": 1})
    words = describing_words(group, 10, df, 100, limit=3)
    assert list(words) == ["暖气", "冰凉", "小区"]
    assert words["暖气"] > words["冰凉"] > words["小区"] > 0


def test_caller_text_takes_the_callers_segments_and_partial() -> None:
    view = {
        "segments": [
            {"speaker": "agent", "text": "您好，12345"},
            {"speaker": "caller", "text": "我们小区停水了"},
            {"speaker": "caller", "text": "一直没有通知"},
        ],
        "current": {"caller": "什么时候来水", "agent": "请稍等"},
    }
    assert caller_text(view) == "我们小区停水了。一直没有通知。什么时候来水"
    assert caller_text({"segments": [], "current": {}}) == ""


def test_the_seed_file_loads() -> None:
    seed = load_seed(REPO / "config" / "knowledge_base_seed.toml")
    assert len(seed.entries) >= 30
    assert seed.author != seed.reviewer
    assert {e.draft.kind for e in seed.entries} == {"policy", "duty", "notice"}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('author = "a"\nreviewer = "a"\n', "reviewer"),
        (
            'author = "a"\nreviewer = "b"\n[[entry]]\nkind = "faq"\ntitle = "t"\nbody = "b"\n',
            "entry[0].kind",
        ),
        ('author = "a"\nreviewer = "b"\n[[entry]]\nkind = "duty"\nbody = "b"\n', "entry[0].title"),
        (
            'author = "a"\nreviewer = "b"\n[[entry]]\nkind = "duty"\ntitle = "t"\nbody = "b"\n'
            'expires = "soon"\n',
            "entry[0].expires",
        ),
    ],
)
def test_seed_mistakes_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigErrors) as caught:
        load_seed(path)
    assert any(e.key == key for e in caught.value.errors)
