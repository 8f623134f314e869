"""What the ticket API reads and writes: request bodies checked field by field (a clear 400
naming the field), and the JSON a ticket is shown as, through the caller's `Redactor`
(`callcenter.data.redaction`): hidden fields left out, the rest masked or in clear by the
role's policy. The ID-card number is only ever shown masked here.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from callcenter.api.described import NOT_BLANK, Body
from callcenter.api.errors import ApiError
from callcenter.api.params import MAX_ID
from callcenter.data.crypto import FieldCipher, Undecryptable, clear_or_empty
from callcenter.data.protection import Action, Redactor
from callcenter.data.redaction import JSON_COLUMNS, shown
from callcenter.masking import mask_id_card
from callcenter.storage.schema import Ticket
from callcenter.tickets import actions as act
from callcenter.tickets import service as store
from callcenter.tickets.calendar import warning
from callcenter.tickets.model import CallbackOutcome, Rating, Status
from callcenter.tickets.settings import TicketSettings

# The columns of `tickets` a list shows, and what a detail view adds; `proposal` and `state`
# (and `ticket_history.details`) hold JSON, masked string by string.
LIST_COLUMNS = (
    "id",
    "number",
    "channel",
    "status",
    "request_type",
    "topic",
    "department",
    "caller_number",
    "title",
    "did",
    "hotline",
    "created_at",
    "deadline",
    "version",
    "repeats",
    "confirmed",
)
DETAIL_COLUMNS = (
    "caller_name",
    "address",
    "content",
    "call_id",
    "agent_id",
    "skill",
    "region",
    "ivr_path",
    "proposal",
    "state",
    "closed_at",
    "enterprise_code",
    "enterprise_name",
    "grid",
    "received_at",
)
# A history entry's JSON keys and the columns of ticket_history they come from.
HISTORY_KEYS = (
    ("seq", "seq"),
    ("action", "action"),
    ("actor", "actor"),
    ("role", "role"),
    ("at", "at"),
    ("from", "from_status"),
    ("to", "to_status"),
    ("note", "note"),
    ("details", "details"),
)
COMMENT_COLUMNS = ("at", "actor", "role", "text")


def stored(row: Any, column: str, table: str) -> object:
    """A row's column as a view holds it: JSON columns parsed, `confirmed` a boolean."""
    value = getattr(row, column)
    if (table, column) in JSON_COLUMNS:
        return json.loads(value) if value else {}
    if column == "confirmed":
        return bool(value)
    return value


ACTIONS: dict[str, type[Any]] = {
    cls.name: cls
    for cls in (
        act.Dispatch,
        act.AcceptHandling,
        act.Return,
        act.Redispatch,
        act.Reply,
        act.RejectReply,
        act.Approve,
        act.Close,
        act.Revisit,
        act.Evaluate,
        act.Supervise,
        act.Reopen,
    )
}
MAX_PAGE = 100_000  # 20 million rows at the largest page size: no list goes further


class Intake(Body):
    """A new ticket from any channel; `content` is required unless it is of a call
    (`call_id`)."""

    channel: Literal[store.CHANNELS] = "phone"  # type: ignore[valid-type]
    content: str = Field("", max_length=4000)
    title: str = Field("", max_length=200)
    caller_number: str = Field("", max_length=32)
    caller_name: str = Field("", max_length=64)
    address: str = Field("", max_length=200)
    call_id: str = Field("", max_length=64)
    did: str = Field("", max_length=32)
    request_type: str = Field("", max_length=16, description="咨询, 求助, 投诉, 举报, 意见建议")
    department: str = Field("", max_length=64)
    urgent: bool = False
    id_card: str = Field("", max_length=32)
    enterprise_code: str = Field("", max_length=18)
    enterprise_name: str = Field("", max_length=128)
    grid: str = Field("", max_length=32)


def intake_of(body: Intake, channel: str) -> store.Intake:
    """What a create request of any channel brings in (`channel` from the body or the
    path); 400 when `content` is blank on a ticket that is not of a call."""
    if not body.call_id and not body.content.strip():
        raise ApiError(
            400,
            Intake.error_id,
            "'content' is required",
            details=[{"field": "content", "message": "is required", "type": "missing"}],
        )
    return store.Intake(
        channel=channel,
        content=body.content,
        caller_number=body.caller_number,
        caller_name=body.caller_name,
        title=body.title,
        address=body.address,
        call_id=body.call_id or None,
        did=body.did,
        request_type=body.request_type,
        department=body.department,
        urgent=body.urgent,
        id_card=body.id_card,
        enterprise_code=body.enterprise_code,
        enterprise_name=body.enterprise_name,
        grid=body.grid,
    )


