"""What a waiting caller hears, as prompt ids: position, expected wait, the callback offer.

Numbers are spoken from pieces (零 一 … 九, 两, 十 百 千 万) the way Mandarin counts people and
minutes: 2 -> 两, 12 -> 十二, 20 -> 二十, 105 -> 一百零五, 1200 -> 一千二百 (两千 for 2000).
The engine's own prompts have built-in Mandarin text (`SYSTEM_PROMPTS`); `[prompts]` in
config/ivr.toml may reword any of them, and a recorded file replaces any of them.
"""

from __future__ import annotations

import math

DIGIT = tuple(f"digit_{d}" for d in range(10))
LIANG = "digit_liang"  # 两: two of something
UNITS = ((10000, "unit_10000"), (1000, "unit_1000"), (100, "unit_100"), (10, "unit_10"))

SYSTEM_PROMPTS: dict[str, str] = {
    **{f"digit_{d}": t for d, t in enumerate("零一二三四五六七八九")},
    LIANG: "两",
    "unit_10": "十",
    "unit_100": "百",
    "unit_1000": "千",
    "unit_10000": "万",
    "queue_next": "您是下一位，请稍候。",
    "queue_ahead": "您前面还有",
    "queue_people": "位市民在等候。",
    "queue_wait": "预计等待",
    "queue_minutes": "分钟。",
    "queue_wait_short": "预计等待不超过一分钟。",
    "callback_offer": "如不想继续等待，请按1，我们将保留您的排队位置，轮到您时回拨本机。",
    "callback_accepted": "已为您保留排队位置，轮到您时我们将回拨本机号码。请挂机，再见。",
    "callback_agent": "正在为您回拨市民，请稍候。",
    "survey_question": (
        "您好，这里是12345政务服务便民热线回访。您反映的问题已办理完毕，"
        "请对办理结果进行评价：满意请按1，基本满意请按2，不满意请按3。"
    ),
    "survey_invalid": "您的输入有误。",
    "survey_thanks": "感谢您的评价，再见。",
}

# The digit a survey answer is pressed with -> the rating's name (tickets.model.Rating values).
SURVEY_DIGITS = {"1": "满意", "2": "基本满意", "3": "不满意"}


def number_prompts(n: int, counting: bool = True) -> list[str]:
    """Prompt ids that say a whole number 0 … 99,999,999 in Mandarin. `counting`: a leading
    2 before a measure word (两位, 两分钟, 两百) is 两; a ones digit 2 stays 二 (十二)."""
    if n < 0 or n >= 100_000_000:
        raise ValueError(f"cannot say {n}")
    if n == 0:
        return [DIGIT[0]]
    if n >= 10000:
        high, low = divmod(n, 10000)
        out = [*number_prompts(high, counting), "unit_10000"]
        if low:
            if low < 1000:
                out.append(DIGIT[0])
            out += _below_10000(low, counting=False, leading=False)
        return out
    return _below_10000(n, counting, leading=True)


def _below_10000(n: int, counting: bool, leading: bool) -> list[str]:
    out: list[str] = []
    zero_pending = False
    for value, unit in UNITS[1:]:
        digit, n = divmod(n, value)
        if digit:
            if zero_pending:
                out.append(DIGIT[0])
                zero_pending = False
            if value == 10 and digit == 1 and not out and leading:
                out.append(unit)  # 十二, not 一十二, at the very start
                continue
            two = digit == 2 and counting and not out and value >= 100
            out += [LIANG if two else DIGIT[digit], unit]
        elif out:
            zero_pending = True
    if n:
        if zero_pending:
            out.append(DIGIT[0])
        two = n == 2 and counting and not out
        out.append(LIANG if two else DIGIT[n])
    return out


def expected_minutes(seconds: float) -> int:
    """Whole minutes to announce for an expected wait (rounded up; at least 1)."""
    return max(1, math.ceil(seconds / 60.0))


def queue_announcement(
    position: int, expected_wait: float | None, offer_callback: bool
) -> list[str]:
    """What to play to a caller at `position` (1 = next) with an expected wait in seconds
    (None: unknown, not announced)."""
    if position < 1:
        raise ValueError("position starts at 1")
    out: list[str]
    if position == 1:
        out = ["queue_next"]
    else:
        out = ["queue_ahead", *number_prompts(position - 1), "queue_people"]
    if expected_wait is not None and position > 1:
        if expected_wait < 60:
            out.append("queue_wait_short")
        else:
            out += ["queue_wait", *number_prompts(expected_minutes(expected_wait)), "queue_minutes"]
    if offer_callback:
        out.append("callback_offer")
    return out
