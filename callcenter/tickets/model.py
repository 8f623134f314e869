"""Ticket data: statuses with their Chinese labels, roles, actors, the immutable ticket state
and its history entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Status(StrEnum):
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    HANDLING = "handling"
    REPLIED = "replied"
    REVIEWED = "reviewed"
    CLOSED = "closed"
    REVISITED = "revisited"
    EVALUATED = "evaluated"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        """Still being worked on (before 办结)."""
        return self in OPEN_STATUSES


STATUS_LABELS: dict[Status, str] = {
    Status.ACCEPTED: "受理",
    Status.DISPATCHED: "派单",
    Status.HANDLING: "办理",
    Status.REPLIED: "答复",
    Status.REVIEWED: "审核",
    Status.CLOSED: "办结",
    Status.REVISITED: "回访",
    Status.EVALUATED: "评价",
}

OPEN_STATUSES = frozenset(
    {Status.ACCEPTED, Status.DISPATCHED, Status.HANDLING, Status.REPLIED, Status.REVIEWED}
)


class Role(StrEnum):
    AGENT = "agent"  # 话务员 / 派单员 / 回访员 of the center
    SUPERVISOR = "supervisor"  # 班长 / 审核员 / 督办
    DEPARTMENT = "department"  # 承办单位
    ADMIN = "admin"


class Rating(StrEnum):
    SATISFIED = "满意"
    BASICALLY_SATISFIED = "基本满意"
    UNSATISFIED = "不满意"


class CallbackOutcome(StrEnum):
    """Result of the revisit call (回访)."""

    REACHED = "reached"  # 已回访
    UNREACHABLE = "unreachable"  # 无法联系
    DECLINED = "declined"  # 拒绝回访

    @property
    def label(self) -> str:
        return {"reached": "已回访", "unreachable": "无法联系", "declined": "拒绝回访"}[self.value]


def to_utc(at: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class Actor:
    id: str
    role: Role
    department: str | None = None  # the department a DEPARTMENT actor works for


@dataclass(frozen=True)
class Supervision:
    """One 督办: who flagged the ticket, when, and why."""

    by: str
    role: Role
    at: datetime
    note: str


@dataclass(frozen=True)
class TicketState:
    """One ticket at one moment. Never mutated: `lifecycle.apply` returns a new one."""

    id: str
    status: Status
    created_at: datetime
    updated_at: datetime
    request_type: str = ""
    department: str | None = None  # the department it is dispatched to (None when accepted)
    returns: int = 0  # how many times a department gave it back (退单)
    returned_by: tuple[str, ...] = ()  # departments that gave it back, oldest first
    reply: str | None = None
    rejections: int = 0  # replies not passed by review (审核不通过)
    callback: CallbackOutcome | None = None
    rating: Rating | None = None
    reopens: int = 0
    supervisions: tuple[Supervision, ...] = ()
    version: int = 0  # number of actions applied; storage can use it for optimistic locking

    @property
    def supervised(self) -> bool:
        return bool(self.supervisions)


def new_ticket(ticket_id: str, at: datetime, request_type: str = "") -> TicketState:
    """A ticket just taken in (受理)."""
    when = to_utc(at)
    return TicketState(
        id=ticket_id,
        status=Status.ACCEPTED,
        created_at=when,
        updated_at=when,
        request_type=request_type,
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a ticket's append-only history."""

    ticket_id: str
    seq: int  # 1-based; equals the ticket's version after the action
    action: str
    actor_id: str
    role: Role
    at: datetime
    from_status: Status
    to_status: Status
    note: str = ""
    details: tuple[tuple[str, str], ...] = ()  # e.g. (("department", "water"),)
