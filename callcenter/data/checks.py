"""Conformity checks of identifiers (pure): resident ID numbers (GB 11643), unified social
credit codes (GB 32100), phone numbers, dates. Each check returns None when the value
conforms, else the reason; the `*_check_*` functions compute check characters (the
synthetic-data generator makes valid and invalid values with them)."""

from __future__ import annotations

import re
from datetime import date, datetime

# GB 11643-1999: weights 2^(17-i) mod 11, check code by sum mod 11
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CODES = "10X98765432"
_ID_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")

# GB 32100-2015: 31 characters (no I, O, Z, S, V), weights 3^i mod 31
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}")

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_FIXED = re.compile(r"0[1-9][0-9]{1,2}-?[2-9][0-9]{6,7}")
_SERVICE = re.compile(r"(?:1[0-2][0-9]{3}|9[56][0-9]{3,6}|400[0-9]{7}|800[0-9]{7})")


def id_card_check_digit(first17: str) -> str:
    """The 18th character of a resident ID number, from its first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need the first 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CODES[total % 11]


def check_id_card(value: str, today: date | None = None) -> str | None:
    """GB 11643: 18 characters, a plausible birth date, the right check digit."""
    v = value.strip().upper()
    if len(v) != 18:
        return "身份证号码应为18位"
    if not _ID_SHAPE.fullmatch(v):
        return "身份证号码只能由数字和末位X组成"
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "出生日期无效"
    if born.year < 1900 or born > (today or date.today()):
        return "出生日期超出范围"
    if id_card_check_digit(v[:17]) != v[17]:
        return "校验码错误"
    return None


def uscc_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code, from its first 17."""
    if len(first17) != 17 or any(c not in USCC_CHARSET for c in first17):
        raise ValueError("need 17 characters of the GB 32100 character set")
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str | None:
    """GB 32100: 18 characters of the code's set, a 6-digit region, the right check char."""
    v = value.strip().upper()
    if len(v) != 18:
        return "统一社会信用代码应为18位"
    if not _USCC_SHAPE.fullmatch(v):
        return "统一社会信用代码含有不允许的字符"
    if uscc_check_char(v[:17]) != v[17]:
        return "校验码错误"
    return None


def normalize_phone(value: str) -> str:
    """Digits of a number as dialled in China: spaces and brackets go, +86 / 0086 go."""
    v = re.sub(r"[\s()]", "", value.strip())
    for prefix in ("+86", "0086"):
        if v.startswith(prefix):
            v = v[len(prefix) :]
    return v


def check_phone(value: str) -> str | None:
    """A mobile (1[3-9] + 9 digits), a fixed line with its area code (010-12345678), or a
    public service number (12345, 95598, 400/800)."""
    v = normalize_phone(value)
    if not v:
        return "电话号码为空"
    if _MOBILE.fullmatch(v) or _FIXED.fullmatch(v) or _SERVICE.fullmatch(v):
        return None
    if not v.replace("-", "").isdigit():
        return "电话号码含有非数字字符"
    return "电话号码格式不符（手机11位或区号+固话）"


def check_date(value: str, fmt: str = "%Y-%m-%d") -> str | None:
    try:
        datetime.strptime(value.strip(), fmt)
    except ValueError:
        return f"日期格式应为 {fmt}"
    return None


def check_code(value: str, allowed: frozenset[str] | set[str] | tuple[str, ...]) -> str | None:
    if value in allowed:
        return None
    return "代码不在字典中"
