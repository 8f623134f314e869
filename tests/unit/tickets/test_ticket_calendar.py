"""Working-day calendar (2026 holidays and 调休), deadlines per request type, warnings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callcenter.tickets.calendar import (
    SHANGHAI,
    DeadlinePolicy,
    DueStatus,
    WorkingCalendar,
    deadline,
    warning,
)
from callcenter.tickets.errors import UnknownRequestType
from callcenter.tickets.settings import load_ticket_settings
from ivr.workdays import DayCalendar
from tests.unit.fakes import SHIPPED_CONFIG

SETTINGS = load_ticket_settings(SHIPPED_CONFIG)
CAL = SETTINGS.calendar


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 1, 1), False),  # 元旦
        (date(2026, 1, 4), True),  # Sunday, make-up working day
        (date(2026, 2, 14), True),  # Saturday, make-up working day
        (date(2026, 2, 16), False),  # 春节, a Monday
        (date(2026, 2, 23), False),  # last day of 春节
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday, make-up working day
        (date(2026, 3, 2), True),  # ordinary Monday
        (date(2026, 3, 7), False),  # ordinary Saturday
        (date(2026, 4, 6), False),  # 清明
        (date(2026, 5, 5), False),  # 劳动节
        (date(2026, 5, 9), True),  # Saturday, make-up working day
        (date(2026, 6, 19), False),  # 端午
        (date(2026, 9, 20), True),  # Sunday, make-up working day
        (date(2026, 9, 25), False),  # 中秋
        (date(2026, 10, 7), False),  # 国庆
        (date(2026, 10, 10), True),  # Saturday, make-up working day
    ],
)
def test_2026_holidays_and_make_up_working_days(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (local(2026, 3, 2, 10), 1, local(2026, 3, 3, 17, 30)),  # Monday → Tuesday close
        (local(2026, 3, 6, 10), 1, local(2026, 3, 9, 17, 30)),  # Friday → Monday
        (local(2026, 3, 7, 10), 1, local(2026, 3, 9, 17, 30)),  # taken in on a Saturday
        (local(2025, 12, 31, 10), 1, local(2026, 1, 4, 17, 30)),  # over 元旦 to the make-up day
        (local(2026, 2, 13, 10), 1, local(2026, 2, 14, 17, 30)),  # Saturday make-up day
        (local(2026, 2, 13, 10), 2, local(2026, 2, 24, 17, 30)),  # over 春节
        (local(2026, 9, 30, 10), 5, local(2026, 10, 13, 17, 30)),  # over 国庆 and 10.10
        (local(2026, 3, 2, 10), 0, local(2026, 3, 2, 17, 30)),  # same day
        (local(2026, 3, 2, 18), 0, local(2026, 3, 3, 17, 30)),  # after hours: next day
    ],
)
def test_add_working_days_ends_at_close_of_business(
    start: datetime, days: int, due: datetime
) -> None:
    assert CAL.add_working_days(start, days) == due


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (local(2026, 3, 2, 9), 2, local(2026, 3, 2, 11)),
        (local(2026, 3, 2, 11), 2, local(2026, 3, 2, 14, 30)),  # lunch break skipped
        (local(2026, 3, 2, 12, 30), 1, local(2026, 3, 2, 14, 30)),  # starts after lunch
        (local(2026, 3, 6, 17), 1, local(2026, 3, 9, 9, 30)),  # Friday evening → Monday
        (local(2026, 3, 7, 10), 7, local(2026, 3, 9, 17, 30)),  # Saturday: a full Monday
        (local(2026, 3, 2, 20), 0, local(2026, 3, 3, 9)),  # zero: the next working moment
        (local(2026, 9, 30, 17), 8, local(2026, 10, 9, 9, 30)),  # 国庆 skipped
    ],
)
def test_add_working_hours_counts_only_working_time(
    start: datetime, hours: float, due: datetime
) -> None:
    assert CAL.add_working_hours(start, hours) == due


def test_naive_times_are_utc_and_results_are_local() -> None:
    # 2026-03-02 01:00 UTC is 09:00 in Shanghai
    due = CAL.add_working_hours(datetime(2026, 3, 2, 1, 0), 1)
    assert due == local(2026, 3, 2, 10) and due.tzinfo is SHANGHAI
    assert CAL.working_hours_between(local(2026, 3, 6, 17), local(2026, 3, 9, 9, 30)) == 1.0


@pytest.mark.parametrize(
    ("request_type", "urgent", "created", "due"),
    [
        ("咨询", False, local(2026, 3, 2, 10), local(2026, 3, 3, 17, 30)),
        ("求助", False, local(2026, 3, 2, 10), local(2026, 3, 5, 17, 30)),
        ("投诉", False, local(2026, 3, 2, 10), local(2026, 3, 9, 17, 30)),
        ("举报", False, local(2026, 4, 30, 10), local(2026, 5, 11, 17, 30)),  # 劳动节, 5.9
        ("意见建议", False, local(2026, 3, 2, 10), local(2026, 3, 16, 17, 30)),
        ("求助", True, local(2026, 3, 7, 23), local(2026, 3, 8, 1)),  # urgent: clock hours
        ("意见建议", True, local(2026, 3, 2, 10), local(2026, 3, 16, 17, 30)),  # no urgent rule
    ],
)
def test_deadline_per_request_type(
    request_type: str, urgent: bool, created: datetime, due: datetime
) -> None:
    assert deadline(CAL, SETTINGS.deadlines, request_type, created, urgent) == due


def test_deadline_in_working_hours() -> None:
    policy = DeadlinePolicy(
        rules={"求助": SETTINGS.deadlines.rules["求助"].__class__("求助", working_hours=4)}
    )
    assert deadline(CAL, policy, "求助", local(2026, 3, 2, 11)) == local(2026, 3, 2, 16, 30)


def test_unknown_request_type_has_no_deadline() -> None:
    with pytest.raises(UnknownRequestType) as info:
        deadline(CAL, SETTINGS.deadlines, "表扬", local(2026, 3, 2, 10))
    assert info.value.error_id == "ticket.unknown_request_type"


CREATED = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DUE = CREATED + timedelta(hours=100)


@pytest.mark.parametrize(
    ("share", "hours", "elapsed", "status"),
    [
        (0.2, 0.0, 10, DueStatus.NORMAL),
        (0.2, 0.0, 79, DueStatus.NORMAL),
        (0.2, 0.0, 80, DueStatus.DUE_SOON),  # last 20 %
        (0.2, 0.0, 100, DueStatus.DUE_SOON),  # at the deadline itself
        (0.2, 0.0, 100.01, DueStatus.OVERDUE),
        (0.1, 30.0, 75, DueStatus.DUE_SOON),  # last 30 hours beat last 10 %
        (0.0, 0.0, 99.9, DueStatus.NORMAL),
    ],
)
def test_warning_status(share: float, hours: float, elapsed: float, status: DueStatus) -> None:
    policy = DeadlinePolicy(due_soon_share=share, due_soon_hours=hours)
    assert warning(policy, CREATED, DUE, CREATED + timedelta(hours=elapsed)) is status


def test_warning_labels() -> None:
    assert [s.label for s in DueStatus] == ["正常", "临期预警", "超期"]


def test_calendar_without_working_days_fails_loudly() -> None:
    never = WorkingCalendar(days=DayCalendar(weekend=frozenset(range(7))))
    with pytest.raises(ValueError):
        never.add_working_days(local(2026, 3, 2), 1)
