"""Masking of personal numbers inside free text and log lines (`mask_text`): every way a
citizen's mobile, landline or ID number is written is masked in the style of `mask_phone` /
`mask_id_card`; ticket numbers, dates, times, amounts, postcodes and service numbers are not."""

from __future__ import annotations

import pytest

from callcenter.masking import mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # mobiles
        ("138 0013 8000", "138 **** 8000"),
        ("138-0013-8000", "138-****-8000"),
        ("138 00138000", "138 ****8000"),
        ("+8613800138000", "+86138****8000"),
        ("+86 138 0013 8000", "+86 138 **** 8000"),
        ("+86-138-0013-8000", "+86-138-****-8000"),
        ("8613800138000", "86138****8000"),
        ("86 138 0013 8000", "86 138 **** 8000"),
        ("008613800138000", "0086138****8000"),
        ("(+86)138-0013-8000", "(+86)138-****-8000"),
        ("013800138000", "0138****8000"),  # dialled with the trunk 0
        ("13800138000，138 0013 9000", "138****8000，138 **** 9000"),
        # landlines with their area code
        ("01062345678", "010****5678"),
        ("010-62345678", "010-****5678"),
        ("010 6234 5678", "010 **** 5678"),
        ("(010)62345678", "(010)****5678"),
        ("（010）62345678", "（010）****5678"),
        ("(010) 6234-5678", "(010) ****-5678"),
        ("0755-12345678", "0755-****5678"),
        ("075512345678", "0755****5678"),
        ("0571-8888666", "0571-***8666"),  # a 7-digit subscriber number
        ("020-87654321", "020-****4321"),
        ("+86 10 62345678", "+86 10 ****5678"),
        ("+86-755-12345678", "+86-755-****5678"),
        ("+86 (10) 6234 5678", "+86 (10) **** 5678"),
        ("86-010-62345678", "86-010-****5678"),
        ("0086 755 12345678", "0086 755 ****5678"),
        ("010-62345678-8001", "010-****5678-8001"),  # the extension is the office's
        ("电话：010-62345678，谢谢", "电话：010-****5678，谢谢"),
        # resident ID numbers
        ("11010519491231002X或110105491231002", "110105********002X或110105*****1002"),
        ("110105491231002", "110105*****1002"),  # first generation, 15 digits
        ("证件号440524800101001。", "证件号440524*****1001。"),
        # query strings as aiohttp's access log writes them
        ("GET /x?phone=+8613800138000 HTTP/1.1", "GET /x?phone=+86138****8000 HTTP/1.1"),
        ("?caller_number=%2B8613800138000", "?caller_number=%2B86138****8000"),
        ("?phone=%2B86+138+0013+8000&x=1", "?phone=%2B86+138+****+8000&x=1"),
        ("?phone=138%200013%208000", "?phone=138%20****%208000"),
        ("?q=call%2013800138000", "?q=call%20138****8000"),
        ("?q=%28010%2962345678", "?q=%28010%29****5678"),
        ("?phone=010-62345678&page=2", "?phone=010-****5678&page=2"),
        ("?id_card=110105491231002", "?id_card=110105*****1002"),
    ],
)
def test_personal_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked
    assert mask_text(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "12345",  # the hotline
        "请拨打12345热线",
        "110",
        "119",
        "120",
        "122",
        "转接110（三方通话）",
        "12315",
        "95598",
        "100010",  # postcodes
        "邮编518000",
        "20261126000123",  # ticket numbers: date + serial
        "202611261234567",  # a 7-digit serial: 15 digits, region 20 is none
        "工单20261012123456",
        "2026-11-26",  # dates and times
        "2026/11/26",
        "20261126",
        "2026年11月26日",
        "2026-11-26 09:30:00",
        "2026-11-26T09:30:00+08:00",
        "09:30-18:00",
        "1764115200",  # epoch seconds, milliseconds, an Asterisk unique id
        "1764115200123",
        "1764115200.123",
        "17312345678901234567",  # a 20-digit call id holding an 11-digit run
        "金额1380013800.00元",
        "1,380,013,800",
        "共计12345678元",  # 8 digits without an area code
        "62345678",
        "0.5",
        "10.0.0.1:8088",
        "v3.12.1",
        "12138001380001",  # 14 digits
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "11010519491231002",  # 17 digits
        "1101051949123100211",  # 19 digits
        "身份证44052418800101001",  # 17 digits
        "",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    """Each beside a landline, which is masked: only the personal number changes."""
    assert mask_text(f"{text} 010-62345678") == f"{text} 010-****5678"
    assert mask_text(f"{text}（0755）1234 5678") == f"{text}（0755）**** 5678"
