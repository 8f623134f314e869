"""Calls with transcripts for the inspection tests: finished transcription jobs, timed
segments, call records, tickets and emergency transfers, written straight to the tables the
ASR pipeline and the engine fill; and a seeded generator of many plausible transcripts."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session

from callcenter.storage.schema import (
    AsrJob,
    Base,
    CallRecord,
    EmergencyLink,
    Ticket,
    TranscriptSegment,
)

Seg = tuple[str, float, float, str]  # speaker, start, end, text
BASE = 1_780_000_000.0


def add_call(
    s: Session,
    call_id: str,
    agent: str,
    segments: Sequence[Seg],
    at: float,
    *,
    state: str = "done",
    ticket: bool = False,
    transfers: Sequence[tuple[str, str]] = (),
) -> None:
    s.add(AsrJob(call_id=call_id, created_at=at, state=state, attempts=1, error=""))
    s.add(
        CallRecord(
            call_id=call_id,
            node="n1",
            did="12345",
            hotline="12345",
            region="本市",
            caller_number="13800138000",
            skill="general",
            priority=0,
            joined_at=at - 200,
            agent_id=agent,
            connected_at=at - 190,
            ended_at=at,
        )
    )
    for seq, (speaker, start, end, text) in enumerate(segments):
        words = [[start, end, text, 0.9]]
        s.add(
            TranscriptSegment(
                call_id=call_id,
                seq=seq,
                speaker=speaker,
                start=start,
                end=end,
                text=text,
                confidence=0.9,
                words=json.dumps(words, ensure_ascii=False),
            )
        )
    if ticket:
        s.add(_ticket(call_id, agent, at))
    for line, status in transfers:
        s.add(
            EmergencyLink(
                call_id=call_id,
                line=line,
                mode="blind",
                actor=agent,
                target="",
                status=status,
                at=at,
            )
        )


GOOD: list[Seg] = [
    ("agent", 0.4, 3.0, "您好，12345，请讲"),
    ("caller", 3.2, 12.0, "我家门口的路灯坏了好几天了"),
    ("agent", 12.5, 16.0, "您的地址是幸福路8号对吗"),
    ("caller", 16.2, 17.0, "对"),
    ("agent", 17.5, 20.0, "您的电话是13812345678对吗"),
    ("caller", 20.2, 21.0, "是的"),
    ("agent", 21.5, 25.0, "好的已经记录，请问还有其他问题吗"),
    ("caller", 25.2, 26.0, "没有了"),
    ("agent", 26.2, 28.0, "感谢您的来电，再见"),
]
FIRE: list[Seg] = [
    ("agent", 0.5, 3.0, "您好，12345"),
    ("caller", 3.0, 8.0, "我家楼下着火了，救命！"),
    ("agent", 8.5, 10.0, "马上为您转接119"),
    ("agent", 10.5, 12.0, "感谢您的来电"),
]

_CALLER = ["我家门口的路灯坏了", "小区噪音太大了", "这个补贴怎么申请", "垃圾好几天没人收", "停水了"]
_AGENT = ["好的我记录一下", "您别着急", "我帮您查询一下", "这个问题我们会转给相关部门"]
_RISKY = ["这个不归我们管", "我家着火了", "烦不烦"]


def synthetic_calls(count: int, seed: int) -> list[tuple[str, str, list[Seg], bool]]:
    """`count` calls (id, agent, segments, ticket): about 20 alternating segments each, with
    greetings, closings, confirmations, overlaps, pauses and risky words now and then."""
    rnd = random.Random(seed)
    out = []
    for n in range(count):
        t = rnd.uniform(0.2, 2.0)
        segs: list[Seg] = []
        if rnd.random() < 0.9:
            segs.append(("agent", t, t + 2.5, "您好，12345，请讲"))
            t += 2.7
        for turn in range(rnd.randint(6, 22)):
            speaker = "caller" if turn % 2 == 0 else "agent"
            pool = _CALLER if speaker == "caller" else _AGENT
            text = rnd.choice(_RISKY) if rnd.random() < 0.02 else rnd.choice(pool)
            length = rnd.uniform(1.0, 8.0)
            segs.append((speaker, t, t + length, text))
            t += length + (rnd.uniform(-1.5, 0.5) if rnd.random() < 0.2 else rnd.uniform(0.1, 2.0))
            if rnd.random() < 0.03:
                t += 12.0
        ticket = rnd.random() < 0.6
        if ticket and rnd.random() < 0.8:
            segs.append(("agent", t, t + 3, "您的地址是幸福路8号对吗"))
            segs.append(("agent", t + 3.2, t + 6, "核实一下号码，您的电话是这个吗"))
            t += 6.5
        if rnd.random() < 0.85:
            segs.append(("agent", t, t + 2, "感谢您的来电"))
        out.append((f"syn-{n:05d}", f"{1000 + n % 25}", segs, ticket))
    return out


def add_many(s: Session, calls: Sequence[tuple[str, str, list[Seg], bool]], at: float) -> None:
    """The synthetic calls as finished transcriptions with call records (agents) and, when
    ticket is set, a ticket: Core multi-row inserts, so thousands load in seconds."""
    conn = s.connection()
    tables = Base.metadata.tables
    conn.execute(
        insert(tables["asr_jobs"]),
        [
            {"call_id": c, "created_at": at + n, "state": "done", "attempts": 1, "error": ""}
            for n, (c, _, _, _) in enumerate(calls)
        ],
    )
    conn.execute(
        insert(tables["calls"]),
        [
            {
                "call_id": c,
                "node": "n1",
                "did": "12345",
                "hotline": "12345",
                "region": "本市",
                "caller_number": "13800138000",
                "skill": "general",
                "priority": 0,
                "joined_at": at + n - 200,
                "agent_id": agent,
            }
            for n, (c, agent, _, _) in enumerate(calls)
        ],
    )
    conn.execute(
        insert(tables["transcript_segments"]),
        [
            {
                "call_id": c,
                "seq": seq,
                "speaker": speaker,
                "start": start,
                "end": end,
                "text": text,
                "confidence": 0.9,
                "words": "[]",
            }
            for c, _, segs, _ in calls
            for seq, (speaker, start, end, text) in enumerate(segs)
        ],
    )
    for c, agent, _, ticket in calls:
        if ticket:
            s.add(_ticket(c, agent, at))


def _ticket(call_id: str, agent: str, at: float) -> Ticket:
    return Ticket(
        number=f"T{call_id}",
        channel="phone",
        call_id=call_id,
        caller_number="13800138000",
        caller_name="张三",
        did="12345",
        hotline="12345",
        region="本市",
        skill="general",
        agent_id=agent,
        ivr_path="",
        request_type="complaint",
        topic="路灯",
        department=None,
        title="路灯不亮",
        content="幸福路8号路灯不亮",
        address="幸福路8号",
        status="registered",
        version=1,
        state="{}",
        proposal="{}",
        confirmed=1,
        created_at=at,
        updated_at=at,
        repeats=0,
        search_text="路灯",
    )
