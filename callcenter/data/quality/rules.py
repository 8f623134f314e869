"""Data-quality rules (GB/T 44192 6.2), pure: a ticket row (a mapping of its columns, the state
JSON already parsed) and a context (reference sets, the decryptor, today, earlier tickets) in,
problems out. No I/O: the runner loads what the context holds, once per run.

A rule has a `kind` (one function below) and the parameters that kind reads; config/quality.toml
declares them, so another center adds a rule of an existing kind on another field without code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from callcenter.data.checks import check_id_card, check_phone, check_uscc
from callcenter.masking import mask_id_card, mask_phone, mask_text

Row = Mapping[str, object]

DIMENSIONS = ("规范性", "完整性", "准确性", "一致性", "时效性", "可访问性")
KINDS = (
    "phone",
    "id_card",
    "uscc",
    "dictionary",
    "required",
    "reference",
    "order",
    "duplicate",
    "lag",
    "json_requires",
    "decryptable",
    "date",
)
SEVERITIES = ("error", "warning", "info")

FIELD_LABELS = {
    "caller_number": "来电号码",
    "caller_name": "来电人",
    "id_card": "身份证号码",
    "enterprise_code": "统一社会信用代码",
    "enterprise_name": "企业名称",
    "request_type": "诉求类型",
    "department": "承办单位",
    "content": "诉求内容",
    "title": "标题",
    "address": "地址",
    "grid": "网格",
    "created_at": "受理时间",
    "closed_at": "办结时间",
    "received_at": "接收时间",
    "updated_at": "更新时间",
    "deadline": "办理时限",
    "state": "工单状态",
    "status": "状态",
    "channel": "渠道",
    "topic": "主题",
    "first_stage_at": "最早办理环节时间",
    "call_arrived_at": "来电到达时间",
    "now": "检查时间",
}
STATE_LABELS = {"rating": "评价", "callback": "回访结果", "reply": "答复"}
JSON_COLUMNS = frozenset({"state"})  # a rule may name one of their keys: "state.reply"
# Times a rule may read besides the ticket's columns, which the runner derives per ticket:
# the earliest time in its history (any stage: acceptance, dispatch, reply, closing ...) and
# the time its call reached the hotline (calls.joined_at of its call_id; none without a call).
DERIVED = frozenset({"first_stage_at", "call_arrived_at"})
NOW = "now"  # a date rule's not_after: the run's own time (Context.now)
_TEXT_FIELDS = frozenset({"content", "title", "address", "caller_name", "enterprise_name"})
_TIME_FIELDS = frozenset(
    {"created_at", "closed_at", "received_at", "updated_at", "deadline", *DERIVED}
)


@dataclass(frozen=True)
class Rule:
    """One declared rule; only the parameters of its kind are meaningful."""

    id: str
    dimension: str
    kind: str
    field: str
    severity: str = "error"
    enabled: bool = True
    description: str = ""
    values: frozenset[str] = frozenset()  # dictionary
    allow_empty: bool = False  # phone, dictionary
    fields: tuple[str, ...] = ()  # required
    statuses: frozenset[str] = frozenset()  # required: empty = every stage
    table: str = ""  # reference
    column: str = ""  # reference
    other: str = ""  # order: not_before; lag: since; duplicate: time
    keys: tuple[str, ...] = ()  # duplicate
    seconds: float = 0.0  # duplicate: window; lag: max
    key: str = ""  # json_requires: the key present ...
    requires: str = ""  # ... implies this key present
    earliest: float = 0.0  # date: no time before this (epoch)
    # rule ids: this rule is not checked on a row where one of them found a problem (the
    # other problem explains this one, e.g. a received time typed years ahead makes every
    # stage look earlier than the receipt)
    unless: frozenset[str] = frozenset()

    @property
    def checked_fields(self) -> tuple[str, ...]:
        return self.fields if self.kind == "required" else (self.field,)


def column_of(name: str) -> str:
    """The column a field name reads: "state.reply" reads the JSON column "state"."""
    return name.partition(".")[0]


def value_of(row: Row, name: str) -> object:
    """A column's value, or with "column.key" that key of the (parsed) JSON column."""
    column, dot, key = name.partition(".")
    value = row.get(column)
    if not dot:
        return value
    return value.get(key) if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class Problem:
    rule: str
    dimension: str
    field: str
    message: str  # Chinese, for people
    value: str = ""  # masked


