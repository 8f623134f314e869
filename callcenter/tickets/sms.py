"""SMS gateway webhook: citizens' text messages land in the same ticket flow.

The gateway POSTs JSON `{"from": "138…", "text": "…", "id": "<gateway message id>"}` to
`/hooks/sms` and signs the raw body with HMAC-SHA256 under `CALLCENTER_SMS_SECRET`, sent as
`X-Signature: <hex>`. The message id makes redelivery idempotent (a retried webhook does not
create a second ticket).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.api.auth import Principal, redactor_for
from callcenter.api.described import NOT_BLANK, Body, described, validated
from callcenter.api.errors import ApiError
from callcenter.api.keys import CIPHER, SETTINGS, TICKET_DB
from callcenter.storage.schema import TicketComment
from callcenter.tickets import service as store
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.schemas import view

GATEWAY = Actor("sms-gateway", Role.AGENT)


def routes() -> list[web.RouteDef]:
    return [web.post("/hooks/sms", sms)]


def verify(body: bytes, signature: str) -> None:
    secret = os.environ.get("CALLCENTER_SMS_SECRET", "")
    if not secret:
        raise ApiError(503, "sms.not_configured", "CALLCENTER_SMS_SECRET is not set")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise ApiError(401, "sms.bad_signature", "X-Signature does not match the body")


class Sms(Body):
    sender: str = Field(alias="from", pattern=r"^\s*\+?[0-9]+\s*$", description="phone number")
    text: Annotated[str, NOT_BLANK] = Field(max_length=4000)
    id: str = Field("", max_length=64, description="the gateway's message id (idempotence)")


@described("SMS gateway webhook, HMAC-SHA256 in X-Signature", ok=201, body=Sms, public=True)
async def sms(request: web.Request) -> web.Response:
    raw = await request.read()
    verify(raw, request.headers.get("X-Signature", ""))
    try:
        parsed = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "api.bad_json", f"request body is not JSON: {exc}") from exc
    message = validated(Sms, parsed)
    sender, text, message_id = message.sender, message.text, message.id
    marker = f"sms:{message_id}" if message_id else ""
    settings = request.app[SETTINGS]
    db = request.app[TICKET_DB]
    cipher = request.app.get(CIPHER)
    intake = store.Intake(channel="sms", content=text, caller_number=sender.strip(), title="")

    def work(s: Session) -> tuple[int, bool, bool]:
        if marker:
            seen = s.scalars(
                select(TicketComment.ticket_id).where(TicketComment.text == marker)
            ).first()
            if seen is not None:
                return seen, False, True
        made = store.create(s, settings, intake, GATEWAY, datetime.now(UTC), cipher=cipher)
        if marker:
            s.add(
                TicketComment(
                    ticket_id=made.ticket.id,
                    at=made.ticket.created_at,
                    actor="sms-gateway",
                    role="agent",
                    text=marker,
                )
            )
        return made.ticket.id, made.linked, False

    ticket_id, linked, duplicate = await asyncio.to_thread(db.transaction, work)
    row = await asyncio.to_thread(db.transaction, lambda s: store.get(s, ticket_id))
    out = view(row, redactor_for(request, Principal("sms-gateway", "agent")), cipher=cipher)
    out.update({"linked": linked, "duplicate": duplicate})
    return web.json_response(out, status=200 if (linked or duplicate) else 201)
