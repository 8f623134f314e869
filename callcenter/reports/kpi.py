"""Hotline KPI formulas (GB/T 44192 7.2.1.1) as pure functions over counts.

Every rate is a fraction in [0, 1] (not a percentage). A division by zero gives None, shown
as "—" by `format_rate`/`format_seconds`, never an exception. Department scorecards import
these names: keep them stable.
"""

from __future__ import annotations

DASH = "—"


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator; None when the denominator is 0 (or negative)."""
    if denominator <= 0:
        return None
    return numerator / denominator


def connection_rate(answered: int, offered: int) -> float | None:
    """接通率 = answered calls / offered calls (calls that reached the queue)."""
    return ratio(answered, offered)


def answered_within_rate(answered_within: int, offered: int) -> float | None:
    """15 秒接通率 = calls answered within the threshold (15 s) / offered calls."""
    return ratio(answered_within, offered)


def abandon_rate(abandoned: int, offered: int) -> float | None:
    """呼损率 (放弃率) = calls abandoned by the caller while waiting / offered calls."""
    return ratio(abandoned, offered)


def average_wait(total_wait_seconds: float, answered: int) -> float | None:
    """平均等待时长 (s) = sum of the queue waits of answered calls / answered calls."""
    return ratio(total_wait_seconds, answered)


def average_talk(total_talk_seconds: float, answered: int) -> float | None:
    """平均通话时长 (s) = sum of the talk times of answered calls / answered calls."""
    return ratio(total_talk_seconds, answered)


def on_time_completion_rate(closed_on_time: int, closed: int) -> float | None:
    """按时办结率 = tickets closed by their deadline / tickets closed in the period.

    A closed ticket without a deadline counts as on time."""
    return ratio(closed_on_time, closed)


def resolution_rate(resolved: int, revisited: int) -> float | None:
    """解决率 = revisited tickets whose revisit reached the citizen and found the request
    resolved / revisited tickets (回访)."""
    return ratio(resolved, revisited)


def satisfaction_rate(satisfied: int, basically_satisfied: int, evaluated: int) -> float | None:
    """满意率 = (满意 + 基本满意) / evaluated tickets (with any rating)."""
    return ratio(satisfied + basically_satisfied, evaluated)


def callback_coverage(revisited: int, closed: int) -> float | None:
    """回访率 = tickets revisited (回访) / tickets closed (办结)."""
    return ratio(revisited, closed)


def missed_callback_rate(called_back: int, missed: int) -> float | None:
    """漏接回拨率 = missed callers the center called back (dialled at least once) / missed
    callers (one per number per day; not those who reached the center again themselves)."""
    return ratio(called_back, missed)


def return_rate(returned_tickets: int, dispatched: int) -> float | None:
    """退单率 = tickets given back by a department at least once (退单) / tickets dispatched."""
    return ratio(returned_tickets, dispatched)


def redispatch_rate(redispatched_tickets: int, dispatched: int) -> float | None:
    """改派率 = tickets dispatched again to another department (改派) / tickets dispatched."""
    return ratio(redispatched_tickets, dispatched)


def delta(current: float | None, previous: float | None) -> float | None:
    """Change = current - previous (for rates: percentage points as a fraction); None when
    either is unknown."""
    if current is None or previous is None:
        return None
    return current - previous


def relative_change(current: float | None, previous: float | None) -> float | None:
    """环比/同比 = (current - previous) / previous; None when either is unknown or previous
    is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


def format_rate(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage, "97.5%"; "—" for None."""
    if value is None:
        return DASH
    return f"{value * 100:.{digits}f}%"


def format_seconds(value: float | None) -> str:
    """Seconds with one decimal, "12.3 秒"; "—" for None."""
    if value is None:
        return DASH
    return f"{value:.1f} 秒"


def format_count(value: float | None) -> str:
    """A count; "—" for None."""
    if value is None:
        return DASH
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
