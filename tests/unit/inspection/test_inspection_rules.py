"""Every inspection rule on known, hand-made transcripts (segments with times), including
the near misses just inside and just outside each threshold."""

from __future__ import annotations

import pytest

from callcenter.inspection.rules import (
    CallFacts,
    Closing,
    Common,
    Confirmation,
    Emergency,
    Evidence,
    Finding,
    ForbiddenWords,
    Greeting,
    Interruption,
    LongSilence,
    Segment,
    Severity,
    check_closing,
    check_confirmation,
    check_emergency,
    check_forbidden,
    check_greeting,
    check_interruption,
    check_silence,
    normalize,
    phrase_pattern,
)

C = Common(True, 5.0, Severity.MINOR, 5.0)
COUNTED = Common(True, 2.0, Severity.MINOR, 5.0)  # the cap bites at the third occurrence


def A(start: float, end: float, text: str) -> Segment:
    return Segment("agent", start, end, text)


def U(start: float, end: float, text: str) -> Segment:
    return Segment("caller", start, end, text)


def facts(
    *segments: Segment, ticket: bool = False, transfers: tuple[tuple[str, str], ...] = ()
) -> CallFacts:
    return CallFacts(tuple(segments), ticket, transfers)


def failed(findings: list[Finding]) -> list[tuple[str, float, float | None]]:
    """(rule, points, evidence start) of each failed finding."""
    return [
        (f.rule, f.points, f.evidence.start if f.evidence else None)
        for f in findings
        if not f.passed
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("您好，12345！", "您好12345"),
        ("您 好 １２３４５", "您好12345"),
        ("OK，好的。", "ok好的"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("phrase", "text", "matches"),
    [
        ("地址是…对吗", "您的地址是幸福路8号对吗", True),
        ("地址是...对吗", "地址是幸福路8号对吗", True),
        ("地址是…对吗", "地址是幸福路8号", False),
        ("地址是…对吗", "地址是" + "很" * 21 + "对吗", False),  # more than 20 between
        ("您好，12345", "您好12345很高兴为您服务", True),
        ("您好，12345", "您好1234", False),
    ],
)
def test_phrase_pattern(phrase: str, text: str, matches: bool) -> None:
    pattern = phrase_pattern((phrase,))
    assert pattern is not None
    assert bool(pattern.search(normalize(text))) is matches


GREETING = Greeting(C, ("您好，12345", "您好…热线"), 10.0)


@pytest.mark.parametrize(
    ("segments", "passed"),
    [
        ((A(0.5, 3.0, "您好，12345，请讲"),), True),
        ((U(0.0, 2.0, "喂"), A(2.5, 5.0, "您好，这里是便民热线")), True),
        ((A(10.0, 12.0, "您好，12345"),), True),  # starts exactly at the limit
        ((A(10.1, 12.0, "您好，12345"),), False),  # near miss: just too late
        ((U(0.5, 3.0, "您好，12345吗"),), False),  # the caller said it
        ((A(0.5, 3.0, "喂，你说"),), False),
        ((), False),
    ],
)
def test_greeting(segments: tuple[Segment, ...], passed: bool) -> None:
    found = check_greeting(GREETING, facts(*segments))
    assert [f.passed for f in found] == [passed]
    if passed:
        assert found[0].evidence is not None and found[0].evidence.speaker == "agent"
    else:
        assert found[0].points == -5.0


CLOSING = Closing(C, ("感谢您的来电", "请问还有其他问题吗"), 30.0)


@pytest.mark.parametrize(
    ("segments", "passed"),
    [
        ((U(0, 5, "我要投诉"), A(90, 95, "请问还有其他问题吗？"), U(95, 97, "没了")), True),
        ((A(0, 5, "您好"), A(170, 175, "感谢您的来电，再见")), True),
        ((A(0, 5, "感谢您的来电"), U(6, 40, "还有一件事")), False),  # near miss: 35 s early
        ((A(0, 5, "您好"), A(60, 70, "感谢您的来电"), U(70, 100, "好")), True),  # ends at 100-30
        ((A(0, 5, "您好"), A(60, 69.9, "感谢您的来电"), U(70, 100, "好")), False),
        ((A(0, 5, "您好"), U(6, 9, "感谢您的来电")), False),  # the caller thanked
    ],
)
def test_closing(segments: tuple[Segment, ...], passed: bool) -> None:
    assert [f.passed for f in check_closing(CLOSING, facts(*segments))] == [passed]


FORBIDDEN = ForbiddenWords(Common(True, 10.0, Severity.MAJOR, 30.0), ("不归我们管", "烦不烦"))


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        ((A(0, 3, "您好，12345"), A(5, 8, "这个不归我们管")), [("forbidden_words", -10.0, 5)]),
        ((U(0, 3, "你们烦不烦"), A(5, 8, "请您别着急")), []),  # the caller's words do not count
        (
            (A(0, 3, "烦不烦，不归我们管"), A(4, 6, "烦 不 烦")),
            [
                ("forbidden_words", -10.0, 0),
                ("forbidden_words", -10.0, 0),
                ("forbidden_words", -10.0, 4),
            ],
        ),
        (
            (A(0, 3, "烦不烦"),) * 4,
            [("forbidden_words", -10.0, 0)] * 3 + [("forbidden_words", 0.0, 0)],
        ),
        ((A(0, 3, "不归我们部门管"),), []),  # near miss: not the phrase
    ],
)
def test_forbidden(segments: tuple[Segment, ...], expected: list[tuple[str, float, float]]) -> None:
    found = check_forbidden(FORBIDDEN, facts(*segments))
    assert failed(found) == expected
    if not expected:
        assert [f.passed for f in found] == [True]


