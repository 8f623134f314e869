"""Every ticket API answer goes through the catalogue-driven Redactor of the caller's role
(GB/T 44192 8), on SQLite and PostgreSQL: proposal, state, history notes and details,
comments, the list and search results are shown in clear, masked (the phone and ID-card
numbers inside masked) or left out, column by column, as config/protection.toml says for
each grade of config/catalog.toml; each read in clear of sensitive fields is on record."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from callcenter.data.crypto import ephemeral_cipher
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, Ticket, TicketHistory
from tests.storage.data_api import data_client

Client = TestClient[Any, Any]

PHONE, MASKED_PHONE = "13812345678", "138****5678"
ID, MASKED_ID = "11010519491231002X", "110105********002X"
SAID = f"电话{PHONE}，身份证{ID}"  # what a citizen said, as staff write it down
# every trace of the two numbers in clear (the masked forms keep neither)
TRACES = (PHONE, ID, ID[-8:], PHONE[3:7] + PHONE[-4:])


async def call(c: Client, token: str, method: str, path: str, body: Any = None) -> Any:
    resp = await c.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    found = await resp.json()
    assert resp.status in (200, 201), (path, found)
    return found


async def scenario(c: Client, t: dict[str, str], database: Database) -> int:
    """A ticket whose every free-text field quotes the caller's phone and ID-card numbers:
    the title and content, the classifier's proposal (and a number stored as a JSON number),
    the agent's comment (as the agent console posts it), the dispatch note, the department's
    reply (a history note and the ticket's state) and a history entry's details."""
    made = await call(
        c,
        t["agent"],
        "POST",
        "/api/tickets",
        {
            "title": f"{PHONE} 自来水管爆裂",
            "content": f"楼下自来水管爆裂，路面全是水，{SAID}",
            "caller_number": PHONE,
            "caller_name": "张先生",
            "address": "北京市朝阳区建国路88号",
            "id_card": ID,
        },
    )
    tid = int(made["id"])
    with database.session() as s:
        proposal = json.loads(s.scalars(select(Ticket.proposal).where(Ticket.id == tid)).one())
    proposal |= {"basis": [["来电", SAID]], "callback": int(PHONE)}
    database.transaction(
        lambda s: s.execute(
            update(Ticket)
            .where(Ticket.id == tid)
            .values(proposal=json.dumps(proposal, ensure_ascii=False))
        )
    )
    await call(c, t["agent"], "POST", f"/api/tickets/{tid}/comments", {"text": f"座席补充：{SAID}"})
    await call(
        c, t["agent"], "POST", f"/api/tickets/{tid}/assign", {"department": "water", "note": SAID}
    )
    path = f"/api/tickets/{tid}/transition"
    await call(c, t["water"], "POST", path, {"action": "accept_handling"})
    await call(c, t["water"], "POST", path, {"action": "reply", "text": f"已回电核实：{SAID}"})
    details = json.dumps({"heard": {"said": [SAID]}}, ensure_ascii=False)
    database.transaction(
        lambda s: s.add(
            TicketHistory(
                ticket_id=tid,
                seq=99,
                action="note",
                actor="1001",
                role="agent",
                at=0.0,
                from_status="replied",
                to_status="replied",
                note="",
                details=details,
            )  # fmt: skip
        )
    )
    return tid


def history(view: dict[str, Any], action: str) -> dict[str, Any]:
    return next(h for h in view["history"] if h["action"] == action)


# Where the numbers turn up in a detail view; each must be in clear or masked as a whole.
FIELDS: dict[str, Callable[[dict[str, Any]], object]] = {
    "title": lambda v: v["title"],
    "content": lambda v: v["content"],
    "caller_number": lambda v: v["caller_number"],
    "proposal.basis": lambda v: v["proposal"]["basis"][0][1],
    "proposal.callback": lambda v: str(v["proposal"]["callback"]),
    "state.reply": lambda v: v["state"]["reply"],
    "comments[].text": lambda v: v["comments"][0]["text"],
    "history[dispatch].note": lambda v: history(v, "dispatch")["note"],
    "history[reply].note": lambda v: history(v, "reply")["note"],
    "history[].details": lambda v: history(v, "note")["details"]["heard"]["said"][0],
}
HIDDEN_TICKET = [
    "caller_number",
    "caller_name",
    "address",
    "title",
    "content",
    "proposal",
    "state",
    "id_card",
]
DETAIL_READ = "id_card,caller_number,title,caller_name,address,content,proposal,state"
DETAIL_READ += ",ticket_history.note,ticket_history.details,ticket_comments.text"


def expect(value: object, shown: str, field: str) -> None:
    text = str(value)
    if shown == "clear":
        assert PHONE in text or ID in text, (field, text)
        assert MASKED_PHONE not in text and MASKED_ID not in text, (field, text)
    else:
        assert MASKED_PHONE in text or MASKED_ID in text, (field, text)
        assert not [x for x in TRACES if x in text], (field, text)


def log_rows(database: Database, after: int) -> list[tuple[str, str, str, str]]:
    with database.session() as s:
        rows = s.scalars(select(DataAccess).where(DataAccess.id > after).order_by(DataAccess.id))
        return [(r.actor, r.record_id, r.fields, r.purpose) for r in rows]


def last_log_id(database: Database) -> int:
    with database.session() as s:
        return max(s.scalars(select(DataAccess.id)), default=0)


# role (token) -> what the shipped protection.toml says for "sensitive", and the access-log
# rows of a detail view and a search (core, the ID number: masked and decrypted for all)
SHIPPED = [
    ("water", "mask", "id_card", None),
    ("agent", "clear", DETAIL_READ, "caller_number,title"),
    ("supervisor", "clear", DETAIL_READ, "caller_number,title"),
]


@pytest.mark.parametrize(("role", "shown", "detail_read", "list_read"), SHIPPED)
async def test_each_field_masked_or_clear_by_role_and_grade(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    role: str,
    shown: str,
    detail_read: str,
    list_read: str | None,
) -> None:
    async with data_client(database, tmp_path, monkeypatch, ephemeral_cipher()) as (c, t):
        tid = await scenario(c, t, database)
        before = last_log_id(database)
        seen = await call(c, t[role], "GET", f"/api/tickets/{tid}")
        for field, get in FIELDS.items():
            expect(get(seen), shown, field)
        assert seen["caller_name"] == ("张先生" if shown == "clear" else "张**")
        assert seen["address"].startswith("北京市朝阳区建国路")
        assert seen["address"].endswith("88号" if shown == "clear" else "****")
        assert (seen["id_card"], seen["id_card_status"]) == (MASKED_ID, "ok")
        assert seen["proposal"]["department"] == "water"  # the JSON keeps its shape
        assert isinstance(seen["proposal"]["request_type"], list)
        assert seen["state"]["returns"] == 0 and seen["comments"][0]["actor"] == "1001"
        assert [h["action"] for h in seen["history"]][:2] == ["accept", "dispatch"]
        found = await call(c, t[role], "GET", "/api/tickets?q=爆裂")
        assert [x["id"] for x in found["tickets"]] == [tid]
        for field in ("title", "caller_number"):
            expect(found["tickets"][0][field], shown, f"list {field}")
        if shown == "mask":
            raw = json.dumps([seen, found], ensure_ascii=False)
            assert [x for x in TRACES if x in raw] == []
    name = {"water": "水务局", "agent": "1001", "supervisor": "班长"}[role]
    expected = [(name, str(tid), detail_read, "ticket view (ID number masked)")]
    if list_read:
        expected.append((name, "", list_read, f"ticket list: {tid}"))
    assert log_rows(database, before) == expected


def policy(config: Path, changes: dict[str, dict[str, str]]) -> None:
    """protection.toml of this config copy with some roles' actions changed."""
    path = config / "protection.toml"
    text = path.read_text(encoding="utf-8")
    for role, actions in changes.items():
        head = f"[masking.{role}]\n"
        start = text.index(head) + len(head)
        end = text.find("\n[", start)
        body = text[start : None if end < 0 else end]
        for grade, action in actions.items():
            body = re.sub(rf'(?m)^{grade} = "\w+"$', f'{grade} = "{action}"', body)
        text = text[:start] + body + ("" if end < 0 else text[end:])
    path.write_text(text, encoding="utf-8")


async def test_a_hidden_grade_leaves_the_fields_out_and_reads_nothing(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyed_config: Path
) -> None:
    """A department whose policy hides sensitive and core data gets none of those fields (the
    keys are absent, in the detail view, its history and comments, the list and a
    transition's answer), nothing is decrypted and nothing is on record; a supervisor set to
    `mask` gets them masked, an agent still in clear."""
    policy(
        keyed_config,
        {"department": {"sensitive": "hide", "core": "hide"}, "supervisor": {"sensitive": "mask"}},
    )
    async with data_client(database, tmp_path, monkeypatch, ephemeral_cipher(), keyed_config) as (
        c,
        t,
    ):
        tid = await scenario(c, t, database)
        before = last_log_id(database)
        seen = await call(c, t["water"], "GET", f"/api/tickets/{tid}")
        assert [k for k in HIDDEN_TICKET if k in seen] == []
        assert seen["id_card_status"] == "hidden"
        assert (seen["department"], seen["status"], seen["repeats"]) == ("water", "replied", 0)
        assert all("note" not in h and "details" not in h for h in seen["history"])
        assert [h["action"] for h in seen["history"]][:3] == [
            "accept",
            "dispatch",
            "accept_handling",
        ]
        assert seen["comments"] == [
            {"at": seen["comments"][0]["at"], "actor": "1001", "role": "agent"}
        ]
        found = await call(c, t["water"], "GET", "/api/tickets?q=爆裂")
        assert [x["id"] for x in found["tickets"]] == [tid]
        assert "title" not in found["tickets"][0] and "caller_number" not in found["tickets"][0]
        path = f"/api/tickets/{tid}/transition"
        rejected = await call(
            c, t["supervisor"], "POST", path, {"action": "reject_reply", "note": SAID}
        )
        replied = await call(
            c, t["water"], "POST", path, {"action": "reply", "text": f"已补充：{SAID}"}
        )
        assert [k for k in HIDDEN_TICKET if k in replied] == []
        assert replied["history_entry"]["action"] == "reply"
        raw = json.dumps([seen, found, replied], ensure_ascii=False)
        assert [x for x in (*TRACES, MASKED_PHONE, MASKED_ID, "张") if x in raw] == []
        assert log_rows(database, before) == [
            ("班长", str(tid), "id_card", "ticket view (ID number masked)")  # its transition
        ]
        for field in ("title", "content", "caller_number", "state.reply"):
            expect(FIELDS[field](rejected), "mask", field)  # the supervisor's, masked
        supervisor = await call(c, t["supervisor"], "GET", f"/api/tickets/{tid}")
        for field, get in FIELDS.items():
            expect(get(supervisor), "mask", field)
        agent = await call(c, t["agent"], "GET", f"/api/tickets/{tid}")
        for field, get in FIELDS.items():
            expect(get(agent), "clear", field)
    rows = log_rows(database, before)[1:]
    assert [(r[0], r[2]) for r in rows] == [("班长", "id_card"), ("1001", DETAIL_READ)]
