"""The ticket state machine (GB/T 44190 6.2.3: 派单、督办、审核、回访、评价).

`apply(ticket, action, actor, at)` checks, in this order, that the actor's role may perform
the action (`NotAllowed`), that the action is possible from the ticket's status
(`IllegalTransition`), that a department actor acts on its own ticket (`NotAllowed`), and the
action's content (`MissingField`, `InvalidAction`). It returns a new `TicketState` and one
`HistoryEntry`; on any error nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

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
from callcenter.tickets.errors import IllegalTransition, InvalidAction, MissingField, NotAllowed
from callcenter.tickets.model import (
    OPEN_STATUSES,
    Actor,
    HistoryEntry,
    Rating,
    Role,
    Status,
    Supervision,
    TicketState,
    to_utc,
)

S = Status
CENTER = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
REVIEWERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
HANDLERS = frozenset({Role.DEPARTMENT, Role.ADMIN})


@dataclass(frozen=True)
class Rule:
    sources: frozenset[Status]
    target: Status | None  # None: the status does not change
    roles: frozenset[Role]
    own_department: bool = False  # a DEPARTMENT actor must belong to the ticket's department


# The whole state machine, in lifecycle order (the order of `allowed_actions`).
RULES: dict[str, Rule] = {
    Dispatch.name: Rule(frozenset({S.ACCEPTED}), S.DISPATCHED, CENTER),
    Redispatch.name: Rule(frozenset({S.ACCEPTED}), S.DISPATCHED, REVIEWERS),
    AcceptHandling.name: Rule(frozenset({S.DISPATCHED}), S.HANDLING, HANDLERS, True),
    Return.name: Rule(frozenset({S.DISPATCHED, S.HANDLING}), S.ACCEPTED, HANDLERS, True),
    Reply.name: Rule(frozenset({S.HANDLING}), S.REPLIED, HANDLERS, True),
    RejectReply.name: Rule(frozenset({S.REPLIED}), S.HANDLING, REVIEWERS),
    Approve.name: Rule(frozenset({S.REPLIED}), S.REVIEWED, REVIEWERS),
    Close.name: Rule(frozenset({S.REVIEWED}), S.CLOSED, CENTER),
    Revisit.name: Rule(frozenset({S.CLOSED}), S.REVISITED, CENTER),
    Evaluate.name: Rule(frozenset({S.REVISITED}), S.EVALUATED, CENTER),
    Supervise.name: Rule(OPEN_STATUSES, None, REVIEWERS),
    Reopen.name: Rule(frozenset({S.CLOSED, S.REVISITED, S.EVALUATED}), S.HANDLING, REVIEWERS),
}


@dataclass(frozen=True)
class LifecyclePolicy:
    """Rules a center configures (config/tickets.toml `[lifecycle]`)."""

    reopen_on_unsatisfied: bool = False  # 不满意 sends the ticket back to 办理


def _possible(ticket: TicketState, name: str) -> bool:
    """Whether the action is possible from the ticket's status, whoever asks."""
    if ticket.status not in RULES[name].sources:
        return False
    if name == Dispatch.name:
        return ticket.returns == 0
    if name == Redispatch.name:
        return ticket.returns > 0
    return True


def allowed_actions(ticket: TicketState, role: Role) -> tuple[str, ...]:
    """Names of the actions this role may perform on the ticket now, in lifecycle order."""
    return tuple(
        name for name, rule in RULES.items() if role in rule.roles and _possible(ticket, name)
    )


def _required(value: str, field: str, action: str) -> str:
    text = value.strip()
    if not text:
        raise MissingField(f"{action}: {field} is required")
    return text


def apply(
    ticket: TicketState,
    action: Action,
    actor: Actor,
    at: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> tuple[TicketState, HistoryEntry]:
    """Perform one action; return the new state and its history entry."""
    name = action.name
    rule = RULES[name]
    if actor.role not in rule.roles:
        raise NotAllowed(f"{name}: role {actor.role.value} may not do this")
    if not _possible(ticket, name):
        hint = ""
        if name == Dispatch.name and ticket.status is S.ACCEPTED:
            hint = " (it was returned: use redispatch)"
        elif name == Redispatch.name and ticket.status is S.ACCEPTED:
            hint = " (it was never returned: use dispatch)"
        raise IllegalTransition(f"{name}: not possible from {ticket.status.value}{hint}")
    if (
        rule.own_department
        and actor.role is Role.DEPARTMENT
        and (actor.department is None or actor.department != ticket.department)
    ):
        raise NotAllowed(f"{name}: the ticket is not dispatched to department {actor.department}")
    when = to_utc(at)
    if when < ticket.updated_at:
        raise InvalidAction(f"{name}: time {when.isoformat()} is before the last change")

    target = rule.target or ticket.status
    note = ""
    details: tuple[tuple[str, str], ...] = ()
    changes: dict[str, object] = {}
    match action:
        case Dispatch(department=department, note=n) | Redispatch(department=department, note=n):
            department = _required(department, "department", name)
            if isinstance(action, Redispatch) and department == ticket.returned_by[-1]:
                raise InvalidAction(f"{name}: {department} just returned it; choose another")
            changes["department"] = department
            note, details = n, (("department", department),)
        case AcceptHandling(note=n) | Approve(note=n) | Close(note=n):
            note = n
        case Return(reason=reason):
            note = _required(reason, "reason", name)
            returning = ticket.department or ""
            changes.update(
                department=None,
                returns=ticket.returns + 1,
                returned_by=(*ticket.returned_by, returning),
            )
            details = (("department", returning),)
        case Reply(text=text):
            note = _required(text, "text", name)
            changes["reply"] = note
        case RejectReply(note=n):
            note = _required(n, "note", name)
            changes["rejections"] = ticket.rejections + 1
        case Revisit(outcome=outcome, note=n):
            note, details = n, (("outcome", outcome.value),)
            changes["callback"] = outcome
        case Evaluate(rating=rating, note=n):
            note, details = n, (("rating", rating.value),)
            changes["rating"] = rating
            if rating is Rating.UNSATISFIED and policy.reopen_on_unsatisfied:
                target = S.HANDLING
                changes["reopens"] = ticket.reopens + 1
                details = (*details, ("reopened", "true"))
        case Supervise(note=n):
            note = _required(n, "note", name)
            changes["supervisions"] = (
                *ticket.supervisions,
                Supervision(actor.id, actor.role, when, note),
            )
        case Reopen(reason=reason):
            note = _required(reason, "reason", name)
            changes["reopens"] = ticket.reopens + 1

    version = ticket.version + 1
    new = replace(ticket, status=target, updated_at=when, version=version, **changes)  # type: ignore[arg-type]
    entry = HistoryEntry(
        ticket_id=ticket.id,
        seq=version,
        action=name,
        actor_id=actor.id,
        role=actor.role,
        at=when,
        from_status=ticket.status,
        to_status=target,
        note=note,
        details=details,
    )
    return new, entry
