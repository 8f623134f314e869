"""Repeat-request detection (并单): cosine over content words, window and threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.tickets.classifier import prepare
from callcenter.tickets.settings import load_ticket_settings
from callcenter.tickets.similarity import (
    OpenTicket,
    RepeatPolicy,
    find_repeat,
    similarity,
)
from tests.unit.fakes import SHIPPED_CONFIG

SETTINGS = load_ticket_settings(SHIPPED_CONFIG)
prepare(SETTINGS.knowledge)
POLICY = SETTINGS.repeat
STOP = POLICY.stop_words
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
CALLER = "13812345678"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("幸福小区3号楼从昨天开始停水，到现在还没来水", "幸福小区3号楼还是停水，一直没来水"),
        ("楼下烧烤摊占道经营，油烟很大", "你好，我再反映一下楼下烧烤摊占道经营，油烟大"),
        ("公司拖欠工资三个月，老板不给", "我上次反映公司拖欠工资三个月的事还没解决"),
        ("家里暖气不热，室温只有十四度", "暖气还是不热，室温只有十四度"),
    ],
)
def test_similar_requests_reach_the_threshold(a: str, b: str) -> None:
    assert similarity(a, b, STOP) >= POLICY.threshold


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("幸福小区3号楼从昨天开始停水", "幸福小区门口有人违章停车"),
        ("公司拖欠工资三个月", "请问医保异地就医怎么报销"),
        ("楼上漏水把天花板泡了", "楼下酒吧唱歌到半夜"),
        ("建议增加28路公交车班次", "出租车司机拒载绕路"),
    ],
)
def test_dissimilar_requests_stay_below_the_threshold(a: str, b: str) -> None:
    assert similarity(a, b, STOP) < POLICY.threshold


def test_similarity_is_a_cosine() -> None:
    assert similarity("停水", "停水") == pytest.approx(1.0)
    assert similarity("停水", "停电") == 0.0
    assert similarity("，。！", "停水") == 0.0  # no content words
    assert similarity("我的停水", "停水了", frozenset({"我", "的", "了"})) == pytest.approx(1.0)


def ticket(tid: str, text: str, days_ago: float, caller: str = CALLER) -> OpenTicket:
    return OpenTicket(tid, caller, text, NOW - timedelta(days=days_ago))


def test_find_repeat_returns_the_best_open_ticket_with_evidence() -> None:
    tickets = [
        ticket("T1", "幸福小区门口违章停车", 2),
        ticket("T2", "幸福小区3号楼停水，一直没来水", 1),
        ticket("T3", "幸福小区3号楼停水", 3),
    ]
    match = find_repeat(POLICY, CALLER, "幸福小区3号楼停水两天了还没来水", NOW, tickets)
    assert match is not None and match.ticket_id == "T2"
    assert match.similarity >= POLICY.threshold
    assert "停水" in match.shared_words


@pytest.mark.parametrize(
    ("tickets", "expected"),
    [
        ([ticket("T1", "幸福小区3号楼停水，没来水", 29)], "T1"),
        ([ticket("T1", "幸福小区3号楼停水，没来水", 31)], None),  # outside the 30-day window
        ([ticket("T1", "幸福小区3号楼停水，没来水", -1)], None),  # created after the request
        ([ticket("T1", "幸福小区3号楼停水，没来水", 1, "13900000000")], None),  # other caller
        ([ticket("T1", "请问社保卡怎么补办", 1)], None),  # below the threshold
        ([], None),
    ],
)
def test_find_repeat_window_caller_and_threshold(
    tickets: list[OpenTicket], expected: str | None
) -> None:
    match = find_repeat(POLICY, CALLER, "幸福小区3号楼停水了，还没来水", NOW, tickets)
    assert (match.ticket_id if match else None) == expected


def test_find_repeat_prefers_the_most_recent_of_equal_matches() -> None:
    tickets = [ticket("old", "小区停水", 5), ticket("new", "小区停水", 1)]
    match = find_repeat(RepeatPolicy(30, 0.5, STOP), CALLER, "小区停水", NOW, tickets)
    assert match is not None and match.ticket_id == "new"
    assert match.similarity == pytest.approx(1.0)


def test_find_repeat_takes_naive_times_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    open_ticket = OpenTicket("T1", CALLER, "小区停水", naive_now - timedelta(days=1))
    assert find_repeat(POLICY, CALLER, "小区停水", naive_now, [open_ticket]) is not None
