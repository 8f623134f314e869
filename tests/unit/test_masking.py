"""Masking of citizens' phone and ID numbers."""

from __future__ import annotations

import pytest

from callcenter.masking import mask_id_card, mask_phone


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("13812345678", "138****5678"),  # mobile
        ("19912340000", "199****0000"),
        (" 13812345678 ", "138****5678"),  # surrounding blanks are ignored
        ("01062345678", "010****5678"),  # Beijing landline with area code, 11 digits
        ("057188886666", "057*****6666"),  # 4-digit area code, 12 digits
        ("+8613812345678", "+86*******5678"),
        ("62345678", "******78"),  # landline without area code
        ("12345", "***45"),
        ("110", "*10"),
        ("12", "**"),
        ("1", "*"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


@pytest.mark.parametrize("number", ["13812345678", "01062345678", "62345678", "12345678901234"])
def test_mask_phone_hides_the_middle(number: str) -> None:
    masked = mask_phone(number)
    assert len(masked) == len(number)
    assert number not in masked
    assert masked.count("*") >= len(number) // 3


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "110105********002X"),  # 18 digits, check character X
        ("11010519491231002x", "110105********002x"),
        ("440524188001010014", "440524********0014"),
        ("110105491231002", "110105*****1002"),  # old 15-digit number
        (" 110105491231002 ", "110105*****1002"),
        ("1234567890", "**********"),  # too short to keep anything
        ("123", "***"),
        ("", ""),
    ],
)
def test_mask_id_card(number: str, masked: str) -> None:
    assert mask_id_card(number) == masked


def test_mask_id_card_hides_the_birth_date() -> None:
    assert "19491231" not in mask_id_card("11010519491231002X")
