"""Finding profiles and reading a profile's history (GB/T 44192 6.3).

Everything here returns plain dicts with RAW values, keyed by the columns of the table they
come from, so that the caller masks them by role with
`callcenter.data.protection.Redactor.row(table, mapping)`:

- a profile is a row of `profiles` (table "profiles"); personal keys: `name`, `phone`
  (decrypted: '' without the keys), `id_card_hash` (the blind index of the ID number: a
  secret, the redactor hides it);
- each history item is {"record_type", "record_id", "via", "at", "table", "fields"}, and
  `fields` is a row of `item["table"]` ("tickets", "calls", "callbacks" or "surveys");
  personal keys: tickets `caller_number`, `caller_name`, `title`, `enterprise_code`
  (a USCC, masked by kind); calls `caller_number`; callbacks `number`; surveys `number`
  (every phone number decrypted, '' without the keys). The ID number itself
  (tickets.id_card) is never read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from callcenter.data.crypto import FieldCipher, Undecryptable, clear_or_empty
from callcenter.storage.schema import (
    CallbackRecord,
    CallRecord,
    Profile,
    ProfileLink,
    Survey,
    Ticket,
)

PERSONAL_KEYS: Mapping[str, tuple[str, ...]] = {
    "profiles": ("name", "phone", "id_card_hash"),
    "tickets": ("caller_number", "caller_name", "title", "enterprise_code"),
    "calls": ("caller_number",),
    "callbacks": ("number",),
    "surveys": ("number",),
}

TABLE_OF = {"ticket": "tickets", "call": "calls", "callback": "callbacks", "survey": "surveys"}

MAX_PAGE = 500

_TICKET_FIELDS: tuple[InstrumentedAttribute[Any], ...] = (
    Ticket.id,
    Ticket.number,
    Ticket.status,
    Ticket.title,
    Ticket.request_type,
    Ticket.topic,
    Ticket.department,
    Ticket.caller_number,
    Ticket.caller_name,
    Ticket.enterprise_code,
    Ticket.enterprise_name,
    Ticket.created_at,
    Ticket.closed_at,
)
_CALL_FIELDS: tuple[InstrumentedAttribute[Any], ...] = (
    CallRecord.call_id,
    CallRecord.caller_number,
    CallRecord.did,
    CallRecord.skill,
    CallRecord.joined_at,
    CallRecord.connected_at,
    CallRecord.ended_at,
    CallRecord.left_at,
    CallRecord.leave_reason,  # the outcome: answered, abandoned, timeout...
    CallRecord.waited,
    CallRecord.talk_seconds,
    CallRecord.agent_id,
)
_CALLBACK_FIELDS: tuple[InstrumentedAttribute[Any], ...] = (
    CallbackRecord.call_id,
    CallbackRecord.number,
    CallbackRecord.state,
    CallbackRecord.attempts,
    CallbackRecord.requested_at,
    CallbackRecord.updated_at,
    CallbackRecord.agent_id,
)
_SURVEY_FIELDS: tuple[InstrumentedAttribute[Any], ...] = (
    Survey.id,
    Survey.ticket_id,
    Survey.number,
    Survey.state,
    Survey.rating,
    Survey.attempts,
    Survey.created_at,
    Survey.updated_at,
)


def _profile(row: Profile, cipher: FieldCipher | None) -> dict[str, object]:
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "phone": clear_or_empty(cipher, row.phone),
        "id_card_hash": row.id_card_hash,
        "enterprise_code": row.enterprise_code,
        "records": row.records,
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "run_at": row.run_at,
    }


def find_profiles(
    session: Session,
    phone: str | None = None,
    id_hash: str | None = None,
    enterprise_code: str | None = None,
    name: str | None = None,
    limit: int = 50,
    phone_index: str | None = None,
    cipher: FieldCipher | None = None,
) -> list[dict[str, object]]:
    """Profiles matching every given key, most recently seen first. `phone` finds the
    profiles holding any ticket or call from that number (not only their main phone);
    `id_hash` is the blind index of an ID number (`FieldCipher.blind_index`); `name` is
    exact. `phone_index` is the blind index of `phone` (`FieldCipher.phone_index`): phone
    numbers are stored encrypted and found by it (without it, not at all). No key at all:
    nothing (never the whole table). The profiles' phones are decrypted with `cipher`."""
    if not any((phone, id_hash, enterprise_code, name)):
        return []
    where: list[ColumnElement[bool]] = []
    if phone:
        found = _phone_profiles(session, phone_index or "")
        where.append(Profile.id.in_(found))
    if id_hash:
        where.append(Profile.id_card_hash == id_hash.strip())
    if enterprise_code:
        where.append(
            and_(
                Profile.enterprise_code == enterprise_code.strip().upper(),
                Profile.kind == "enterprise",
            )
        )
    if name:
        where.append(Profile.name == name.strip())
    query = (
        select(Profile)
        .where(*where)
        .order_by(Profile.last_seen.desc(), Profile.id)
        .limit(max(1, min(limit, MAX_PAGE)))
    )
    return [_profile(p, cipher) for p in session.scalars(query)]


