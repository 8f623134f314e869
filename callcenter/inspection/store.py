"""Inspection scores, findings and reviews in the database.

A call is due for scoring when its transcription job is done (asr_jobs.state 'done': the
segments and the job's state are written in one transaction) and it has no score under the
current rules version. The call's agent comes from the call record, else its recording, else
its ticket; "the call created a ticket" is a ticket with its call_id; its emergency transfers
are its emergency_links rows. The call time of a score is its transcription job's creation
time (the recording was indexed at hangup): the listings filter and summarise by it.

A call has at most one score per rules version (the unique index of migration 0010): when two
workers score the same backlog, the second to write a call's score skips it (INSERT ... ON
CONFLICT DO NOTHING; on PostgreSQL it waits for the first's transaction to end) and the rest
of its batch is stored.

inspection_reviews is append-only (triggers of migration 0008 refuse UPDATE and DELETE); a
review row and the score's new state and final score are written in one transaction.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, case, exists, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from callcenter.errors import CallcenterError
from callcenter.inspection.rules import CallFacts, Segment
from callcenter.inspection.score import ReviewRefused, Scored, next_state
from callcenter.storage.schema import (
    AsrJob,
    Base,
    CallRecord,
    EmergencyLink,
    InspectionFinding,
    InspectionReview,
    InspectionScore,
    Recording,
    Ticket,
    TranscriptSegment,
)

_SCORES = Base.metadata.tables["inspection_scores"]
_FINDINGS = Base.metadata.tables["inspection_findings"]


class ScoreNotFound(CallcenterError, LookupError):
    status = 404
    error_id = "inspection.not_found"


def due_calls(session: Session, rules_version: str, limit: int) -> list[str]:
    """Transcribed calls without a score under this rules version, oldest job first."""
    scored = exists().where(
        InspectionScore.call_id == AsrJob.call_id, InspectionScore.rules_version == rules_version
    )
    query = (
        select(AsrJob.call_id)
        .where(AsrJob.state == "done", ~scored)
        .order_by(AsrJob.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def load_facts(session: Session, call_ids: Sequence[str]) -> dict[str, tuple[str, CallFacts]]:
    """(agent id, facts) of each call: segments in order, a ticket or not, its transfers."""
    ids = list(call_ids)
    segments: dict[str, list[Segment]] = defaultdict(list)
    rows = session.execute(
        select(
            TranscriptSegment.call_id,
            TranscriptSegment.speaker,
            TranscriptSegment.start,
            TranscriptSegment.end,
            TranscriptSegment.text,
        )
        .where(TranscriptSegment.call_id.in_(ids))
        .order_by(TranscriptSegment.call_id, TranscriptSegment.seq)
    )
    for call_id, speaker, start, end, text in rows:
        segments[call_id].append(Segment(speaker, start, end, text))
    agents: dict[str, str] = {}
    tickets: set[str] = set()
    for ticket_call, ticket_agent in session.execute(
        select(Ticket.call_id, Ticket.agent_id).where(Ticket.call_id.in_(ids))
    ):
        if ticket_call is not None:
            tickets.add(ticket_call)
            if ticket_agent:
                agents[ticket_call] = ticket_agent
    for model in (Recording, CallRecord):  # later ones win: the call record first
        for known_call, known_agent in session.execute(
            select(model.call_id, model.agent_id).where(model.call_id.in_(ids))
        ):
            if known_agent:
                agents[known_call] = known_agent
    transfers: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for call_id, line, status in session.execute(
        select(EmergencyLink.call_id, EmergencyLink.line, EmergencyLink.status)
        .where(EmergencyLink.call_id.in_(ids))
        .order_by(EmergencyLink.id)
    ):
        transfers[call_id].append((line, status))
    return {
        c: (
            agents.get(c, ""),
            CallFacts(tuple(segments[c]), c in tickets, tuple(transfers[c])),
        )
        for c in ids
    }


def save_score(
    session: Session, call_id: str, agent_id: str, rules_version: str, scored: Scored, now: float
) -> int | None:
    """Store one call's score and findings; the score's id, None when the call already has a
    score under this rules version."""
    return save_scores(session, [(call_id, agent_id, scored)], rules_version, now)[0]


def _insert_new_scores(connection: Connection) -> postgresql.Insert | sqlite.Insert:
    """INSERT INTO inspection_scores that skips a call already scored under the version."""
    key = ["call_id", "rules_version"]
    if connection.dialect.name == "postgresql":
        return postgresql.insert(_SCORES).on_conflict_do_nothing(index_elements=key)
    return sqlite.insert(_SCORES).on_conflict_do_nothing(index_elements=key)


def save_scores(
    session: Session,
    scored: Sequence[tuple[str, str, Scored]],
    rules_version: str,
    now: float,
) -> list[int | None]:
    """Store the scores (call id, agent id, score) and their findings in two bulk inserts;
    for each, in order, the new score's id, or None when the call already had a score under
    this rules version (another worker stored it first: its findings are not written)."""
    if not scored:
        return []
    # Core inserts (not the ORM's bulk path): one multi-row statement per batch, whatever
    # columns are NULL in which row. The ids are matched by call id: the rows skipped return
    # nothing, so the order of RETURNING cannot be relied on.
    connection = session.connection()
    rows = connection.execute(
        _insert_new_scores(connection).returning(_SCORES.c.call_id, _SCORES.c.id),
        [
            {
                "call_id": call_id,
                "agent_id": agent_id,
                "rules_version": rules_version,
                "score": result.score,
                "max_score": result.max_score,
                "final_score": result.score,
                "state": "scored",
                "scored_at": now,
                "updated_at": now,
            }
            for call_id, agent_id, result in scored
        ],
    )
    stored: dict[str, int] = {call_id: score_id for call_id, score_id in rows}
    ids: list[int | None] = []
    findings: list[dict[str, object]] = []
    for call_id, _, result in scored:
        score_id = stored.pop(call_id, None)  # a call twice in the batch: stored once
        ids.append(score_id)
        if score_id is None:
            continue
        findings += [
            {
                "score_id": score_id,
                "rule": f.rule,
                "passed": int(f.passed),
                "points": f.points,
                "speaker": f.evidence.speaker if f.evidence else "",
                "start": f.evidence.start if f.evidence else None,
                "end": f.evidence.end if f.evidence else None,
                "evidence": f.evidence.text if f.evidence else "",
            }
            for f in result.findings
        ]
    if findings:
        connection.execute(insert(_FINDINGS), findings)
    return ids


# --- reviews ----------------------------------------------------------------------------------


def add_review(
    session: Session,
    score_id: int,
    action: str,
    actor: str,
    role: str,
    new_score: float | None,
    note: str,
    now: float | None = None,
) -> InspectionScore:
    """Append a review step and move the score (ReviewRefused when the step does not apply,
    ScoreNotFound when there is no such score)."""
    at = time.time() if now is None else now
    row = session.scalars(
        select(InspectionScore).where(InspectionScore.id == score_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise ScoreNotFound(score_id)
    state = next_state(row.state, action, role, actor, row.agent_id, new_score, row.max_score, note)
    session.add(
        InspectionReview(
            score_id=score_id,
            action=action,
            actor=actor,
            role=role,
            score=new_score,
            note=note.strip(),
            at=at,
        )
    )
    row.state = state
    if new_score is not None:
        row.final_score = new_score
    row.updated_at = at
    session.flush()
    return row


# --- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreQuery:
    agent: str | None = None
    since: float | None = None  # call time (the transcription job's creation)
    until: float | None = None
    state: str | None = None
    limit: int = 50
    offset: int = 0


def _conditions(q: ScoreQuery) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if q.agent is not None:
        out.append(InspectionScore.agent_id == q.agent)
    if q.since is not None:
        out.append(AsrJob.created_at >= q.since)
    if q.until is not None:
        out.append(AsrJob.created_at < q.until)
    if q.state is not None:
        out.append(InspectionScore.state == q.state)
    return out


def _summary(row: InspectionScore, call_at: float) -> dict[str, object]:
    return {
        "id": row.id,
        "call_id": row.call_id,
        "agent_id": row.agent_id,
        "call_at": call_at,
        "rules_version": row.rules_version,
        "score": row.score,
        "max_score": row.max_score,
        "final_score": row.final_score,
        "state": row.state,
        "scored_at": row.scored_at,
        "updated_at": row.updated_at,
    }


def list_scores(session: Session, q: ScoreQuery) -> dict[str, object]:
    """A page of scores, newest call first, and how many match."""
    base = select(InspectionScore, AsrJob.created_at).join(
        AsrJob, AsrJob.call_id == InspectionScore.call_id
    )
    query = base.where(*_conditions(q))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.execute(
        query.order_by(AsrJob.created_at.desc(), InspectionScore.id.desc())
        .limit(q.limit)
        .offset(q.offset)
    )
    return {"total": int(count), "scores": [_summary(r, at) for r, at in page]}


def score_detail(session: Session, score_id: int) -> dict[str, object] | None:
    """A score with its findings (evidence spans in clear: the API masks them) and reviews."""
    found = session.execute(
        select(InspectionScore, AsrJob.created_at)
        .join(AsrJob, AsrJob.call_id == InspectionScore.call_id)
        .where(InspectionScore.id == score_id)
    ).one_or_none()
    if found is None:
        return None
    row, call_at = found
    findings = session.scalars(
        select(InspectionFinding)
        .where(InspectionFinding.score_id == score_id)
        .order_by(InspectionFinding.id)
    )
    reviews = session.scalars(
        select(InspectionReview)
        .where(InspectionReview.score_id == score_id)
        .order_by(InspectionReview.id)
    )
    return {
        **_summary(row, call_at),
        "findings": [
            {
                "rule": f.rule,
                "passed": bool(f.passed),
                "points": f.points,
                "speaker": f.speaker,
                "start": f.start,
                "end": f.end,
                "evidence": f.evidence,
            }
            for f in findings
        ],
        "reviews": [
            {
                "action": r.action,
                "actor": r.actor,
                "role": r.role,
                "score": r.score,
                "note": r.note,
                "at": r.at,
            }
            for r in reviews
        ],
    }


def agent_summary(session: Session, q: ScoreQuery) -> list[dict[str, object]]:
    """Per agent: calls scored, average and lowest final score, disputes open, and how many
    calls failed each rule; by agent id."""
    base = (
        select(
            InspectionScore.agent_id,
            func.count(),
            func.avg(InspectionScore.final_score),
            func.min(InspectionScore.final_score),
            func.sum(case((InspectionScore.state == "disputed", 1), else_=0)),
        )
        .join(AsrJob, AsrJob.call_id == InspectionScore.call_id)
        .group_by(InspectionScore.agent_id)
        .order_by(InspectionScore.agent_id)
    )
    out: dict[str, dict[str, object]] = {}
    for agent, calls, avg, low, disputed in session.execute(base.where(*_conditions(q))):
        out[agent] = {
            "agent_id": agent,
            "calls": int(calls),
            "average": round(float(avg), 2),
            "lowest": float(low),
            "disputed": int(disputed or 0),
            "failed": {},
        }
    failed = (
        select(
            InspectionScore.agent_id,
            InspectionFinding.rule,
            func.count(func.distinct(InspectionFinding.score_id)),
        )
        .join(InspectionFinding, InspectionFinding.score_id == InspectionScore.id)
        .join(AsrJob, AsrJob.call_id == InspectionScore.call_id)
        .where(InspectionFinding.passed == 0)
        .group_by(InspectionScore.agent_id, InspectionFinding.rule)
    )
    for agent, rule, calls in session.execute(failed.where(*_conditions(q))):
        if agent in out:
            counts: dict[str, int] = out[agent]["failed"]  # type: ignore[assignment]
            counts[rule] = int(calls)
    return list(out.values())


def scores_of_calls(session: Session, call_ids: Iterable[str]) -> list[InspectionScore]:
    return list(
        session.scalars(
            select(InspectionScore)
            .where(InspectionScore.call_id.in_(list(call_ids)))
            .order_by(InspectionScore.id)
        )
    )


__all__ = [
    "ReviewRefused",
    "ScoreNotFound",
    "ScoreQuery",
    "add_review",
    "agent_summary",
    "due_calls",
    "list_scores",
    "load_facts",
    "save_score",
    "save_scores",
    "score_detail",
    "scores_of_calls",
]
