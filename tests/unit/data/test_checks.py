"""Check digits and conformity checks as tables (GB 11643, GB 32100, phone numbers, dates)."""

from __future__ import annotations

from datetime import date

import pytest

from callcenter.data.checks import (
    check_code,
    check_date,
    check_id_card,
    check_phone,
    check_uscc,
    id_card_check_digit,
    normalize_phone,
    uscc_check_char,
)

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("11010519491231002X", None),  # the standard's own example
        ("11010519491231002x", None),  # lower-case x is the same character
        ("440524198001010013", None),
        ("440524188001010014", "出生日期超出范围"),
        ("110105194912310021", "校验码错误"),
        ("11010519491231002", "身份证号码应为18位"),
        ("1101051949123100211", "身份证号码应为18位"),
        ("01010519491231002X", "身份证号码只能由数字和末位X组成"),
        ("1101051949123100X2", "身份证号码只能由数字和末位X组成"),
        ("110105194902300021", "出生日期无效"),  # 30 February
        ("110105203001010011", "出生日期超出范围"),  # born in the future
        ("110105180001010011", "出生日期超出范围"),
        ("", "身份证号码应为18位"),
    ],
)
def test_id_card(value: str, problem: str | None) -> None:
    assert check_id_card(value, TODAY) == problem


@pytest.mark.parametrize(
    ("first17", "digit"),
    [("11010519491231002", "X"), ("44052419800101001", "3"), ("11010119900307803", "X")],
)
def test_id_card_check_digit(first17: str, digit: str) -> None:
    assert id_card_check_digit(first17) == digit


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("91350100M000100Y43", None),  # the standard's own example
        ("91110000600037341L", None),
        ("911100007109288314", None),
        ("91350100m000100y43", None),
        ("91350100M000100Y44", "校验码错误"),
        ("91350100M000100Y4", "统一社会信用代码应为18位"),
        ("91350100M000100I43", "统一社会信用代码含有不允许的字符"),  # I is not in the set
        ("91A50100M000100Y43", "统一社会信用代码含有不允许的字符"),  # region must be digits
    ],
)
def test_uscc(value: str, problem: str | None) -> None:
    assert check_uscc(value) == problem


def test_uscc_check_char_is_zero_when_sum_divides() -> None:
    # brute-force: every computed check character makes the code pass
    for body in ("91350100M000100Y4", "12100000400000123", "5211000050000000A"):
        assert check_uscc(body + uscc_check_char(body)) is None


def test_check_chars_refuse_bad_input() -> None:
    with pytest.raises(ValueError):
        id_card_check_digit("1234")
    with pytest.raises(ValueError):
        uscc_check_char("91350100M000100I4")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("13812345678", None),
        ("+86 138 1234 5678", None),
        ("008613812345678", None),
        ("010-62345678", None),
        ("0755-23456789", None),
        ("0951-5123456", None),  # a 7-digit number where the plan has them
        ("0755-2345678", "电话号码格式不符（手机11位或区号+固话）"),  # Shenzhen has 8 digits
        ("15412345678", "电话号码格式不符（手机11位或区号+固话）"),  # 154: not allocated
        ("110", "电话号码格式不符（手机11位或区号+固话）"),  # a short number, not a citizen's
        ("1", "电话号码格式不符（手机11位或区号+固话）"),
        ("12345", None),
        ("95598", None),
        ("4008123456", None),
        ("1381234567", "电话号码格式不符（手机11位或区号+固话）"),
        ("12812345678", "电话号码格式不符（手机11位或区号+固话）"),
        ("1381234567a", "电话号码含有非数字字符"),
        ("", "电话号码为空"),
    ],
)
def test_phone(value: str, problem: str | None) -> None:
    assert check_phone(value) == problem


def test_normalize_phone() -> None:
    assert normalize_phone(" +86 (138) 1234 5678 ") == "13812345678"


@pytest.mark.parametrize(
    ("value", "fmt", "ok"),
    [
        ("2026-02-28", "%Y-%m-%d", True),
        ("2026-02-30", "%Y-%m-%d", False),
        ("2026/02/01", "%Y-%m-%d", False),
        ("20260201", "%Y%m%d", True),
    ],
)
def test_date(value: str, fmt: str, ok: bool) -> None:
    assert (check_date(value, fmt) is None) is ok


def test_code() -> None:
    assert check_code("complaint", ("complaint", "help")) is None
    assert check_code("x", ("complaint",)) == "代码不在字典中"