def _phone_profiles(session: Session, index: str) -> set[int]:
    """Profiles with the number (its blind index) as main phone or linked to a ticket or
    call from it."""
    if not index:
        return set()
    found = set(session.scalars(select(Profile.id).where(Profile.phone_hash == index)))
    tickets = [
        str(t)
        for t in session.scalars(
            select(Ticket.id).where(Ticket.caller_number_hash == index).limit(MAX_PAGE)
        )
    ]
    calls = list(
        session.scalars(
            select(CallRecord.call_id).where(CallRecord.caller_number_hash == index).limit(MAX_PAGE)
        )
    )
    for record_type, ids in (("ticket", tickets), ("call", calls)):
        if ids:
            found.update(
                session.scalars(
                    select(ProfileLink.profile_id).where(
                        ProfileLink.record_type == record_type, ProfileLink.record_id.in_(ids)
                    )
                )
            )
    return found


def _clear(cipher: FieldCipher | None, row: dict[str, object], key: str) -> dict[str, object]:
    """The row with its encrypted number `key` decrypted ('' when no key can): the caller
    shows it through the Redactor (masked, or in clear with an access log row)."""
    stored = str(row.get(key) or "")
    plain = ""
    if stored and cipher is not None:
        try:
            plain = cipher.decrypt(stored)
        except Undecryptable:
            plain = ""
    return {**row, key: plain}


def _details(
    session: Session, record_type: str, ids: list[str], cipher: FieldCipher | None
) -> dict[str, dict[str, object]]:
    """The rows of these records, by record id."""
    if record_type == "ticket":
        numeric = [int(i) for i in ids if i.isdigit()]
        rows = session.execute(select(*_TICKET_FIELDS).where(Ticket.id.in_(numeric)))
        return {str(r.id): _clear(cipher, dict(r._mapping), "caller_number") for r in rows}
    if record_type == "call":
        rows = session.execute(select(*_CALL_FIELDS).where(CallRecord.call_id.in_(ids)))
        return {r.call_id: _clear(cipher, dict(r._mapping), "caller_number") for r in rows}
    if record_type == "callback":
        rows = session.execute(select(*_CALLBACK_FIELDS).where(CallbackRecord.call_id.in_(ids)))
        return {r.call_id: _clear(cipher, dict(r._mapping), "number") for r in rows}
    if record_type == "survey":
        numeric = [int(i) for i in ids if i.isdigit()]
        rows = session.execute(select(*_SURVEY_FIELDS).where(Survey.id.in_(numeric)))
        return {str(r.id): _clear(cipher, dict(r._mapping), "number") for r in rows}
    return {}


def profile_history(
    session: Session,
    profile_id: int,
    limit: int = 50,
    offset: int = 0,
    cipher: FieldCipher | None = None,
) -> dict[str, object] | None:
    """The profile and a page of its records, newest first: {"profile", "total", "limit",
    "offset", "records": [item...]} (see the module doc for the item's shape); None when
    there is no such profile. A record deleted since the fusion run keeps its item with
    empty `fields`. The encrypted phone numbers (the profile's, and those of tickets, calls,
    callbacks and surveys) are decrypted with `cipher` ('' without one)."""
    row = session.get(Profile, profile_id)
    if row is None:
        return None
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    total = session.scalar(
        select(func.count()).select_from(ProfileLink).where(ProfileLink.profile_id == profile_id)
    )
    links = session.execute(
        select(ProfileLink.record_type, ProfileLink.record_id, ProfileLink.via, ProfileLink.at)
        .where(ProfileLink.profile_id == profile_id)
        .order_by(ProfileLink.at.desc(), ProfileLink.record_type, ProfileLink.record_id)
        .limit(limit)
        .offset(offset)
    ).all()
    wanted: dict[str, list[str]] = {}
    for link in links:
        wanted.setdefault(link.record_type, []).append(link.record_id)
    details = {kind: _details(session, kind, ids, cipher) for kind, ids in wanted.items()}
    records = [
        {
            "record_type": link.record_type,
            "record_id": link.record_id,
            "via": link.via,
            "at": link.at,
            "table": TABLE_OF.get(link.record_type, ""),
            "fields": details[link.record_type].get(link.record_id, {}),
        }
        for link in links
    ]
    return {
        "profile": _profile(row, cipher),
        "total": int(total or 0),
        "limit": limit,
        "offset": offset,
        "records": records,
    }


def record_profiles(
    session: Session, record_type: str, record_id: str, cipher: FieldCipher | None = None
) -> list[dict[str, object]]:
    """The profiles a ticket, call, callback or survey belongs to (a ticket of an enterprise
    belongs to the enterprise and to its caller); their phones decrypted with `cipher`."""
    ids = select(ProfileLink.profile_id).where(
        ProfileLink.record_type == record_type, ProfileLink.record_id == record_id
    )
    rows = session.scalars(select(Profile).where(Profile.id.in_(ids)).order_by(Profile.id))
    return [_profile(p, cipher) for p in rows]


__all__ = [
    "PERSONAL_KEYS",
    "TABLE_OF",
    "find_profiles",
    "profile_history",
    "record_profiles",
]
