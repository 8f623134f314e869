"""config/outbound.toml: calling citizens (dial string, calling hours), what waiting callers
hear (position and expected wait), queued callbacks, missed-call callbacks (漏接回拨) and
satisfaction surveys (回访)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.outbound.policy import ALL_DAY, CallingHours, Pacing, RetryPolicy
from callcenter.tomlreader import TableReader
from ivr.loader import time_range
from ivr.model import TimeRange


@dataclass(frozen=True)
class AnnounceSettings:
    enabled: bool = True
    first_after: float = 30.0  # seconds after joining the queue
    every: float = 60.0
    expected_wait: bool = True  # say the expected wait, not only the position
    assumed_handle_time: float = 240.0  # until the engine has measured its own


@dataclass(frozen=True)
class CallbackSettings:
    enabled: bool = True
    # Offer "press 1 to be called back" when the expected wait is longer than this (s).
    offer_when_wait_over: float = 120.0
    retry: RetryPolicy = RetryPolicy(3, (300.0, 900.0))


MISSED_REASONS = ("abandoned", "timeout", "overflow", "no_agents")


@dataclass(frozen=True)
class MissedSettings:
    """漏接回拨: callers who left the queue unanswered become callback tasks."""

    enabled: bool = True
    # A caller who hung up after waiting less than this (s) misdialled: no callback. Callers
    # who timed out, overflowed or found no agent are called back whatever their wait.
    min_wait: float = 10.0
    # Which leave reasons make a missed caller (a subset of MISSED_REASONS).
    reasons: tuple[str, ...] = MISSED_REASONS
    # Queue priority of a missed-call callback: below every live caller (whose priority is the
    # number's own plus boosts, 0 and up in the shipped config), so an agent takes it only
    # when no live caller it could serve is waiting.
    priority: int = -100

    def qualifies(self, reason: str, waited: float) -> bool:
        """Whether a caller who left the queue for `reason` after `waited` s was missed."""
        if not self.enabled or reason not in self.reasons:
            return False
        return reason != "abandoned" or waited >= self.min_wait


@dataclass(frozen=True)
class SurveySettings:
    enabled: bool = True
    delay: float = 60.0  # seconds after the ticket reached 办结
    retry: RetryPolicy = RetryPolicy(3, (1800.0, 7200.0))
    pacing: Pacing = Pacing(2, 6)
    input_timeout: float = 8.0  # seconds to wait for the rating digit
    input_retries: int = 2


@dataclass(frozen=True)
class OutboundSettings:
    caller_id: str = "12345"
    ring_timeout: float = 30.0
    hours: CallingHours = CallingHours()
    announce: AnnounceSettings = AnnounceSettings()
    callback: CallbackSettings = CallbackSettings()
    survey: SurveySettings = SurveySettings()
    missed: MissedSettings = MissedSettings()


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be more than zero"


def _at_least_one(v: int) -> str | None:
    return None if v >= 1 else "must be 1 or more"


def _ranges(r: TableReader, t: Mapping[str, Any], key: str) -> tuple[TimeRange, ...]:
    value = r.get(t, "outbound", "calling_hours", list, None)
    if value is None:
        return ALL_DAY
    out: list[TimeRange] = []
    for i, text in enumerate(value):
        found = time_range(text)
        if isinstance(found, str):
            r.error(f"{key}[{i}]", found)
        else:
            out.append(found)
    if not value:
        r.error(key, "needs at least one range")
    return tuple(out) or ALL_DAY


def _retry(r: TableReader, t: Mapping[str, Any], prefix: str, default: RetryPolicy) -> RetryPolicy:
    intervals = r.get(
        t,
        prefix,
        "retry_intervals",
        list,
        list(default.intervals),
        check=lambda v: (
            None
            if v
            and all(isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in v)
            else "must be a non-empty array of seconds (> 0)"
        ),
    )
    return RetryPolicy(
        max_attempts=r.get(
            t, prefix, "max_attempts", int, default.max_attempts, check=_at_least_one
        ),
        intervals=tuple(float(x) for x in intervals),
    )


def parse_outbound(data: Mapping[str, Any], r: TableReader, timezone: str) -> OutboundSettings:
    """Read outbound.toml's tables (errors go to `r`, named by file and key)."""
    d = OutboundSettings()
    r.table(data, "", ("outbound", "announce", "callback", "survey", "missed"))
    o = r.table(data.get("outbound"), "outbound", ("caller_id", "ring_timeout", "calling_hours"))
    a = r.table(data.get("announce"), "announce", tuple(AnnounceSettings.__dataclass_fields__))
    announce = AnnounceSettings(
        enabled=r.get(a, "announce", "enabled", bool, True),
        first_after=r.get(a, "announce", "first_after", float, 30.0, check=_positive),
        every=r.get(a, "announce", "every", float, 60.0, check=_positive),
        expected_wait=r.get(a, "announce", "expected_wait", bool, True),
        assumed_handle_time=r.get(
            a, "announce", "assumed_handle_time", float, 240.0, check=_positive
        ),
    )
    c = r.table(
        data.get("callback"),
        "callback",
        ("enabled", "offer_when_wait_over", "max_attempts", "retry_intervals"),
    )
    callback = CallbackSettings(
        enabled=r.get(c, "callback", "enabled", bool, True),
        offer_when_wait_over=r.get(
            c, "callback", "offer_when_wait_over", float, 120.0, check=lambda v: None
        ),
        retry=_retry(r, c, "callback", d.callback.retry),
    )
    if callback.enabled and not announce.enabled:
        r.error(
            "callback.enabled", "the callback is offered in the announcements: enable [announce]"
        )
    s = r.table(
        data.get("survey"),
        "survey",
        (
            "enabled",
            "delay",
            "max_attempts",
            "retry_intervals",
            "max_concurrent",
            "per_minute",
            "input_timeout",
            "input_retries",
        ),
    )
    survey = SurveySettings(
        enabled=r.get(s, "survey", "enabled", bool, True),
        delay=r.get(
            s,
            "survey",
            "delay",
            float,
            60.0,
            check=lambda v: None if v >= 0 else "must be zero or more",
        ),
        retry=_retry(r, s, "survey", d.survey.retry),
        pacing=Pacing(
            max_concurrent=r.get(s, "survey", "max_concurrent", int, 2, check=_at_least_one),
            per_minute=r.get(s, "survey", "per_minute", int, 6, check=_at_least_one),
        ),
        input_timeout=r.get(s, "survey", "input_timeout", float, 8.0, check=_positive),
        input_retries=r.get(
            s,
            "survey",
            "input_retries",
            int,
            2,
            check=lambda v: None if 0 <= v <= 5 else "must be 0-5",
        ),
    )
    m = r.table(data.get("missed"), "missed", ("enabled", "min_wait", "reasons", "priority"))
    reasons = r.get(
        m,
        "missed",
        "reasons",
        list,
        list(MISSED_REASONS),
        check=lambda v: (
            None
            if v and all(x in MISSED_REASONS for x in v)
            else f"must be a non-empty array of: {', '.join(MISSED_REASONS)}"
        ),
    )
    missed = MissedSettings(
        enabled=r.get(m, "missed", "enabled", bool, True),
        min_wait=r.get(
            m,
            "missed",
            "min_wait",
            float,
            10.0,
            check=lambda v: None if v >= 0 else "must be zero or more",
        ),
        reasons=tuple(str(x) for x in reasons),
        priority=r.get(m, "missed", "priority", int, -100),
    )
    return OutboundSettings(
        caller_id=r.get(o, "outbound", "caller_id", str, d.caller_id),
        ring_timeout=r.get(o, "outbound", "ring_timeout", float, 30.0, check=_positive),
        hours=CallingHours(_ranges(r, o, "outbound.calling_hours"), timezone),
        announce=announce,
        callback=callback,
        survey=survey,
        missed=missed,
    )
