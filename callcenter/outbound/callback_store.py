"""The callbacks' records, read back at start: the callbacks to queue again and the numbers
that already had a missed-call task today. The recorder writes the rows (`callbacks` table,
from the desk's domain events); this module only reads them."""

from __future__ import annotations

import logging

from sqlalchemy import select

from callcenter.data.audit import record_access
from callcenter.data.crypto import FieldCipher, Undecryptable
from callcenter.outbound.callbacks import PendingCallback
from callcenter.storage.database import Database
from callcenter.storage.schema import CallbackRecord

log = logging.getLogger(__name__)


def missed_since(database: Database, since: float) -> list[tuple[str, float]]:
    """(blind index of the number, made at) of every missed-call callback task made since
    then, oldest first: a restarted engine makes at most one per number per day."""
    with database.session() as s:
        query = (
            select(CallbackRecord.number_hash, CallbackRecord.requested_at)
            .where(CallbackRecord.kind == "missed", CallbackRecord.requested_at >= since)
            .order_by(CallbackRecord.requested_at)
        )
        return [(index, at) for index, at in s.execute(query)]


def pending(database: Database, cipher: FieldCipher) -> list[PendingCallback]:
    """Callbacks not yet completed or given up, in queue order (a restart queues them),
    with their numbers decrypted to dial them: one data access log row (role system)
    says how many were decrypted. A number no key can decrypt is logged and that
    callback left in the table for a person (it cannot be dialled)."""
    with database.session() as s:
        rows = s.scalars(
            select(CallbackRecord)
            .where(CallbackRecord.state.in_(("waiting", "scheduled", "dialing")))
            .order_by(CallbackRecord.arrived_at)
        ).all()
    numbers: dict[str, str] = {}
    for r in rows:
        try:
            numbers[r.call_id] = cipher.decrypt(r.number)
        except Undecryptable as exc:
            log.error("callback %s: its number cannot be decrypted: %s", r.call_id, exc)
    if rows:
        database.transaction(
            lambda s: record_access(
                s,
                "engine",
                "system",
                "decrypt",
                "callbacks",
                fields=("number",),
                purpose=f"dial the queued callbacks after a start: {len(numbers)} numbers"
                f", {len(rows) - len(numbers)} undecryptable",
            )
        )
    return [
        PendingCallback(
            r.call_id,
            r.node,
            numbers[r.call_id],
            r.skill,
            r.priority,
            r.arrived_at,
            r.attempts,
            r.due_at if r.state == "scheduled" else 0.0,
            r.kind,
        )
        for r in rows
        if r.call_id in numbers
    ]