def _no_earlier(rule: Rule, row: Row) -> Iterable[Row]:
    return ()


def _no_decrypt(stored: str) -> str | None:
    return None


@dataclass(frozen=True)
class Context:
    """What rules may consult besides the row: `refs[(table, column)]` the codes of a
    reference table; `decrypt(stored)` the plaintext or None when it cannot be decrypted;
    `earlier(rule, row)` the tickets entered before this one with the same key fields;
    `now` the run's time (epoch) a date rule with not_after = "now" compares with (by default
    none: no time is in the future)."""

    refs: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    decrypt: Callable[[str], str | None] = _no_decrypt
    today: date = field(default_factory=date.today)
    earlier: Callable[[Rule, Row], Iterable[Row]] = _no_earlier
    now: float = float("inf")


# --- values as people see them --------------------------------------------------------------


def label(name: str) -> str:
    column, dot, key = name.partition(".")
    if dot:
        return STATE_LABELS.get(key, key) if column == "state" else name
    return FIELD_LABELS.get(name, name)


def masked(name: str, value: object) -> str:
    """A value fit for a report: phone and ID numbers masked, free text's numbers masked and
    cut short, times as dates."""
    if value is None:
        return ""
    if name == "caller_number":
        return mask_phone(str(value))
    if name == "id_card":
        return mask_id_card(str(value))
    if name == "caller_name":
        text = str(value).strip()
        return text[:1] + "*" * (len(text) - 1)
    if name in _TIME_FIELDS and isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    if name in _TEXT_FIELDS:
        text = mask_text(text)
        return text if len(text) <= 60 else text[:60] + "…"
    return text


def normalise_space(text: str) -> str:
    """Content compared for duplicates: every whitespace character removed (Chinese text has
    no word spaces, so a stray space or line break does not make a new request)."""
    return re.sub(r"\s+", "", text)


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


NONE: list[Problem] = []  # shared "no problem" (never mutated: callers extend, not append)


def _problem(rule: Rule, message: str, value: str = "", name: str = "") -> Problem:
    return Problem(rule.id, rule.dimension, name or rule.field, message, value)


# --- the kinds ------------------------------------------------------------------------------


# Columns that hold ciphertext (GB/T 44192 8.2): a rule decrypts them with the context's
# decryptor before it checks them (the run puts its decrypts on record).
ENCRYPTED = frozenset({"caller_number", "id_card"})


