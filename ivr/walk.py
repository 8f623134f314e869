"""Simulate a caller: `walk(config, did, digits, at)` runs the DID's flow without a PBX.

`digits` are pressed in order, one menu entry at a time (a menu with `max_digits = 2` takes two
of them); "t" means "no input here" (the menu times out). A shorter entry followed by "t" is an
entry that ended by the inter-digit timeout. Spaces, commas and dashes are ignored. The clock
does not move: every step happens at `at`. Backs `callcenter ivr test`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr.flow import (
    Choice,
    Digits,
    IvrAction,
    IvrSession,
    Outcome,
    Play,
    PromptDone,
    RouteToQueue,
    Timeout,
    Waiting,
)
from ivr.model import DTMF_DIGITS, IvrConfig

TIMEOUT_MARK = "t"
IGNORED = " ,-"


@dataclass(frozen=True)
class Walk:
    did: str
    entry: str  # the entry key used: the DID itself or "default"
    flow: str
    path: tuple[str, ...]  # menus visited and digits accepted
    prompts: tuple[str, ...]  # prompt ids in the order they were played
    choices: tuple[Choice, ...]
    visited: tuple[str, ...]
    outcome: Outcome | None  # None: the digits ran out while a menu waited
    waiting_at: str = ""  # that menu
    unused: str = ""  # digits left when the call had already ended

    def lines(self, config: IvrConfig) -> list[str]:
        """A readable account for the command line."""
        out = [f"DID {self.did} -> entry {self.entry} -> flow {self.flow}"]
        for pid in self.prompts:
            prompt = config.prompts.get(pid)
            out.append(f"  play {pid}: {prompt.text if prompt else '?'}")
        for c in self.choices:
            said = f" {c.digits!r}" if c.digits else ""
            out.append(f"  {c.node}: {c.outcome}{said} -> {c.target}")
        out.append(f"path: {' > '.join(self.path) or '(none)'}")
        if isinstance(self.outcome, RouteToQueue):
            o = self.outcome
            out.append(f"outcome: queue skill={o.skill} priority=+{o.priority} ivr_path={o.path}")
        elif self.outcome is not None:
            out.append(f"outcome: hangup reason={self.outcome.reason}")
        else:
            out.append(f"outcome: still waiting for input at {self.waiting_at}")
        if self.unused:
            out.append(f"unused digits: {self.unused}")
        return out


def walk(config: IvrConfig, did: str, digits: str, at: datetime, number_skill: str = "") -> Walk:
    """Run the flow of `did` (or the default entry) with `digits`; `at` must be aware.
    `number_skill` is the DID's own skill (numbers.toml) for routes that name none."""
    keys = "".join(c for c in digits if c not in IGNORED)
    bad = sorted({c for c in keys if c not in DTMF_DIGITS + TIMEOUT_MARK})
    if bad:
        raise ValueError(f"digits may be 0-9, *, # and t (timeout), got {''.join(bad)!r}")
    entry, flow = config.entry_for(did)
    session = IvrSession(flow, at, number_skill)
    prompts: list[str] = []

    def heard(actions: list[IvrAction]) -> None:
        for a in actions:
            if isinstance(a, Play):
                prompts.extend(a.prompt_ids)

    heard(session.start(at))
    i = 0
    while not session.done:
        if session.waiting is Waiting.PROMPT:
            heard(session.handle(PromptDone(), at))
            continue
        if i >= len(keys):
            break
        if keys[i] == TIMEOUT_MARK:
            i += 1
            heard(session.handle(Timeout(), at))
            continue
        assert session.collect is not None
        chunk = ""
        while i < len(keys) and keys[i] != TIMEOUT_MARK and len(chunk) < session.collect.max_digits:
            chunk += keys[i]
            i += 1
        if len(chunk) < session.collect.max_digits and i < len(keys):
            i += 1  # the "t" that ended a short entry
        heard(session.handle(Digits(chunk), at))
    return Walk(
        did=did,
        entry=entry,
        flow=flow.id,
        path=session.path,
        prompts=tuple(prompts),
        choices=session.choices,
        visited=session.visited,
        outcome=session.outcome,
        waiting_at="" if session.done else session.current,
        unused=keys[i:] if session.done else "",
    )
