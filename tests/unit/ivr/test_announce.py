"""What a waiting caller hears: Mandarin numbers from prompt pieces, position and wait."""

from __future__ import annotations

import pytest

from ivr.announce import SYSTEM_PROMPTS, expected_minutes, number_prompts, queue_announcement


def spoken(n: int, counting: bool = True) -> str:
    return "".join(SYSTEM_PROMPTS[p] for p in number_prompts(n, counting))


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "零"),
        (1, "一"),
        (2, "两"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (22, "二十二"),
        (100, "一百"),
        (105, "一百零五"),
        (110, "一百一十"),
        (200, "两百"),
        (1002, "一千零二"),
        (1200, "一千二百"),
        (2000, "两千"),
        (10000, "一万"),
        (10010, "一万零一十"),
        (20500, "两万零五百"),
        (123456, "十二万三千四百五十六"),
    ],
)
def test_numbers_are_spoken_the_mandarin_way(n: int, text: str) -> None:
    assert spoken(n) == text


def test_a_bare_two_is_er_when_not_counting() -> None:
    assert spoken(2, counting=False) == "二"


@pytest.mark.parametrize("n", [-1, 100_000_000])
def test_numbers_out_of_range_are_refused(n: int) -> None:
    with pytest.raises(ValueError):
        number_prompts(n)


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 1), (59, 1), (60, 1), (61, 2), (600, 10)])
def test_expected_wait_is_rounded_up_to_whole_minutes(seconds: float, minutes: int) -> None:
    assert expected_minutes(seconds) == minutes


def say(prompts: list[str]) -> str:
    return "".join(SYSTEM_PROMPTS[p] for p in prompts)


@pytest.mark.parametrize(
    ("position", "wait", "offer", "text"),
    [
        (1, 30.0, False, "您是下一位，请稍候。"),
        (3, None, False, "您前面还有两位市民在等候。"),
        (3, 45.0, False, "您前面还有两位市民在等候。预计等待不超过一分钟。"),
        (13, 610.0, False, "您前面还有十二位市民在等候。预计等待十一分钟。"),
    ],
)
def test_queue_announcement_says_position_and_expected_wait(
    position: int, wait: float | None, offer: bool, text: str
) -> None:
    assert say(queue_announcement(position, wait, offer)) == text


def test_queue_announcement_ends_with_the_callback_offer() -> None:
    prompts = queue_announcement(5, 900.0, offer_callback=True)
    assert prompts[-1] == "callback_offer"
    assert "按1" in SYSTEM_PROMPTS["callback_offer"]


def test_every_system_prompt_id_is_a_valid_prompt_id() -> None:
    assert all(p.replace("_", "").isalnum() and p.isascii() for p in SYSTEM_PROMPTS)
