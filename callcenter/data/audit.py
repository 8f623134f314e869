"""The sensitive-data access log (GB/T 44192 8.2): who read, decrypted, exported or purged
which record's protected fields, why, and from where.

`data_access_log` is append-only: triggers of migration 0007 refuse UPDATE and DELETE on
SQLite and PostgreSQL alike, and 0012 refuses TRUNCATE on PostgreSQL. Callers write the row
in the SAME transaction as the access it records, so an access that commits always has its row
and a failed one leaves none.

`parse_query` turns HTTP query parameters into an `AccessQuery` (pure; `AuditQueryError` with
a stable error id names the bad parameter); `query_access` runs it, newest first.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import CallcenterError
from callcenter.storage.schema import DataAccess

# read: a protected field shown (masked) to a user; decrypt: the full value revealed;
# export: records leaving the system; recording: a call recording opened, fetched or deleted;
# purge: records deleted or anonymised by retention.
ACTIONS = ("read", "decrypt", "export", "recording", "purge")
MAX_LIMIT = 1000
_WIDTHS = {"actor": 64, "role": 16, "dataset": 32, "record_id": 64, "remote": 64}


class AuditError(CallcenterError, ValueError):
    """An access-log row that would not say clearly what happened."""

    error_id = "data.audit_invalid"


class AuditQueryError(CallcenterError, ValueError):
    """A bad filter of the access-log query; `parameter` names it."""

    status = 400

    error_id = "data.audit_query"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class AccessEntry:
    """A validated access-log row, before it is written."""

    actor: str
    role: str
    action: str
    dataset: str
    record_id: str
    fields: str
    purpose: str
    remote: str


def entry(
    actor: str,
    role: str,
    action: str,
    dataset: str,
    record_id: str = "",
    fields: Iterable[str] = (),
    purpose: str = "",
    remote: str = "",
) -> AccessEntry:
    """Check a row: a known action, who and what named, field names without commas, every
    value within its column. Nothing is truncated silently: an audit row is exact or refused."""
    if action not in ACTIONS:
        raise AuditError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    names = [f.strip() for f in fields]
    if any(not n or "," in n for n in names):
        raise AuditError(f"field names must be non-empty and without commas: {names!r}")
    values = {
        "actor": actor.strip(),
        "role": role.strip(),
        "dataset": dataset.strip(),
        "record_id": record_id,
        "remote": remote,
    }
    for key in ("actor", "role", "dataset"):
        if not values[key]:
            raise AuditError(f"{key} is required")
    for key, width in _WIDTHS.items():
        if len(values[key]) > width:
            raise AuditError(f"{key} is longer than {width} characters")
    return AccessEntry(
        actor=values["actor"],
        role=values["role"],
        action=action,
        dataset=values["dataset"],
        record_id=record_id,
        fields=",".join(names),
        purpose=purpose.strip(),
        remote=remote,
    )


def access_values(e: AccessEntry, at: float) -> dict[str, object]:
    """A checked entry as the column values of its row (for a Core insert)."""
    return {"at": at, **asdict(e)}


def record_access(
    session: Session,
    actor: str,
    role: str,
    action: str,
    dataset: str,
    record_id: str = "",
    fields: Iterable[str] = (),
    purpose: str = "",
    remote: str = "",
) -> None:
    """Add one row to the access log in the caller's transaction."""
    e = entry(actor, role, action, dataset, record_id, fields, purpose, remote)
    session.add(DataAccess(**access_values(e, time.time())))


def record_recording(
    session: Session, call_id: str, leg: str, what: str, actor: str, role: str, remote: str
) -> None:
    """A recording access (what: metadata, download, delete) as an access-log row: action
    `recording`, dataset `recordings`, the call id, the leg as the field, `what` as purpose."""
    record_access(session, actor, role, "recording", "recordings", call_id, (leg,), what, remote)


@dataclass(frozen=True)
class AccessQuery:
    actor: str | None = None
    action: str | None = None
    dataset: str | None = None
    since: float | None = None  # at >= since
    until: float | None = None  # at < until
    limit: int = 100
    offset: int = 0


def _number(params: Mapping[str, str], key: str) -> float | None:
    raw = params.get(key, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise AuditQueryError(key, "must be epoch seconds") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise AuditQueryError(key, "must be a finite number")
    return value


def _count(params: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = params.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AuditQueryError(key, "must be an integer") from None
    if not low <= value <= high:
        raise AuditQueryError(key, f"must be between {low} and {high}")
    return value


def parse_query(params: Mapping[str, str]) -> AccessQuery:
    """Filters from query parameters: actor, action, dataset, since, until, limit, offset."""
    action = params.get("action", "").strip() or None
    if action is not None and action not in ACTIONS:
        raise AuditQueryError("action", f"must be one of {', '.join(ACTIONS)}")
    since, until = _number(params, "since"), _number(params, "until")
    if since is not None and until is not None and until <= since:
        raise AuditQueryError("until", "must be later than since")
    return AccessQuery(
        actor=params.get("actor", "").strip() or None,
        action=action,
        dataset=params.get("dataset", "").strip() or None,
        since=since,
        until=until,
        limit=_count(params, "limit", 100, 1, MAX_LIMIT),
        offset=_count(params, "offset", 0, 0, 10_000_000),
    )


def as_dict(row: DataAccess) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at,
        "actor": row.actor,
        "role": row.role,
        "action": row.action,
        "dataset": row.dataset,
        "record_id": row.record_id,
        "fields": row.fields.split(",") if row.fields else [],
        "purpose": row.purpose,
        "remote": row.remote,
    }


def query_access(
    session: Session,
    actor: str | None = None,
    action: str | None = None,
    dataset: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Rows matching every given filter, newest first."""
    query = select(DataAccess)
    for column, value in (
        (DataAccess.actor, actor),
        (DataAccess.action, action),
        (DataAccess.dataset, dataset),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(DataAccess.at >= since)
    if until is not None:
        query = query.where(DataAccess.at < until)
    query = query.order_by(DataAccess.at.desc(), DataAccess.id.desc())
    rows = session.scalars(query.limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset)))
    return [as_dict(r) for r in rows]