INTERRUPT = Interruption(COUNTED, 1.0)


@pytest.mark.parametrize(
    ("segments", "starts"),
    [
        ((U(0, 10, "我家楼下"), A(8, 12, "您说地址")), [8]),  # 2 s over the caller
        ((U(0, 10, "我家楼下"), A(9, 12, "您说地址")), []),  # exactly 1 s: not more than
        ((U(0, 10, "我家楼下"), A(8.9, 12, "您说地址")), [8.9]),  # 1.1 s
        ((U(0, 10, "我家楼下"), A(5, 5.8, "嗯")), []),  # a short backchannel
        ((U(0, 10, "我家楼下"), A(10, 12, "好的")), []),  # starts when the caller stops
        ((A(0, 5, "您好"), U(3, 9, "喂喂")), []),  # the caller interrupting is not counted
        (
            (U(0, 10, "a"), A(2, 4, "b"), A(5, 7, "c"), U(11, 20, "d"), A(12, 15, "e")),
            [2, 5, 12],
        ),
    ],
)
def test_interruption(segments: tuple[Segment, ...], starts: list[float]) -> None:
    found = check_interruption(INTERRUPT, facts(*segments))
    assert [start for _, _, start in failed(found)] == starts
    assert [p for _, p, _ in failed(found)] == [-2.0, -2.0, -1.0][: len(starts)]


SILENCE = LongSilence(COUNTED, 10.0)


@pytest.mark.parametrize(
    ("segments", "gaps"),
    [
        ((A(0, 5, "您好"), U(16, 20, "在")), [(5, 16)]),
        ((A(0, 5, "您好"), U(15, 20, "在")), []),  # exactly 10 s: not longer
        ((A(0, 5, "您好"), U(15.1, 20, "在")), [(5, 15.1)]),
        ((U(30, 35, "喂"), A(36, 40, "您好")), []),  # before the first segment is not inside
        ((U(0, 30, "长长的叙述"), A(2, 5, "嗯"), A(35, 38, "好的")), []),  # overlap covers it
        (
            (U(0, 30, "长长的叙述"), A(2, 5, "嗯"), A(41, 45, "好的"), U(60, 62, "喂")),
            [(30, 41), (45, 60)],
        ),
    ],
)
def test_silence(segments: tuple[Segment, ...], gaps: list[tuple[float, float]]) -> None:
    found = check_silence(SILENCE, facts(*segments))
    spans = [(f.evidence.start, f.evidence.end) for f in found if not f.passed and f.evidence]
    assert spans == gaps


CONFIRM = Confirmation(C, ("地址是…对吗", "核实一下地址"), ("您的电话是", "核实一下号码"))


@pytest.mark.parametrize(
    ("segments", "ticket", "failures"),
    [
        ((A(0, 5, "您的地址是幸福路8号对吗"), A(6, 9, "您的电话是138")), True, []),
        ((A(0, 5, "我核实一下地址"), A(6, 9, "再核实一下号码")), True, []),
        ((A(0, 5, "您的地址是幸福路8号对吗"),), True, ["confirm_phone"]),
        ((A(6, 9, "您的电话是138"),), True, ["confirm_address"]),
        ((A(0, 5, "好的"),), True, ["confirm_address", "confirm_phone"]),
        ((A(0, 5, "好的"),), False, []),  # no ticket: nothing to confirm
        (
            (U(0, 5, "我的地址是幸福路8号对吗"), U(6, 9, "您的电话是多少")),
            True,
            ["confirm_address", "confirm_phone"],
        ),
        ((A(0, 5, "地址是幸福路8号"),), True, ["confirm_address", "confirm_phone"]),  # not asked
    ],
)
def test_confirmation(segments: tuple[Segment, ...], ticket: bool, failures: list[str]) -> None:
    found = check_confirmation(CONFIRM, facts(*segments, ticket=ticket))
    assert [r for r, _, _ in failed(found)] == failures
    assert sum(f.points for f in found) == -5.0 * len(failures)


EMERGENCY = Emergency(
    Common(True, 100.0, Severity.FATAL, 100.0),
    ("着火", "救命", "煤气泄漏"),
    ("110", "119", "120", "122"),
    ("requested", "LINKED", "ANSWER"),
)
FIRE = (A(0, 3, "您好，12345"), U(3, 8, "我家楼下着火了！"), A(8, 10, "马上为您转119"))


@pytest.mark.parametrize(
    ("segments", "transfers", "passed", "evidence"),
    [
        (FIRE, (), False, Evidence("caller", 3, 8, "我家楼下着火了！")),
        (
            FIRE,
            (("119", "requested"), ("119", "LINKED")),
            True,
            Evidence("caller", 3, 8, "我家楼下着火了！"),
        ),
        (FIRE, (("119", "NOANSWER"),), False, Evidence("caller", 3, 8, "我家楼下着火了！")),
        (FIRE, (("999", "LINKED"),), False, Evidence("caller", 3, 8, "我家楼下着火了！")),
        ((U(0, 3, "路灯坏了"),), (), True, None),
        ((A(0, 3, "如遇着火请拨119"),), (), True, None),  # the agent said it, not the caller
        ((U(0, 3, "煤 气 泄 漏"),), (), False, Evidence("caller", 0, 3, "煤 气 泄 漏")),
    ],
)
def test_emergency(
    segments: tuple[Segment, ...],
    transfers: tuple[tuple[str, str], ...],
    passed: bool,
    evidence: Evidence | None,
) -> None:
    [found] = check_emergency(EMERGENCY, facts(*segments, transfers=transfers))
    assert (found.passed, found.evidence) == (passed, evidence)
    assert found.points == (0.0 if passed else -100.0)
    assert found.severity is Severity.FATAL