class Transition(Body):
    """A lifecycle action and its fields; which fields an action needs is the action's own
    (a dispatch needs `department`, a return `reason`, ...)."""

    action: Literal[tuple(ACTIONS)]  # type: ignore[valid-type]
    department: str | None = None
    reason: str | None = None
    text: str | None = None
    note: str | None = None
    outcome: CallbackOutcome | None = Field(None, strict=False)
    rating: Rating | None = Field(None, strict=False)
    expected_version: int | None = Field(None, ge=0, le=MAX_ID)


def parse_action(body: Transition) -> act.Action:
    """The lifecycle action of a transition body, with its fields; 400 naming the fields the
    action needs and did not get."""
    cls = ACTIONS[body.action]
    given = body.model_dump(exclude_none=True)
    kwargs = {f.name: given[f.name] for f in fields(cls) if f.name in given}
    missing = [f.name for f in fields(cls) if f.name not in kwargs and _required(f)]
    if missing:
        raise ApiError(
            400,
            Transition.error_id,
            f"{body.action} needs: {', '.join(missing)}",
            details=[{"field": m, "message": "is required", "type": "missing"} for m in missing],
        )
    action: act.Action = cls(**kwargs)
    return action


def _required(f: Any) -> bool:
    return bool(f.default is MISSING and f.default_factory is MISSING)


class Assign(Body):
    department: Annotated[str, NOT_BLANK] = Field(max_length=64)
    note: str = Field("", max_length=4000)
    expected_version: int | None = Field(None, ge=0, le=MAX_ID)


class Confirm(Body):
    request_type: str = Field("", max_length=16)
    topic: str = Field("", max_length=64)
    department: str = Field("", max_length=64)


class Comment(Body):
    text: Annotated[str, NOT_BLANK] = Field(max_length=4000)


def due_status(row: Ticket, settings: TicketSettings | None, now: datetime) -> str:
    """预警: normal / due_soon / overdue while the ticket is open ("" once it is finished)."""
    if settings is None or row.deadline is None or not Status(row.status).is_open:
        return ""
    created = datetime.fromtimestamp(row.created_at, UTC)
    due = datetime.fromtimestamp(row.deadline, UTC)
    return warning(settings.deadlines, created, due, now).value


def values_of(
    row: Ticket, columns: tuple[str, ...], cipher: FieldCipher | None, phone: str | None
) -> dict[str, object]:
    """The columns' values to show: the caller's number decrypted (`phone` when the caller
    already has it in clear; '' when it cannot be decrypted), for the Redactor to mask or
    show in clear."""
    values = {c: stored(row, c, "tickets") for c in columns}
    if "caller_number" in values:
        values["caller_number"] = (
            phone if phone is not None else clear_or_empty(cipher, row.caller_number)
        )
    return values


def view(
    row: Ticket,
    redact: Redactor,
    detail: bool = False,
    settings: TicketSettings | None = None,
    identity: dict[str, str] | None = None,
    cipher: FieldCipher | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """The ticket as JSON, as the role of `redact` sees it (hidden fields left out); `detail`
    adds the content and the rest, `identity` the masked ID-card number (see
    `id_card_shown`: never the full number here)."""
    columns = LIST_COLUMNS + DETAIL_COLUMNS if detail else LIST_COLUMNS
    body: dict[str, Any] = shown(redact, "tickets", values_of(row, columns, cipher, phone))
    body["due_status"] = due_status(row, settings, datetime.now(UTC))
    if detail:
        body.update(identity or {"id_card": "", "id_card_status": "none"})
    return body


def hides_id_card(redact: Redactor) -> bool:
    """Whether the role's action for the grade of the ID-card number is `hide` (the column
    itself, ciphertext, is never shown: only its masked plaintext ever is)."""
    grade = redact.annotations.field("tickets", "id_card").grade
    return redact.policy.action(redact.role, grade) is Action.HIDE


def id_card_shown(row: Ticket, redact: Redactor, cipher: FieldCipher | None) -> dict[str, str]:
    """The ticket's ID-card number masked for display, with `id_card_status` none, ok,
    no_key (no cipher configured) or undecryptable; only `id_card_status: hidden` (nothing
    decrypted) for a role whose policy hides the number's grade."""
    if hides_id_card(redact):
        return {"id_card_status": "hidden"}
    if not row.id_card:
        return {"id_card": "", "id_card_status": "none"}
    if cipher is None:
        return {"id_card": "", "id_card_status": "no_key"}
    try:
        return {"id_card": mask_id_card(cipher.decrypt(row.id_card)), "id_card_status": "ok"}
    except Undecryptable:
        return {"id_card": "", "id_card_status": "undecryptable"}
