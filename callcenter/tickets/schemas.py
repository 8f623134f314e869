"""What the ticket API reads and writes: request bodies checked field by field (a clear 400
naming the field), and the JSON a ticket is shown as, through the caller's `Redactor`
(`callcenter.data.redaction`): hidden fields left out, the rest masked or in clear by the
role's policy. The ID-card number is only ever shown masked here.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from callcenter.api.errors import ApiError
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
ENUMS: dict[str, type[Any]] = {"outcome": CallbackOutcome, "rating": Rating}
MAX_PAGE = 100_000  # 20 million rows at the largest page size: no list goes further


def text_field(body: dict[str, object], key: str, required: bool = False, limit: int = 4000) -> str:
    """A string field of the body ('' when absent); 400 when it is not a string, empty while
    required, or longer than `limit` characters."""
    value = body.get(key, "")
    if not isinstance(value, str):
        raise ApiError(400, "api.invalid", f"'{key}' must be a string")
    if required and not value.strip():
        raise ApiError(400, "api.invalid", f"'{key}' is required")
    if len(value) > limit:
        raise ApiError(400, "api.invalid", f"'{key}' is longer than {limit} characters")
    return value


def intake_of(body: dict[str, object], channel: str) -> store.Intake:
    """What a create request of any channel brings in; `content` is required unless the
    ticket is of a call (`call_id`)."""
    call_id = text_field(body, "call_id", limit=64) or None
    return store.Intake(
        channel=channel,
        content=text_field(body, "content", required=call_id is None),
        caller_number=text_field(body, "caller_number", limit=32),
        caller_name=text_field(body, "caller_name", limit=64),
        title=text_field(body, "title", limit=200),
        address=text_field(body, "address", limit=200),
        call_id=call_id,
        did=text_field(body, "did", limit=32),
        request_type=text_field(body, "request_type", limit=16),
        department=text_field(body, "department", limit=64),
        urgent=body.get("urgent") is True,
        id_card=text_field(body, "id_card", limit=32),
        enterprise_code=text_field(body, "enterprise_code", limit=18),
        enterprise_name=text_field(body, "enterprise_name", limit=128),
        grid=text_field(body, "grid", limit=32),
    )


def parse_action(body: dict[str, object]) -> act.Action:
    """The lifecycle action a transition body names, with its fields (enums checked); 400
    naming what is wrong or missing."""
    name = body.get("action")
    cls = ACTIONS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ApiError(400, "api.invalid", f"'action' must be one of {', '.join(ACTIONS)}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in body:
            continue
        value = body[f.name]
        if not isinstance(value, str):
            raise ApiError(400, "api.invalid", f"'{f.name}' must be a string")
        if f.name in ENUMS:
            try:
                value = ENUMS[f.name](value)
            except ValueError as exc:
                allowed = ", ".join(m.value for m in ENUMS[f.name])
                raise ApiError(400, "api.invalid", f"'{f.name}' must be one of {allowed}") from exc
        kwargs[f.name] = value
    try:
        action: act.Action = cls(**kwargs)
    except TypeError as exc:
        missing = [f.name for f in fields(cls) if f.name not in kwargs]
        raise ApiError(400, "api.invalid", f"{name} needs: {', '.join(missing)}") from exc
    return action


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
