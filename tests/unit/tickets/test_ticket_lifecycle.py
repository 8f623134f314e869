"""Ticket state machine (GB/T 44190 6.2.3): transitions, roles, mandatory fields, history."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone

import pytest

from callcenter.tickets.actions import (
    AcceptHandling,
    Action,
    Approve,
    Close,
    Dispatch,
    Evaluate,
    Redispatch,
    RejectReply,
    Reopen,
    Reply,
    Return,
    Revisit,
    Supervise,
)
from callcenter.tickets.errors import (
    IllegalTransition,
    InvalidAction,
    MissingField,
    NotAllowed,
    TicketError,
)
from callcenter.tickets.lifecycle import LifecyclePolicy, allowed_actions, apply
from callcenter.tickets.model import (
    Actor,
    CallbackOutcome,
    HistoryEntry,
    Rating,
    Role,
    Status,
    TicketState,
    new_ticket,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
AGENT = Actor("a1", Role.AGENT)
SUPERVISOR = Actor("s1", Role.SUPERVISOR)
ADMIN = Actor("root", Role.ADMIN)
WATER = Actor("w1", Role.DEPARTMENT, "water")
HOUSING = Actor("h1", Role.DEPARTMENT, "housing")

DEFAULT = LifecyclePolicy()

HAPPY_PATH: list[tuple[Action, Actor, Status]] = [
    (Dispatch("water"), AGENT, Status.DISPATCHED),
    (AcceptHandling(), WATER, Status.HANDLING),
    (Reply("已恢复供水"), WATER, Status.REPLIED),
    (Approve(), SUPERVISOR, Status.REVIEWED),
    (Close(), AGENT, Status.CLOSED),
    (Revisit(CallbackOutcome.REACHED), AGENT, Status.REVISITED),
    (Evaluate(Rating.SATISFIED), AGENT, Status.EVALUATED),
]


def run(
    steps: list[tuple[Action, Actor]], policy: LifecyclePolicy = DEFAULT
) -> tuple[TicketState, list[HistoryEntry]]:
    ticket = new_ticket("T1", T0, "求助")
    history: list[HistoryEntry] = []
    for i, (action, actor) in enumerate(steps, start=1):
        ticket, entry = apply(ticket, action, actor, T0 + timedelta(minutes=i), policy)
        history.append(entry)
    return ticket, history


def at_status(status: Status) -> TicketState:
    steps = []
    for action, actor, reached in HAPPY_PATH:
        steps.append((action, actor))
        if reached is status:
            break
    return run(steps)[0] if status is not Status.ACCEPTED else new_ticket("T1", T0)


def test_status_labels_are_the_chinese_stages() -> None:
    labels = [s.label for s in Status]
    assert labels == ["受理", "派单", "办理", "答复", "审核", "办结", "回访", "评价"]


def test_happy_path_visits_every_status_and_writes_history() -> None:
    ticket, history = run([(a, actor) for a, actor, _ in HAPPY_PATH])
    assert [e.to_status for e in history] == [s for *_, s in HAPPY_PATH]
    assert [e.from_status for e in history][0] is Status.ACCEPTED
    assert [e.seq for e in history] == list(range(1, 8))
    assert ticket.version == 7
    assert ticket.reply == "已恢复供水"
    assert ticket.rating is Rating.SATISFIED
    assert history[0].details == (("department", "water"),)
    assert history[2].note == "已恢复供水"
    assert history[1].actor_id == "w1" and history[1].role is Role.DEPARTMENT


@pytest.mark.parametrize(
    ("status", "action", "actor"),
    [
        (Status.ACCEPTED, AcceptHandling(), WATER),
        (Status.ACCEPTED, Reply("x"), ADMIN),
        (Status.DISPATCHED, Reply("x"), WATER),
        (Status.HANDLING, Approve(), SUPERVISOR),
        (Status.REPLIED, Close(), AGENT),
        (Status.REVIEWED, Revisit(CallbackOutcome.REACHED), AGENT),
        (Status.CLOSED, Evaluate(Rating.SATISFIED), AGENT),
        (Status.EVALUATED, Close(), AGENT),
        (Status.CLOSED, Supervise("加快办理"), SUPERVISOR),
        (Status.HANDLING, Reopen("重办"), SUPERVISOR),
        (Status.ACCEPTED, Redispatch("housing"), SUPERVISOR),
        (Status.REPLIED, Return("不属于本单位"), WATER),
    ],
)
def test_illegal_transition_raises_and_changes_nothing(
    status: Status, action: Action, actor: Actor
) -> None:
    ticket = at_status(status)
    with pytest.raises(IllegalTransition) as info:
        apply(ticket, action, actor, T0 + timedelta(hours=1))
    assert info.value.error_id == "ticket.illegal_transition"
    assert isinstance(info.value, TicketError)
    assert ticket == at_status(status)


@pytest.mark.parametrize(
    ("status", "action", "actor"),
    [
        (Status.ACCEPTED, Dispatch("water"), WATER),
        (Status.DISPATCHED, AcceptHandling(), AGENT),
        (Status.HANDLING, Reply("x"), SUPERVISOR),
        (Status.REPLIED, Approve(), AGENT),
        (Status.REPLIED, RejectReply("不清楚"), WATER),
        (Status.REVIEWED, Close(), WATER),
        (Status.HANDLING, Supervise("加快"), AGENT),
        (Status.EVALUATED, Reopen("重办"), AGENT),
        # a department acts only on tickets dispatched to it
        (Status.DISPATCHED, AcceptHandling(), HOUSING),
        (Status.HANDLING, Return("不归我们管"), HOUSING),
        (Status.HANDLING, Reply("x"), Actor("d", Role.DEPARTMENT)),
    ],
)
def test_role_not_allowed_raises(status: Status, action: Action, actor: Actor) -> None:
    with pytest.raises(NotAllowed) as info:
        apply(at_status(status), action, actor, T0 + timedelta(hours=1))
    assert info.value.error_id == "ticket.not_allowed"


@pytest.mark.parametrize(
    ("status", "action", "actor"),
    [
        (Status.ACCEPTED, Dispatch("  "), AGENT),
        (Status.HANDLING, Return(""), WATER),
        (Status.HANDLING, Reply(" "), WATER),
        (Status.REPLIED, RejectReply(""), SUPERVISOR),
        (Status.HANDLING, Supervise(""), SUPERVISOR),
        (Status.CLOSED, Reopen(""), SUPERVISOR),
    ],
)
def test_mandatory_text_is_required(status: Status, action: Action, actor: Actor) -> None:
    with pytest.raises(MissingField) as info:
        apply(at_status(status), action, actor, T0 + timedelta(hours=1))
    assert info.value.error_id == "ticket.missing_field"


def test_return_counts_and_redispatch_goes_to_another_department() -> None:
    ticket, history = run(
        [
            (Dispatch("water"), AGENT),
            (AcceptHandling(), WATER),
            (Return("属于物业管辖范围"), WATER),
        ]
    )
    assert ticket.status is Status.ACCEPTED
    assert (ticket.returns, ticket.returned_by, ticket.department) == (1, ("water",), None)
    assert history[-1].note == "属于物业管辖范围"
    later = T0 + timedelta(hours=1)
    with pytest.raises(IllegalTransition):
        apply(ticket, Dispatch("housing"), AGENT, later)  # a returned ticket is re-dispatched
    with pytest.raises(InvalidAction):
        apply(ticket, Redispatch("water"), SUPERVISOR, later)
    with pytest.raises(NotAllowed):
        apply(ticket, Redispatch("housing"), AGENT, later)
    again, entry = apply(ticket, Redispatch("housing"), SUPERVISOR, later)
    assert (again.status, again.department, again.returns) == (Status.DISPATCHED, "housing", 1)
    assert entry.action == "redispatch"


def test_rejected_reply_goes_back_to_handling() -> None:
    ticket, history = run(
        [
            (Dispatch("water"), AGENT),
            (AcceptHandling(), WATER),
            (Reply("已处理"), WATER),
            (RejectReply("答复未说明恢复供水时间"), SUPERVISOR),
        ]
    )
    assert ticket.status is Status.HANDLING and ticket.rejections == 1
    assert history[-1].note == "答复未说明恢复供水时间"


@pytest.mark.parametrize(
    ("reopen", "rating", "status", "reopens"),
    [
        (True, Rating.UNSATISFIED, Status.HANDLING, 1),
        (False, Rating.UNSATISFIED, Status.EVALUATED, 0),
        (True, Rating.BASICALLY_SATISFIED, Status.EVALUATED, 0),
        (True, Rating.SATISFIED, Status.EVALUATED, 0),
    ],
)
def test_unsatisfied_reopens_only_when_configured(
    reopen: bool, rating: Rating, status: Status, reopens: int
) -> None:
    steps = [(a, actor) for a, actor, _ in HAPPY_PATH[:-1]] + [(Evaluate(rating), AGENT)]
    ticket, history = run(steps, LifecyclePolicy(reopen_on_unsatisfied=reopen))
    assert (ticket.status, ticket.reopens, ticket.rating) == (status, reopens, rating)
    assert ("rating", rating.value) in history[-1].details


def test_supervise_flags_an_open_ticket_and_records_who_and_when() -> None:
    ticket = at_status(Status.HANDLING)
    when = T0 + timedelta(days=2)
    flagged, entry = apply(ticket, Supervise("超期未办，督办"), SUPERVISOR, when)
    assert flagged.status is Status.HANDLING and entry.from_status is entry.to_status
    assert flagged.supervised and not ticket.supervised
    (record,) = flagged.supervisions
    assert (record.by, record.role, record.at, record.note) == (
        "s1",
        Role.SUPERVISOR,
        when,
        "超期未办，督办",
    )


def test_reopen_sends_a_finished_ticket_back_to_the_department() -> None:
    ticket, entry = apply(
        at_status(Status.CLOSED), Reopen("市民再次来电"), ADMIN, T0 + timedelta(1)
    )
    assert (ticket.status, ticket.reopens, ticket.department) == (Status.HANDLING, 1, "water")
    assert entry.note == "市民再次来电"


@pytest.mark.parametrize(
    ("status", "role", "expected"),
    [
        (Status.ACCEPTED, Role.AGENT, ("dispatch",)),
        (Status.ACCEPTED, Role.SUPERVISOR, ("dispatch", "supervise")),
        (Status.ACCEPTED, Role.DEPARTMENT, ()),
        (Status.DISPATCHED, Role.DEPARTMENT, ("accept_handling", "return")),
        (Status.HANDLING, Role.DEPARTMENT, ("return", "reply")),
        (Status.REPLIED, Role.SUPERVISOR, ("reject_reply", "approve", "supervise")),
        (Status.REVIEWED, Role.AGENT, ("close",)),
        (Status.CLOSED, Role.SUPERVISOR, ("revisit", "reopen")),
        (Status.REVISITED, Role.AGENT, ("evaluate",)),
        (Status.EVALUATED, Role.ADMIN, ("reopen",)),
    ],
)
def test_allowed_actions_per_status_and_role(
    status: Status, role: Role, expected: tuple[str, ...]
) -> None:
    assert allowed_actions(at_status(status), role) == expected


def test_allowed_actions_after_a_return_offer_redispatch() -> None:
    ticket, _ = run([(Dispatch("water"), AGENT), (Return("非本单位职责"), WATER)])
    assert allowed_actions(ticket, Role.SUPERVISOR) == ("redispatch", "supervise")
    assert allowed_actions(ticket, Role.AGENT) == ()


def test_time_is_stored_in_utc_and_may_not_run_backwards() -> None:
    ticket = new_ticket("T2", datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8))))
    assert ticket.created_at == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    naive = datetime(2026, 3, 2, 2, 0)
    moved, entry = apply(ticket, Dispatch("water"), AGENT, naive)
    assert entry.at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC) == moved.updated_at
    with pytest.raises(InvalidAction):
        apply(moved, AcceptHandling(), WATER, datetime(2026, 3, 2, 1, 30, tzinfo=UTC))


def test_states_and_history_are_immutable() -> None:
    ticket, history = run([(Dispatch("water"), AGENT)])
    with pytest.raises(FrozenInstanceError):
        ticket.status = Status.CLOSED  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        history[0].note = "x"  # type: ignore[misc]
