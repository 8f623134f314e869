"""Explaining one call: its record (calls table, number masked) and its decision log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from callcenter.data.crypto import FieldCipher, Undecryptable
from callcenter.decisions.story import CallFacts, Story, gather, tell
from callcenter.masking import mask_phone
from callcenter.storage.database import Database

log = logging.getLogger(__name__)


def call_facts(
    database: Database | None, cipher: FieldCipher | None, call_id: str
) -> CallFacts | None:
    """The call's row, its number masked ("" when no key can decrypt it); None when absent
    or the table cannot be read."""
    if database is None:
        return None
    try:
        row = database.call(call_id)
    except SQLAlchemyError as exc:
        log.warning("calls table not readable: %s", exc)
        return None
    if row is None:
        return None
    caller = ""
    if cipher is not None and row.caller_number:
        try:
            caller = mask_phone(cipher.decrypt(row.caller_number))
        except Undecryptable:
            caller = ""
    return CallFacts(
        call_id=row.call_id,
        hotline=row.hotline,
        did=row.did,
        caller=caller,
        region=row.region,
        skill=row.skill,
        priority=row.priority,
        joined_at=row.joined_at,
        left_at=row.left_at,
        leave_reason=row.leave_reason,
        waited=row.waited,
        agent_id=row.agent_id,
        ended_at=row.ended_at,
        talk_seconds=row.talk_seconds,
    )


def explain(
    directory: Path | None,
    zone: ZoneInfo,
    call_id: str,
    database: Database | None = None,
    cipher: FieldCipher | None = None,
    agent_skills: Mapping[str, Mapping[str, int]] | None = None,
) -> Story | None:
    """The call's story; None when neither the calls table nor the decision log (in
    `directory`; None: no log) knows it."""
    facts = call_facts(database, cipher, call_id)
    around = None
    if facts is not None:
        end = facts.ended_at or facts.left_at or facts.joined_at
        around = (facts.joined_at, end)
    own, context = ([], []) if directory is None else gather(directory, call_id, zone, around)
    if not own and facts is None:
        return None
    return tell(call_id, own, context, facts, agent_skills, zone)