def _phone(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    value = _str(row.get(rule.field))
    if value and rule.field in ENCRYPTED:
        plain = ctx.decrypt(value)
        if plain is None:  # the decryptable kind reports it (可访问性), not this one
            return NONE
        value = plain
    if not value.strip() and rule.allow_empty:
        return NONE
    reason = check_phone(value)
    if not reason:
        return NONE
    return [_problem(rule, f"{label(rule.field)}不规范：{reason}", masked(rule.field, value))]


def _id_card(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    stored = _str(row.get(rule.field))
    if not stored:
        return NONE
    plain = ctx.decrypt(stored)
    if plain is None:  # the decryptable kind reports it (可访问性), not this one
        return NONE
    reason = check_id_card(plain, ctx.today)
    if not reason:
        return NONE
    return [_problem(rule, f"{label(rule.field)}校验不通过：{reason}", mask_id_card(plain))]


def _uscc(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    value = _str(row.get(rule.field))
    if not value.strip():
        return NONE
    reason = check_uscc(value)
    if not reason:
        return NONE
    return [_problem(rule, f"{label(rule.field)}校验不通过：{reason}", value)]


def _dictionary(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    value = _str(value_of(row, rule.field))
    if (not value.strip() and rule.allow_empty) or value in rule.values:
        return NONE
    shown = value or "（空）"
    return [_problem(rule, f"{label(rule.field)}“{shown}”不在代码字典中", value)]


def _required(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    if rule.statuses and _str(row.get("status")) not in rule.statuses:
        return NONE
    return [
        _problem(rule, f"{label(name)}缺失", "", name)
        for name in rule.fields
        if _empty(value_of(row, name))
    ]


def _reference(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    value = _str(row.get(rule.field))
    if not value.strip():
        return NONE  # unset is the required kind's business
    if value in ctx.refs.get((rule.table, rule.column), frozenset()):
        return NONE
    return [_problem(rule, f"{label(rule.field)}“{value}”不在参考数据 {rule.table} 中", value)]


def _order(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    later, earlier = _number(row.get(rule.field)), _number(row.get(rule.other))
    if later is None or earlier is None or later >= earlier:
        return NONE
    message = f"{label(rule.field)}早于{label(rule.other)}"
    return [_problem(rule, message, masked(rule.field, later))]


def _lag(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    later, earlier = _number(row.get(rule.field)), _number(row.get(rule.other))
    if later is None or earlier is None or later - earlier <= rule.seconds:
        return NONE
    message = (
        f"{label(rule.field)}晚于{label(rule.other)} {(later - earlier) / 3600:.1f} 小时"
        f"（上限 {rule.seconds / 3600:g} 小时）"
    )
    return [_problem(rule, message, masked(rule.field, later))]


def _date(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    """A time a person could have entered: a finite instant, not before `earliest`, not later
    than the row's `not_after` time by more than `ahead` seconds (a year typed wrong)."""
    value = row.get(rule.field)
    if value is None:
        return NONE  # unset is the required kind's business
    when = _number(value)
    if when is None or when != when or when in (float("inf"), float("-inf")):
        return [_problem(rule, f"{label(rule.field)}不是有效的时间", _str(value)[:40])]
    if when < rule.earliest:
        floor = datetime.fromtimestamp(rule.earliest, UTC).strftime("%Y-%m-%d")
        return [_problem(rule, f"{label(rule.field)}早于 {floor}", masked(rule.field, when))]
    if rule.other == NOW:
        bound: float | None = ctx.now
    else:
        bound = _number(row.get(rule.other)) if rule.other else None
    if bound is not None and when > bound + rule.seconds:
        message = (
            f"{label(rule.field)}晚于{label(rule.other)} {(when - bound) / 86400:.0f} 天"
            f"（最多 {_span(rule.seconds)}）"
        )
        return [_problem(rule, message, masked(rule.field, when))]
    return NONE


def _span(seconds: float) -> str:
    if seconds and seconds < 3600:
        return f"{seconds / 60:g} 分钟"
    return f"{seconds / 3600:g} 小时"


def _present(value: object) -> bool:
    return not _empty(value)


def _json_requires(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    doc = row.get(rule.field)
    if not isinstance(doc, Mapping):
        return NONE
    if not _present(doc.get(rule.key)) or _present(doc.get(rule.requires)):
        return NONE
    k, r = STATE_LABELS.get(rule.key, rule.key), STATE_LABELS.get(rule.requires, rule.requires)
    return [_problem(rule, f"有{k}但没有{r}", _str(doc.get(rule.key)))]


def _decryptable(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    stored = _str(row.get(rule.field))
    if not stored or ctx.decrypt(stored) is not None:
        return NONE
    kid = stored.partition(":")[0][:8]
    return [_problem(rule, f"{label(rule.field)}无法用已配置的密钥解密（密钥 {kid}）", "")]


def duplicate_key(rule: Rule, row: Row) -> tuple[str, ...]:
    return tuple(_str(row.get(k)) for k in rule.keys)


def is_duplicate(rule: Rule, row: Row, earlier: Row) -> bool:
    """`earlier` was entered before `row` (time, then id), with the same normalised field,
    within the window."""
    if duplicate_key(rule, earlier) != duplicate_key(rule, row):
        return False
    t, e = _number(row.get(rule.other)), _number(earlier.get(rule.other))
    if t is None or e is None:
        return False
    if (e, _order_id(earlier)) >= (t, _order_id(row)):
        return False
    if t - e > rule.seconds:
        return False
    text = normalise_space(_str(row.get(rule.field)))
    return text != "" and text == normalise_space(_str(earlier.get(rule.field)))


def _order_id(row: Row) -> int:
    value = row.get("id")
    return value if isinstance(value, int) else int(_str(value) or 0)


def _duplicate_problem(rule: Rule, row: Row, earlier: Row) -> Problem:
    t = _number(row.get(rule.other)) or 0.0
    e = _number(earlier.get(rule.other)) or 0.0
    return _problem(
        rule,
        f"重复录入：与工单 {_str(earlier.get('id'))} 的{label(rule.field)}相同，"
        f"间隔 {(t - e) / 3600:.1f} 小时",
        masked(rule.field, row.get(rule.field)),
    )


def _duplicate(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    for earlier in ctx.earlier(rule, row):
        if is_duplicate(rule, row, earlier):
            return [_duplicate_problem(rule, row, earlier)]
    return NONE


def scan_duplicates(rule: Rule, rows: Iterable[Row]) -> Iterator[tuple[object, Problem]]:
    """(row id, problem) of each duplicate, over rows sorted by the rule's keys, then time,
    then id: one pass, remembering per key group the last time each text was seen."""
    group: tuple[str, ...] | None = None
    seen: dict[str, Row] = {}
    for row in rows:
        key = duplicate_key(rule, row)
        if key != group:
            group, seen = key, {}
        text = normalise_space(_str(row.get(rule.field)))
        if not text or _number(row.get(rule.other)) is None:
            continue
        previous = seen.get(text)
        if previous is not None and is_duplicate(rule, row, previous):
            yield row.get("id"), _duplicate_problem(rule, row, previous)
        seen[text] = row


Check = Callable[[Rule, Row, Context], list[Problem]]
CHECKS: dict[str, Check] = {
    "phone": _phone,
    "id_card": _id_card,
    "uscc": _uscc,
    "dictionary": _dictionary,
    "required": _required,
    "reference": _reference,
    "order": _order,
    "duplicate": _duplicate,
    "lag": _lag,
    "json_requires": _json_requires,
    "decryptable": _decryptable,
    "date": _date,
}
assert set(CHECKS) == set(KINDS)


def check(rule: Rule, row: Row, ctx: Context) -> list[Problem]:
    """The problems one rule finds in one row (none when the rule is disabled)."""
    if not rule.enabled:
        return []
    return list(CHECKS[rule.kind](rule, row, ctx))  # a copy: NONE is shared


def in_order(rules: Iterable[Rule]) -> list[Rule]:
    """The rules in the order a row is checked: those with `unless` after the rest, so the
    problems they defer to are known when they run."""
    return sorted(rules, key=lambda r: bool(r.unless))


def deferred(rule: Rule, problems: Iterable[Problem]) -> bool:
    """Whether the rule is not checked because a rule it names in `unless` found a problem."""
    return bool(rule.unless) and any(p.rule in rule.unless for p in problems)


def check_all(rules: Iterable[Rule], row: Row, ctx: Context) -> list[Problem]:
    problems: list[Problem] = []
    for rule in in_order(rules):
        if not deferred(rule, problems):
            problems.extend(check(rule, row, ctx))
    return problems
