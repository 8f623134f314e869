"""A call's story from the decision log and its record, in plain English, with times relative
to its arrival; it ends with the answer to "why did this caller wait N s while an agent was
free?" when it waited. Used by `callcenter explain CALL_ID` and GET /api/calls/{id}/explain."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.decisions.log import Record, log_files

# Context records of other calls and of the whole center that may explain this call's wait.
_CONTEXT_KINDS = ("offer", "held", "released", "dropped", "agent")
# Reasons an agent may look free on the wallboard while it cannot take the caller.
_LOOKS_FREE = ("no_skill", "proficiency", "backing_off", "unreachable", "held")
_LEAVE = {
    "abandoned": "the caller hung up",
    "timeout": "the longest wait (max_wait) was reached",
    "overflow": "the longest wait (max_wait) was reached: sent to the overflow target",
    "no_agents": "no logged-in agent could ever take it",
    "fallback": "the dialplan's fallback route took it (engine unreachable)",
    "callback": "it left the queue for a callback attempt",
}
_CAUSE = {
    "no_answer": "the offer timeout was reached",
    "caller_hung_up": "the caller hung up",
    "caller_withdrawn": "the caller left by another route",
    "callback_accepted": "the caller chose a callback",
    "answered_by_another_agent": "another agent answered first",
    "agent_unreachable": "the agent's phone became unreachable",
    "agent_paused": "the agent went on a break",
    "agent_logged_out": "the agent logged out",
    "max_wait": "the longest wait was reached",
}


@dataclass(frozen=True)
class CallFacts:
    """What the calls table keeps of a call (the number already masked)."""

    call_id: str
    hotline: str
    did: str
    caller: str
    region: str
    skill: str
    priority: int
    joined_at: float
    left_at: float | None = None
    leave_reason: str | None = None
    waited: float | None = None
    agent_id: str | None = None
    ended_at: float | None = None
    talk_seconds: float | None = None


@dataclass
class Story:
    call_id: str
    origin: float
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds from arrival, text)
    answer: list[str] = field(default_factory=list)
    question: str = ""
    header: list[str] = field(default_factory=list)

    def text(self) -> str:
        out = list(self.header)
        out += [f"{_rel(t):>9}  {line}" for t, line in self.lines]
        if self.question:
            out.append("")
            out.append(self.question)
            out += [f"  - {a}" for a in self.answer]
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "arrived_at": self.origin,
            "header": self.header,
            "lines": [{"t": round(t, 3), "text": text} for t, text in self.lines],
            "question": self.question,
            "answer": self.answer,
        }


def _rel(seconds: float) -> str:
    return f"{'-' if seconds < 0 else '+'}{abs(seconds):.1f}s"


# --- reading ---------------------------------------------------------------------------------


def gather(
    directory: Path, call_id: str, zone: ZoneInfo, around: tuple[float, float] | None = None
) -> tuple[list[Record], list[Record]]:
    """The call's own records, and the context records (offers to other callers, routing
    held, drops) of the time it was queued. `around` (from the call's record) picks the days'
    files to read; without it every file is read."""
    files = log_files(directory)
    if around is not None:
        first = datetime.fromtimestamp(around[0], zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(around[1], zone).date() + timedelta(days=1)
        files = [(day, path) for day, path in files if first <= day <= last]
    needle = f'"call":{json.dumps(call_id, ensure_ascii=False)}'
    kinds = tuple(f'"kind":"{k}"' for k in _CONTEXT_KINDS)
    own: list[Record] = []
    context: list[Record] = []
    for _, path in files:
        with path.open(encoding="utf-8") as f:
            for line in f:
                mine = needle in line
                if not mine and not any(k in line for k in kinds):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                if record.get("call") == call_id:
                    own.append(record)
                elif not mine:
                    context.append(record)
    if own:
        start = min(_f(r, "at") for r in own)
        end = max(_f(r, "at") for r in own)
        # each agent's last state before the call, then every change while it was queued
        before: dict[str, Record] = {}
        kept: list[Record] = []
        for r in context:
            at = _f(r, "at")
            if r.get("kind") == "agent" and at < start:
                before[str(r.get("agent"))] = r
            elif start - 600 <= at <= end:
                kept.append(r)
        context = sorted([*before.values(), *kept], key=lambda r: _f(r, "at"))
    return own, context


def _f(record: Record, key: str, default: float = 0.0) -> float:
    value = record.get(key, default)
    return float(value) if isinstance(value, int | float) else default


def _agents(record: Record, key: str = "agents") -> list[str]:
    value = record.get(key, [])
    return [str(x) for x in value] if isinstance(value, list) else []


# --- telling ---------------------------------------------------------------------------------


def tell(
    call_id: str,
    own: list[Record],
    context: Iterable[Record],
    facts: CallFacts | None = None,
    agent_skills: Mapping[str, Mapping[str, int]] | None = None,
    zone: ZoneInfo | None = None,
) -> Story:
    """The story of one call; `own` non-empty or `facts` given (else there is nothing).
    `agent_skills` (agent -> skill -> proficiency, from the config) lets the answer name the
    agents who were free but had none of the caller's skills."""
    arrival = next((r for r in own if r.get("kind") == "arrival"), None)
    if arrival is not None:
        origin = _f(arrival, "arrived", _f(arrival, "at"))
    elif facts is not None:
        origin = facts.joined_at
    else:
        origin = min(_f(r, "at") for r in own)
    story = Story(call_id, origin)
    story.header = _header(call_id, facts, zone)
    if not own:
        story.header.append("(the decision log has no record of this call)")
        return story
    end = max(_f(r, "at") for r in own)
    held_from: float | None = None
    events: list[Record] = sorted(
        [*own, *(r for r in context if r.get("kind") in ("held", "released", "dropped"))],
        key=lambda r: _f(r, "at"),
    )
    for r in events:
        at = _f(r, "at")
        kind = r.get("kind")
        if kind == "held":
            if origin - 600 <= at <= end:
                held_from = at
            continue
        if kind == "released":
            if held_from is not None and at >= origin:
                start = max(held_from, origin)
                story.lines.append(
                    (start - origin, "routing held while the queue was restored from the PBX")
                )
                story.lines.append((at - origin, "routing resumed"))
            held_from = None
            continue
        if kind == "dropped":
            if origin <= at <= end:
                story.lines.append(
                    (
                        at - origin,
                        f"the decision log lost {r.get('count')} records here (writer queue "
                        "full): this story may have a gap",
                    )
                )
            continue
        text = _line(r, origin)
        if text:
            story.lines.append((at - origin, text))
    _answer(story, own, list(context), origin, agent_skills or {})
    return story


def _header(call_id: str, facts: CallFacts | None, zone: ZoneInfo | None) -> list[str]:
    if facts is None:
        return [f"call {call_id} (no record in the calls table)"]
    joined = datetime.fromtimestamp(facts.joined_at, zone)  # the center's time (else local)
    when = (joined if zone is not None else joined.astimezone()).isoformat(timespec="seconds")
    head = [
        f"call {call_id}: {facts.hotline} (number {facts.did}), caller {facts.caller or 'hidden'}"
        + (f", region {facts.region}" if facts.region else ""),
        f"joined {when}, skill {facts.skill}, priority {facts.priority}",
    ]
    if facts.agent_id:
        talk = f", talked {facts.talk_seconds:.0f}s" if facts.talk_seconds is not None else ""
        head.append(f"answered by {facts.agent_id} after {facts.waited or 0:.1f}s{talk}")
    elif facts.leave_reason:
        head.append(f"left ({facts.leave_reason}) after {facts.waited or 0:.1f}s")
    return head


def _key_text(strategy: str, key: list[Any], origin: float) -> str:
    k = [float(x) for x in key if isinstance(x, int | float)]
    if not k:
        return "no key"
    if strategy in ("longest_idle", "ring_all"):
        return f"idle since {_rel(k[0] - origin)}"
    if strategy == "fewest_calls" and len(k) > 1:
        return f"{k[0]:.0f} calls, idle since {_rel(k[1] - origin)}"
    if strategy == "least_talk_time" and len(k) > 1:
        return f"talked {k[0]:.0f}s, idle since {_rel(k[1] - origin)}"
    if strategy == "round_robin":
        return f"last offered as offer #{k[0]:.0f}"
    if strategy == "random":
        return f"random draw {k[0]:.3f}"
    return "key " + ", ".join(f"{x:g}" for x in k)


def _why_text(item: Record, skills: list[str], origin: float) -> str:
    agent = item.get("agent", "?")
    why = item.get("why", "")
    detail = item.get("detail", "")
    until = item.get("until")
    till = f" until {_rel(float(until) - origin)}" if isinstance(until, int | float) else ""
    if why == "on_break":
        return f"{agent} on break ({detail or 'no reason given'}){till}"
    if why == "ringing":
        return f"{agent} ringing for another caller ({detail})"
    if why == "on_call":
        return f"{agent} on a call"
    if why == "wrap_up":
        return f"{agent} in wrap-up{till}"
    if why == "backing_off":
        return f"{agent} skipped after a ring it did not take{till}"
    if why == "unreachable":
        return f"{agent}'s phone unreachable"
    if why == "no_skill":
        return f"{agent} free but without skill {' or '.join(skills)}"
    if why == "proficiency":
        return f"{agent} proficiency too low ({detail})"
    if why == "held":
        return f"{agent} free, but routing held while the queue was restored"
    return f"{agent} {why}"


def _line(r: Record, origin: float) -> str:
    kind = r.get("kind")
    if kind == "arrival":
        text = f"arrived: skill {r.get('skill')}, priority {r.get('priority')}"
        sources = r.get("priority_from") or []
        if sources:
            text += " (" + ", ".join(f"{name} {int(b):+d}" for name, b in sources) + ")"
        if r.get("callback"):
            text += "; a queued callback (keeps its place)"
        return text
    if kind == "offer":
        return _offer_line(r, origin)
    if kind == "not_offered":
        skills = _agents(r, "skills")
        items = [x for x in r.get("agents", []) if isinstance(x, dict)]
        if not items:
            return f"could not be offered: no agent with skill {' or '.join(skills)} logged in"
        text = "could not be offered: " + "; ".join(_why_text(x, skills, origin) for x in items)
        if r.get("more"):
            text += f"; {r.get('more')} more agents not listed"
        return text
    if kind == "ring_ended":
        agent, outcome = r.get("agent"), r.get("outcome")
        ring = f" (rang {_f(r, 'ring'):.1f}s)" if "ring" in r else ""
        sip = f", SIP {r.get('sip')}" if r.get("sip") else ""
        words = {
            "no_answer": "did not answer",
            "refused": "refused the call",
            "failed": "could not be rung",
            "unreachable": "could not be reached",
            "cancelled": "was no longer rung (the offer was withdrawn)",
            "caller_gone": "was no longer rung (the caller had gone)",
        }
        return f"{agent} {words.get(str(outcome), str(outcome))}{ring}{sip}"
    if kind == "cancel":
        cause = str(r.get("cause", ""))
        return f"ring to {', '.join(_agents(r))} cancelled: {_CAUSE.get(cause, cause)}"
    if kind == "requeue":
        return f"back in the queue at position {r.get('position')}"
    if kind == "widen":
        text = f"widened (step {r.get('step')}): now skills {', '.join(_agents(r, 'skills'))}"
        if "min_prof" in r:
            text += f", proficiency {r.get('min_prof')} or more"
        return text
    if kind == "priority":
        return f"priority changed to {r.get('priority')}"
    if kind == "connect":
        return (
            f"answered by {r.get('agent')} after waiting {_f(r, 'waited'):.1f}s "
            f"(rang {_f(r, 'ring'):.1f}s)"
        )
    if kind == "leave":
        reason = str(r.get("reason", ""))
        if reason == "answered":
            return ""
        return (
            f"left the queue after {_f(r, 'waited'):.1f}s at position {r.get('position')}: "
            f"{_LEAVE.get(reason, reason)}"
        )
    if kind == "overflow":
        return f"sent to {r.get('target') or 'the timeout route'} ({r.get('reason')})"
    if kind == "finish":
        return f"call finished: {r.get('agent')} talked {_f(r, 'talk'):.0f}s"
    if kind == "transfer":
        to = f", to {r.get('to_agent')} first" if r.get("to_agent") else ""
        return (
            f"transferred by {r.get('agent')} after {_f(r, 'talk'):.0f}s to skill "
            f"{r.get('skill')}{to}: waits again in its original place"
        )
    return ""


def _offer_line(r: Record, origin: float) -> str:
    chosen = _agents(r)
    strategy = str(r.get("strategy", ""))
    candidates = [x for x in r.get("candidates", []) if isinstance(x, dict)]
    considered = int(_f(r, "considered"))
    described = [
        f"{x.get('agent')} (skill {x.get('skill')} {x.get('prof')}, "
        f"{_key_text(strategy, x.get('key', []), origin)})"
        for x in candidates
    ]
    if len(chosen) > 1:
        return f"offered to {', '.join(chosen)} together ({strategy}: ring all idle agents)"
    text = f"offered to {chosen[0] if chosen else '?'}"
    if not candidates:
        return text + f" ({strategy})"
    best = candidates[0].get("agent")
    if considered <= 1:
        text += f": the only idle agent who could take it, {described[0]}"
    elif best in chosen:
        text += (
            f": best of {considered} idle agents by highest proficiency, then {strategy}: "
            + "; ".join(described)
        )
    else:
        text += (
            f": it became free and this was the first caller in the queue it could serve "
            f"(idle agents by {strategy}: " + "; ".join(described) + ")"
        )
    return text


def _free_spans(context: list[Record], start: float, end: float) -> dict[str, list[float]]:
    """Agent -> the moments (from `start`, before `end`) it became free: available and idle
    (what the wallboard shows as free)."""
    state: dict[str, bool] = {}
    spans: dict[str, list[float]] = {}
    for r in context:
        if r.get("kind") != "agent":
            continue
        agent, at = str(r.get("agent")), _f(r, "at")
        free = r.get("status") == "available" and r.get("state") == "idle"
        if free and not state.get(agent) and at < end:
            spans.setdefault(agent, []).append(max(at, start))
        state[agent] = free
    return spans


def _caller_skills(own: list[Record]) -> set[str]:
    skills: set[str] = set()
    for r in own:
        if r.get("kind") == "arrival":
            skills.add(str(r.get("skill")))
        elif r.get("kind") == "widen":
            skills.update(_agents(r, "skills"))
    return skills


def _answer(
    story: Story,
    own: list[Record],
    context: list[Record],
    origin: float,
    agent_skills: Mapping[str, Mapping[str, int]],
) -> None:
    """Why the caller waited while an agent was (or looked) free."""
    done = next((r for r in own if r.get("kind") in ("connect", "leave")), None)
    end = _f(done, "at") if done is not None else max(_f(r, "at") for r in own)
    waited = end - origin
    offers = [r for r in own if r.get("kind") == "offer"]
    first = _f(offers[0], "at") - origin if offers else None
    state = "" if done is not None else " so far (still queued when the log ends)"
    story.question = f"Why did this caller wait {waited:.1f}s{state} while an agent was free?"
    answer = story.answer
    at_once = first is not None and first < 1.0 and len(offers) == 1
    if at_once and done is not None and done.get("kind") == "connect":
        answer.append(
            f"It did not wait for an agent: offered to {', '.join(_agents(offers[0]))} at "
            f"{_rel(first or 0.0)}; the rest was ringing until the answer."
        )
        return
    # agents that looked free, and why they could not take it
    looked: dict[str, tuple[float, Record]] = {}
    skilled: set[str] = set()
    last_busy: Record | None = None
    for r in own:
        if r.get("kind") == "offer":
            skilled.update(str(x.get("agent")) for x in r.get("candidates", []))
        if r.get("kind") != "not_offered":
            continue
        last_busy = r
        for item in r.get("agents", []):
            agent = str(item.get("agent"))
            if item.get("why") in _LOOKS_FREE and agent not in looked:
                looked[agent] = (_f(r, "at"), {**item, "_skills": r.get("skills", [])})
            if item.get("why") not in ("no_skill", "proficiency"):
                skilled.add(agent)
    for agent, (at, item) in sorted(looked.items(), key=lambda x: x[1][0]):
        skills = [str(s) for s in item.get("_skills", [])]
        why = item.get("why")
        if why == "no_skill":
            answer.append(
                f"{agent} looked free (from {_rel(at - origin)}) but has none of this caller's "
                f"skills ({', '.join(skills)})."
            )
        elif why == "proficiency":
            answer.append(
                f"{agent} looked free but its proficiency is below what the caller needed "
                f"({item.get('detail')})."
            )
        elif why == "backing_off":
            until = item.get("until")
            till = f" until {_rel(float(until) - origin)}" if isinstance(until, int | float) else ""
            answer.append(
                f"{agent} looked idle but was skipped after a ring it did not take{till}."
            )
        elif why == "unreachable":
            answer.append(f"{agent} looked idle but its phone was unreachable.")
        elif why == "held":
            answer.append(
                f"{agent} was free, but routing was held while the queue was restored from "
                "the PBX after a (re)connect."
            )
    # agents free on the wallboard who have none of the caller's skills
    wanted = _caller_skills(own)
    unskilled = [
        (agent, moments[0])
        for agent, moments in sorted(_free_spans(context, origin, end).items())
        if agent in agent_skills
        and agent not in looked
        and not any(agent_skills[agent].get(s, 0) for s in wanted)
    ]
    for agent, since in unskilled[:5]:
        answer.append(
            f"{agent} was free (from {_rel(since - origin)}) but has none of this caller's "
            f"skills ({', '.join(sorted(wanted))})."
        )
    if len(unskilled) > 5:
        answer.append(f"{len(unskilled) - 5} more agents were free without those skills.")
    # agents with the skill who were given to another caller meanwhile
    for r in context:
        if r.get("kind") != "offer" or not origin <= _f(r, "at") < end:
            continue
        for agent in _agents(r):
            if agent in skilled:
                answer.append(
                    f"{agent} became free at {_rel(_f(r, 'at') - origin)} and was offered "
                    f"caller {r.get('call')} first, who was ahead in the queue (higher priority "
                    "or earlier arrival)."
                )
    for r in own:
        if r.get("kind") == "ring_ended" and r.get("outcome") in ("no_answer", "refused", "failed"):
            ring = f" for {_f(r, 'ring'):.1f}s" if "ring" in r else ""
            words = "did not answer" if r.get("outcome") == "no_answer" else "did not take it"
            answer.append(
                f"{r.get('agent')} was rung{ring} at {_rel(_f(r, 'at') - _f(r, 'ring') - origin)}"
                f" and {words}; the caller went back to the queue."
            )
    if any(line.startswith("routing held") for _, line in story.lines):
        answer.append("Routing was held while the queue was restored from the PBX.")
    if not answer:
        if last_busy is not None:
            skills = [str(s) for s in last_busy.get("skills", [])]
            busy = [
                _why_text(x, skills, origin)
                for x in last_busy.get("agents", [])
                if x.get("why") not in _LOOKS_FREE
            ]
            answer.append(
                "No agent who could take this caller was free while it waited"
                + (": " + "; ".join(busy) + "." if busy else ".")
            )
        else:
            answer.append("No agent who could take this caller was free while it waited.")
