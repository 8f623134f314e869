"""What can be done to a ticket: one frozen dataclass per action, named by `name`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from callcenter.tickets.model import CallbackOutcome, Rating


@dataclass(frozen=True)
class Dispatch:
    """派单: first dispatch of an accepted ticket to a department."""

    name: ClassVar[str] = "dispatch"
    department: str
    note: str = ""


@dataclass(frozen=True)
class AcceptHandling:
    """签收: the department starts handling."""

    name: ClassVar[str] = "accept_handling"
    note: str = ""


@dataclass(frozen=True)
class Return:
    """退单: the department gives the ticket back, with a mandatory reason."""

    name: ClassVar[str] = "return"
    reason: str


@dataclass(frozen=True)
class Redispatch:
    """重派 / 改派: dispatch a returned ticket to another department."""

    name: ClassVar[str] = "redispatch"
    department: str
    note: str = ""


@dataclass(frozen=True)
class Reply:
    """答复: the department's answer, mandatory."""

    name: ClassVar[str] = "reply"
    text: str


@dataclass(frozen=True)
class RejectReply:
    """审核不通过: the reply goes back to the department with a mandatory note."""

    name: ClassVar[str] = "reject_reply"
    note: str


@dataclass(frozen=True)
class Approve:
    """审核通过."""

    name: ClassVar[str] = "approve"
    note: str = ""


@dataclass(frozen=True)
class Close:
    """办结."""

    name: ClassVar[str] = "close"
    note: str = ""


@dataclass(frozen=True)
class Revisit:
    """回访: the center calls the citizen back."""

    name: ClassVar[str] = "revisit"
    outcome: CallbackOutcome
    note: str = ""


@dataclass(frozen=True)
class Evaluate:
    """评价: the citizen's rating."""

    name: ClassVar[str] = "evaluate"
    rating: Rating
    note: str = ""


@dataclass(frozen=True)
class Supervise:
    """督办: flag an open ticket, with a mandatory note; the status does not change."""

    name: ClassVar[str] = "supervise"
    note: str


@dataclass(frozen=True)
class Reopen:
    """重办: a finished ticket goes back to the department, with a mandatory reason."""

    name: ClassVar[str] = "reopen"
    reason: str


Action = (
    Dispatch
    | AcceptHandling
    | Return
    | Redispatch
    | Reply
    | RejectReply
    | Approve
    | Close
    | Revisit
    | Evaluate
    | Supervise
    | Reopen
)

ACTION_TYPES: tuple[type[Action], ...] = (
    Dispatch,
    AcceptHandling,
    Return,
    Redispatch,
    Reply,
    RejectReply,
    Approve,
    Close,
    Revisit,
    Evaluate,
    Supervise,
    Reopen,
)
