"""Masking of citizens' personal numbers wherever they are shown or logged."""

from __future__ import annotations

import re


def mask_phone(number: str) -> str:
    """138****5678 for an 11-digit mobile; shorter numbers keep only their last two digits."""
    digits = number.strip()
    if not digits:
        return ""
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) <= 2:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_id_card(number: str) -> str:
    """A resident ID number keeps its first 6 (region) and last 4 characters."""
    value = number.strip()
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


# A match starts after anything but a digit, or right after a URL escape such as %20 or %3D
# (an access log line holds the query string as sent: `?q=call%2013800138000`); it ends before
# anything but a digit. Longer digit strings (call ids, ticket numbers) stay whole.
_START = r"(?:(?<![0-9])|(?<=%[0-9A-Fa-f]{2}))"
_FIRST = r"(?=[0-9(（+%])"  # checked first: most positions of a text fail here, cheaply
_END = r"(?![0-9])"
# Between digit groups: a blank, a dash, a no-break space, or a blank as a query string
# writes it (`+`, %20).
_SEP = r"(?:[ \-+\u00a0]|%20)"
# The country code: +86, 0086, %2B86 (an escaped +) or a bare 86, in brackets or not (a
# bracket may be escaped too: %28, %29).
_OPEN = r"(?:[(（]|%28)"
_CLOSE = r"(?:[)）]|%29)"
_COUNTRY = rf"{_OPEN}?(?:\+|%2[Bb]|00)?86{_CLOSE}?{_SEP}?"
# Province-level region codes: the first two digits of a resident ID number.
_REGION = r"(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[1-3])"
_YYMMDD = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"

_ID_CARD = re.compile(
    rf"(?=[1-9]){_START}[1-9][0-9]{{5}}(?:19|20)[0-9]{{2}}[0-9]{{7}}[0-9Xx]{_END}"
)
# The first-generation 15-digit number: region, YYMMDD, three digits. The region and the date
# keep ticket numbers (20261126 + a 7-digit serial) and other 15-digit strings out.
_ID_CARD_15 = re.compile(rf"(?=[1-8]){_START}{_REGION}[0-9]{{4}}{_YYMMDD}[0-9]{{3}}{_END}")
# A mobile: 3-4-4 digits, grouped or not, after a country code or the trunk 0 or neither.
_MOBILE = re.compile(
    rf"{_FIRST}{_START}(?P<prefix>{_COUNTRY}|0)?"
    rf"(?P<number>1[3-9][0-9]{_SEP}?[0-9]{{4}}{_SEP}?[0-9]{{4}}){_END}"
)
# A landline with its area code: 010 and 02X, or 0 and three digits from 3-9 on; the
# subscriber number has 7 or 8 digits, not starting with 0. After a country code the
# area code's 0 may be left out (+86 10 6234 5678). Without an area code a 7- or 8-digit
# number is not told from an amount or a serial number and is left alone.
_AREA = r"(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = re.compile(
    rf"{_FIRST}{_START}(?P<prefix>{_COUNTRY}{_OPEN}?0?{_AREA}{_CLOSE}?|{_OPEN}?0{_AREA}{_CLOSE}?)"
    rf"(?P<number>{_SEP}?[1-9][0-9]{{2,3}}{_SEP}?[0-9]{{4}}){_END}"
)


_CHARACTER = re.compile(r"%[0-9A-Fa-f]{2}|.", re.DOTALL)  # a URL escape is one separator


def _star_digits(text: str, keep_first: int, keep_last: int) -> str:
    """`text` with its digits starred but the first `keep_first` and the last `keep_last`;
    separators (URL escapes too) stay as they are."""
    parts = _CHARACTER.findall(text)
    total = sum(c.isdigit() for c in parts)
    seen = 0
    for i, c in enumerate(parts):
        if c.isdigit():
            seen += 1
            if keep_first < seen <= total - keep_last:
                parts[i] = "*"
    return "".join(parts)


def _mobile(m: re.Match[str]) -> str:
    """138****5678 as `mask_phone` shows it; a country code, trunk 0 and separators stay."""
    return (m.group("prefix") or "") + _star_digits(m.group("number"), 3, 4)


def _landline(m: re.Match[str]) -> str:
    """The area code stays, the subscriber number keeps its last 4 digits: 010-****5678."""
    return m.group("prefix") + _star_digits(m.group("number"), 0, 4)


def mask_text(text: str) -> str:
    """Mask the personal numbers a citizen typed or said inside free text (or a URL in a log
    line): resident ID numbers (18 and 15 digits), mobiles (138****5678, with or without
    +86/86, grouped 138 0013 8000 or 138-0013-8000) and landlines with their area code
    (010-****5678, (010)****5678, 0755-****5678). Ticket numbers, dates, times, amounts,
    postcodes and short service numbers (12345, 110, 119, 120, 122) are left alone."""
    text = _ID_CARD.sub(lambda m: mask_id_card(m.group(0)), text)
    text = _ID_CARD_15.sub(lambda m: mask_id_card(m.group(0)), text)
    text = _MOBILE.sub(_mobile, text)
    return _LANDLINE.sub(_landline, text)
