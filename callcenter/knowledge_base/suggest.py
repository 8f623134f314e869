"""Suggestions for the agent while the caller speaks: the entries in force that best match
what the caller has said so far, with the words they matched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from callcenter.knowledge_base.search import Hit, query_words, rank

MIN_COVERAGE = 0.1  # below this an entry matched only a stray word of a long call


def suggest(session: Session, text: str, now: float, limit: int = 5) -> list[Hit]:
    """The best `limit` entries for the call's text so far (the caller's segments)."""
    hits = rank(session, query_words(text), now, limit)
    return [h for h in hits if h.coverage >= MIN_COVERAGE]


def caller_text(view: Mapping[str, Any]) -> str:
    """What the caller said, from a live-transcript view (`LiveTranscription.view`): the
    final segments in time order, then the partial result being recognized."""
    said = [
        str(s.get("text", ""))
        for s in view.get("segments", ())
        if isinstance(s, Mapping) and s.get("speaker") == "caller"
    ]
    current = view.get("current", {})
    if isinstance(current, Mapping) and current.get("caller"):
        said.append(str(current["caller"]))
    return "。".join(t for t in said if t)
