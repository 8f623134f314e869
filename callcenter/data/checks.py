"""Conformity checks of identifiers (pure): resident ID numbers (GB 11643), unified social
credit codes (GB 32100), phone numbers, dates. Each check returns None when the value
conforms, else the reason in Chinese; the `*_check_*` functions compute check characters (the
synthetic-data generator makes valid and invalid values with them).

The check characters are python-stdnum's (`stdnum.cn.ric`, `stdnum.cn.uscc`) and phone
numbers are judged by phonenumbers' numbering plan of China; the shapes, the birth-date
rules and the messages are this project's (stdnum's own `validate` also wants a known birth
region and digits in a USCC's first two characters, which GB 32100 does not).
"""

from __future__ import annotations

import re
from datetime import date, datetime

import phonenumbers
from phonenumbers import shortnumberinfo
from stdnum.cn import ric, uscc

_ID_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")

# GB 32100-2015: 31 characters (no I, O, Z, S, V)
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}")

MAX_NATIONAL_DIGITS = 17  # ITU-T E.164 allows 15 in all; longer is no number
MIN_SERVICE_DIGITS = 5  # 12345, 95598: a short number a citizen can give as theirs (not 110)


def id_card_check_digit(first17: str) -> str:
    """The 18th character of a resident ID number, from its first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need the first 17 digits")
    return str(ric.calc_check_digit(first17 + "0"))  # it reads the digits before the last


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
    return str(uscc.calc_check_digit(first17))


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
    """Digits of a number as dialled in China: spaces and brackets go, +86 / 0086 go (the key
    of the stored phone index: it must not change, or stored indexes stop matching)."""
    v = re.sub(r"[\s()]", "", value.strip())
    for prefix in ("+86", "0086"):
        if v.startswith(prefix):
            v = v[len(prefix) :]
    return v


def check_phone(value: str) -> str | None:
    """A number of China's numbering plan (phonenumbers): a mobile, a fixed line with its area
    code (010-62345678), a 400/800 number, or a public service number of five or more digits
    (12345, 95598)."""
    v = normalize_phone(value)
    if not v:
        return "电话号码为空"
    digits = v.replace("-", "")
    if not digits.isdigit():
        return "电话号码含有非数字字符"
    # the national number without the trunk prefix 0, built directly (parse() would cost
    # another 100 us a number and only finds the same digits)
    national = digits[1:] if digits.startswith("0") else digits
    if not national or national.startswith("0") or len(national) > MAX_NATIONAL_DIGITS:
        return "电话号码格式不符（手机11位或区号+固话）"
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(national))
    if phonenumbers.is_valid_number_for_region(number, "CN"):
        return None
    if len(digits) >= MIN_SERVICE_DIGITS and shortnumberinfo.is_valid_short_number_for_region(
        number, "CN"
    ):
        return None
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
