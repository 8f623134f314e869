"""config/outbound.toml: calling citizens (dial string, calling hours), what waiting callers
hear (position and expected wait), queued callbacks, missed-call callbacks (漏接回拨) and
satisfaction surveys (回访). `OutboundFile` is the file's model (callcenter/config_models.py);
`OutboundFile.settings(timezone)` the settings the features read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass as model

from callcenter.config_models import (
    STRICT,
    Bool,
    Checked,
    FileModel,
    Float,
    Int,
    NonNegative,
    OneOrMore,
    Positive,
    Report,
    Str,
)
from callcenter.outbound.policy import ALL_DAY, CallingHours, Pacing, RetryPolicy
from ivr.model import time_range


@model(frozen=True, config=STRICT)
class AnnounceSettings:
    enabled: Bool = True
    first_after: Positive = 30.0  # seconds after joining the queue
    every: Positive = 60.0
    expected_wait: Bool = True  # say the expected wait, not only the position
    assumed_handle_time: Positive = 240.0  # until the engine has measured its own


@dataclass(frozen=True)
class CallbackSettings:
    enabled: bool = True
    # Offer "press 1 to be called back" when the expected wait is longer than this (s).
    offer_when_wait_over: float = 120.0
    retry: RetryPolicy = RetryPolicy(3, (300.0, 900.0))


MISSED_REASONS = ("abandoned", "timeout", "overflow", "no_agents")


def _reasons(v: tuple[str, ...]) -> str | None:
    if v and all(x in MISSED_REASONS for x in v):
        return None
    return f"must be a non-empty array of: {', '.join(MISSED_REASONS)}"


@model(frozen=True, config=STRICT)
class MissedSettings:
    """漏接回拨: callers who left the queue unanswered become callback tasks."""

    enabled: Bool = True
    # A caller who hung up after waiting less than this (s) misdialled: no callback. Callers
    # who timed out, overflowed or found no agent are called back whatever their wait.
    min_wait: NonNegative = 10.0
    # Which leave reasons make a missed caller (a subset of MISSED_REASONS).
    reasons: Annotated[tuple[Str, ...], Checked(_reasons, minItems=1)] = MISSED_REASONS
    # Queue priority of a missed-call callback: below every live caller (whose priority is the
    # number's own plus boosts, 0 and up in the shipped config), so an agent takes it only
    # when no live caller it could serve is waiting.
    priority: Int = -100

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


# --- the file ----------------------------------------------------------------------------------


def _range(v: str) -> str | None:
    found = time_range(v)
    return found if isinstance(found, str) else None


def _seconds(v: tuple[float, ...]) -> str | None:
    return None if v and all(x > 0 for x in v) else "must be a non-empty array of seconds (> 0)"


Intervals = Annotated[tuple[Float, ...], Checked(_seconds, minItems=1)]
Hours = Annotated[
    tuple[Annotated[Str, Checked(_range, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")], ...],
    Checked(lambda v: None if v else "needs at least one range", minItems=1),
]


class OutboundKeys(FileModel):
    caller_id: Str = "12345"
    ring_timeout: Positive = 30.0
    calling_hours: Hours | None = None  # "HH:MM-HH:MM" ranges; none: all day


class CallbackKeys(FileModel):
    enabled: Bool = True
    offer_when_wait_over: Float = 120.0
    max_attempts: OneOrMore = 3
    retry_intervals: Intervals = (300.0, 900.0)


class SurveyKeys(FileModel):
    enabled: Bool = True
    delay: NonNegative = 60.0
    max_attempts: OneOrMore = 3
    retry_intervals: Intervals = (1800.0, 7200.0)
    max_concurrent: OneOrMore = 2
    per_minute: OneOrMore = 6
    input_timeout: Positive = 8.0
    input_retries: Annotated[
        Int, Checked(lambda v: None if 0 <= v <= 5 else "must be 0-5", minimum=0, maximum=5)
    ] = 2


class OutboundFile(FileModel):
    """outbound.toml: calling citizens, announcements, callbacks, missed calls and surveys."""

    outbound: OutboundKeys = OutboundKeys()
    announce: AnnounceSettings = AnnounceSettings()
    callback: CallbackKeys = CallbackKeys()
    survey: SurveyKeys = SurveyKeys()
    missed: MissedSettings = Field(default_factory=MissedSettings)

    def check(self, report: Report, file: str) -> None:
        """The rule across tables: the callback is offered in the announcements."""
        if self.callback.enabled and not self.announce.enabled:
            report.error(
                file,
                "callback.enabled",
                "the callback is offered in the announcements: enable [announce]",
            )

    def settings(self, timezone: str) -> OutboundSettings:
        o, c, s = self.outbound, self.callback, self.survey
        hours = o.calling_hours
        ranges = tuple(r for r in map(time_range, hours or ()) if not isinstance(r, str))
        return OutboundSettings(
            caller_id=o.caller_id,
            ring_timeout=o.ring_timeout,
            hours=CallingHours(ranges or ALL_DAY, timezone),
            announce=self.announce,
            callback=CallbackSettings(
                c.enabled, c.offer_when_wait_over, RetryPolicy(c.max_attempts, c.retry_intervals)
            ),
            survey=SurveySettings(
                enabled=s.enabled,
                delay=s.delay,
                retry=RetryPolicy(s.max_attempts, s.retry_intervals),
                pacing=Pacing(s.max_concurrent, s.per_minute),
                input_timeout=s.input_timeout,
                input_retries=s.input_retries,
            ),
            missed=self.missed,
        )
