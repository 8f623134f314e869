"""Corrections of ticket data through the system (GB/T 44192 6.2 修正, 6.4 可追溯): only
whitelisted fields, each one audited in `data_corrections` (who, when, why, the value before
and after, masked for personal fields) and appended to the ticket's own history; the ticket's
version moves on, and the change-log trigger makes the next incremental run recheck it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.data.audit import record_access
from callcenter.data.checks import check_id_card, check_phone, check_uscc
from callcenter.data.crypto import FieldCipher, Undecryptable
from callcenter.data.quality.rules import label, masked
from callcenter.errors import CallcenterError
from callcenter.masking import mask_id_card, mask_phone
from callcenter.storage.schema import DataCorrection, TicketHistory
from callcenter.tickets.service import get as get_ticket

TEXT_FIELDS = (
    "caller_number",
    "caller_name",
    "request_type",
    "department",
    "title",
    "content",
    "address",
    "enterprise_code",
    "enterprise_name",
    "grid",
)
TIME_FIELDS = ("closed_at", "received_at")
CORRECTABLE = frozenset((*TEXT_FIELDS, *TIME_FIELDS, "id_card"))


class CorrectionError(CallcenterError):
    status = 400
    error_id = "data.correction"


def parse_time(value: str) -> float:
    """Epoch seconds, or an ISO 8601 date-time (without a zone: UTC)."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CorrectionError(f"时间格式无效：{value!r}（应为 ISO 8601 或时间戳）") from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _validate(field: str, value: str) -> None:
    reason = None
    if field == "caller_number":
        reason = check_phone(value)
    elif field == "id_card" and value:
        reason = check_id_card(value)
    elif field == "enterprise_code" and value:
        reason = check_uscc(value)
    elif field == "content" and not value.strip():
        reason = "诉求内容不能为空"
    if reason:
        raise CorrectionError(f"{label(field)}更正值不合规：{reason}")


def _shown(cipher: FieldCipher, stored: str, mask: Callable[[str], str]) -> str:
    try:
        return mask(cipher.decrypt(stored))
    except Undecryptable:
        return "（无法解密）"


def correct(
    session: Session,
    cipher: FieldCipher,
    tbl: str,
    record_id: str,
    field: str,
    new_value: str,
    reason: str,
    actor_id: str,
    role: str,
    at: datetime,
    issue_id: int | None = None,
    remote: str = "",
) -> DataCorrection:
    """Correct one field of one ticket inside the caller's transaction; raises
    CorrectionError (nothing written) for another table, a field not on the whitelist, an
    empty reason or a value that fails its check. Correcting an ID-card or phone number
    decrypts the old one (the new one is stored encrypted): that is a row of the data
    access log (who, purpose "correction", the ticket,
    the field; `remote` the caller's address), in the same transaction."""
    if tbl != "tickets":
        raise CorrectionError(f"只能更正工单数据（tickets），不能更正 {tbl!r}")
    if field not in CORRECTABLE:
        allowed = ", ".join(sorted(CORRECTABLE))
        raise CorrectionError(f"字段 {field!r} 不允许更正（允许：{allowed}）")
    if not reason.strip():
        raise CorrectionError("更正必须写明原因")
    if not record_id.isdigit():
        raise CorrectionError(f"工单编号无效：{record_id!r}")
    _validate(field, new_value)
    row = get_ticket(session, int(record_id), for_update=True)
    when = at.timestamp()
    if field == "id_card":
        before = ""
        if row.id_card:  # the old number is decrypted (to show it masked): a read on record
            before = _shown(cipher, row.id_card, mask_id_card)
            record_access(
                session, actor_id, role, "decrypt", "tickets", str(row.id), ("id_card",),
                "correction", remote,
            )  # fmt: skip
        row.id_card = cipher.encrypt(new_value.strip().upper())
        row.id_card_hash = cipher.blind_index(new_value)
        after = mask_id_card(new_value.strip().upper())
    elif field == "caller_number":  # stored encrypted, with its blind index
        before = ""
        if row.caller_number:  # decrypted to show it masked: a read on record, as above
            before = _shown(cipher, row.caller_number, mask_phone)
            record_access(
                session, actor_id, role, "decrypt", "tickets", str(row.id),
                ("caller_number",), "correction", remote,
            )  # fmt: skip
        row.caller_number, row.caller_number_hash = cipher.seal_phone(new_value)
        after = mask_phone(new_value.strip())
    elif field in TIME_FIELDS:
        old_time: float | None = getattr(row, field)
        new_time = parse_time(new_value) if new_value.strip() else None
        before, after = masked(field, old_time), masked(field, new_time)
        setattr(row, field, new_time)
    else:
        old: str | None = getattr(row, field)
        before, after = masked(field, old), masked(field, new_value)
        setattr(row, field, new_value)
    seq = session.scalar(
        select(func.max(TicketHistory.seq)).where(TicketHistory.ticket_id == row.id)
    )
    row.version += 1
    row.updated_at = when
    session.add(
        TicketHistory(
            ticket_id=row.id,
            seq=(seq if seq is not None else -1) + 1,
            action="correct",
            actor=actor_id,
            role=role,
            at=when,
            from_status=row.status,
            to_status=row.status,
            note=f"更正{label(field)}（{field}）：{reason}",
            details=json.dumps(
                {"field": field, "before": before, "after": after}, ensure_ascii=False
            ),
        )
    )
    correction = DataCorrection(
        tbl=tbl,
        record_id=str(row.id),
        field=field,
        before=before,
        after=after,
        reason=reason,
        issue_id=issue_id,
        actor=actor_id,
        role=role,
        at=when,
    )
    session.add(correction)
    session.flush()
    return correction
