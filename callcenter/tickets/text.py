"""Chinese text segmentation with jieba: one private tokenizer, initialised once, quietly.

The knowledge base's terms are added to the tokenizer's dictionary so that multi-character
terms (占道经营, 异地就医) come out as single tokens. Segmentation uses the dictionary only
(no HMM guessing of new words), so the same text always gives the same tokens.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jieba

_lock = threading.Lock()
_tokenizer: Any = None
_added: set[str] = set()


def _get() -> Any:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _tokenizer = tokenizer
        return _tokenizer


def warm() -> None:
    """Load the dictionary now (blocking, about a second of CPU that holds the interpreter):
    the engine does it before it takes calls, not when the first call's ticket is made."""
    _get()


def add_words(words: Iterable[str]) -> None:
    """Make each term one token (idempotent; terms already added are skipped)."""
    tokenizer = _get()
    with _lock:
        for word in words:
            term = normalize(word)
            if term and term not in _added:
                tokenizer.add_word(term)
                _added.add(term)


def normalize(text: str) -> str:
    """Full-width to half-width (NFKC) and lower case, so 'ＫＴＶ' matches 'ktv'."""
    return unicodedata.normalize("NFKC", text).lower()


@dataclass(frozen=True)
class Token:
    word: str
    start: int
    end: int


def tokens(text: str) -> list[Token]:
    """Tokens of the normalized text with their offsets (punctuation and spaces included)."""
    tokenizer = _get()
    return [Token(w, s, e) for w, s, e in tokenizer.tokenize(normalize(text), HMM=False)]


def is_content(word: str) -> bool:
    """Not only punctuation, symbols or whitespace."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in word)


def content_words(text: str, stop_words: frozenset[str]) -> list[str]:
    """The words that carry meaning: no punctuation, no stop words."""
    return [t.word for t in tokens(text) if is_content(t.word) and t.word not in stop_words]


def search_words(text: str, index: bool = True) -> list[str]:
    """Words for full-text search. For an index, jieba's search mode also yields the shorter
    words inside long ones (拖欠工资 -> 拖欠, 工资, 拖欠工资); a query is cut plainly."""
    tokenizer = _get()
    mode = "search" if index else "default"
    found = tokenizer.tokenize(normalize(text), mode=mode, HMM=False)
    return [w for w, _, _ in found if is_content(w)]
