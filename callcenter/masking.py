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


_ID_CARD = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}[0-9]{7}[0-9Xx](?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def mask_text(text: str) -> str:
    """Mask ID-card and mobile numbers a citizen typed or said inside free text."""
    text = _ID_CARD.sub(lambda m: mask_id_card(m.group(0)), text)
    return _MOBILE.sub(lambda m: mask_phone(m.group(0)), text)
