"""Data grades (GB/T 44192 8, 分类分级) and the kinds of value a field holds, for masking."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Grade(StrEnum):
    """How much harm a leak does, lowest first (see `rank`)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    SENSITIVE = "sensitive"
    CORE = "core"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def label(self) -> str:
        return _GRADE_LABELS[self]


_RANKS = {Grade.PUBLIC: 0, Grade.INTERNAL: 1, Grade.SENSITIVE: 2, Grade.CORE: 3}
_GRADE_LABELS = {
    Grade.PUBLIC: "公开",
    Grade.INTERNAL: "内部",
    Grade.SENSITIVE: "敏感个人信息",
    Grade.CORE: "核心",
}


class Kind(StrEnum):
    """What a field holds, which decides how it is masked."""

    PLAIN = "plain"
    PHONE = "phone"
    ID_CARD = "id_card"
    NAME = "name"
    ADDRESS = "address"
    TEXT = "text"  # free text that may contain phone or ID-card numbers
    USCC = "uscc"  # unified social credit code (GB 32100)
    SECRET = "secret"  # ciphertext or keyed hashes: never shown

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    Kind.PLAIN: "一般值",
    Kind.PHONE: "电话号码",
    Kind.ID_CARD: "身份证号",
    Kind.NAME: "姓名",
    Kind.ADDRESS: "地址",
    Kind.TEXT: "自由文本",
    Kind.USCC: "统一社会信用代码",
    Kind.SECRET: "密文或摘要",
}


def highest(grades: Iterable[Grade]) -> Grade:
    """The highest grade among these (PUBLIC when there are none)."""
    return max(grades, key=lambda g: g.rank, default=Grade.PUBLIC)
