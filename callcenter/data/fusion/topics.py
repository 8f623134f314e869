"""Topic libraries (GB/T 44192 6.3): every ticket filed under a government function (政府职能),
a problem domain (问题领域) and a request category (诉求类别), in `ticket_topics`.

- function: `ref_departments.function` of the ticket's department (inherited from the parent
  department when empty), else `FALLBACK_FUNCTIONS` for the departments of
  config/departments.toml; 未派单 before dispatch, 未归类 for a department nobody mapped.
- domain: the name of the classifier's topic (config/knowledge.toml [[topic]] `id` -> `name`,
  e.g. water_supply -> 供水停水); 未分类 when the classifier matched nothing.
- category: the request type (咨询, 求助, 投诉, 举报, 意见建议); 未分类 when empty, 其他 when it
  is not in the dictionary (a `code.dictionary` defect).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, func, select
from sqlalchemy.orm import Session

from callcenter.storage.schema import RefDepartment, Ticket, TicketTopic
from callcenter.tickets.knowledge import REQUEST_TYPES
from callcenter.tickets.settings import TicketSettings

FUNCTION = "function"
DOMAIN = "domain"
CATEGORY = "category"
LIBRARIES = (FUNCTION, DOMAIN, CATEGORY)
LIBRARY_LABELS = {FUNCTION: "政府职能", DOMAIN: "问题领域", CATEGORY: "诉求类别"}

NOT_DISPATCHED = "未派单"
UNMAPPED = "未归类"
UNCLASSIFIED = "未分类"
OTHER = "其他"

# The five government functions, for the departments of config/departments.toml when the
# imported directory (ref_departments) does not say.
FALLBACK_FUNCTIONS: Mapping[str, str] = {
    "center": "综合协调",
    "water": "公共服务",
    "power": "公共服务",
    "gas": "公共服务",
    "heating": "公共服务",
    "municipal": "公共服务",
    "transport": "公共服务",
    "education": "公共服务",
    "health": "公共服务",
    "medical_insurance": "公共服务",
    "labor": "公共服务",
    "housing": "公共服务",
    "environment": "生态环境保护",
    "market": "市场监管",
    "traffic_police": "社会管理",
    "public_security": "社会管理",
    "urban_management": "社会管理",
    "civil_affairs": "社会管理",
    "tax": "经济调节",
}


@dataclass(frozen=True)
class Vocabulary:
    """What the libraries' terms come from."""

    functions: Mapping[str, str]  # department code -> function
    topics: Mapping[str, str]  # classifier topic id -> name
    request_types: frozenset[str]

    def file(self, department: str | None, topic: str, request_type: str) -> tuple[str, str, str]:
        """The (function, domain, category) terms of one ticket."""
        dept = (department or "").strip()
        function = self.functions.get(dept, UNMAPPED) if dept else NOT_DISPATCHED
        domain = self.topics.get(topic, topic) if topic else UNCLASSIFIED
        kind = request_type.strip()
        category = (kind if kind in self.request_types else OTHER) if kind else UNCLASSIFIED
        return function[:64], domain[:64], category[:64]


def department_functions(
    directory: Iterable[tuple[str, str, str]], fallback: Mapping[str, str] = FALLBACK_FUNCTIONS
) -> dict[str, str]:
    """Department code -> function from (code, parent, function) rows of the directory: an
    empty function is inherited from the nearest parent that has one, else the fallback."""
    rows = {code: (parent, function.strip()) for code, parent, function in directory}
    out = dict(fallback)
    for code in rows:
        chain: list[str] = []
        at = code
        while at in rows and at not in chain:
            chain.append(at)
            at = rows[at][0]
        own = [rows[c][1] for c in chain if rows[c][1]]
        mapped = [fallback[c] for c in [*chain, at] if c in fallback]
        if own or mapped:
            out[code] = (own or mapped)[0]
    return out


def vocabulary(connection: Connection | Session, settings: TicketSettings) -> Vocabulary:
    """The vocabulary from the department directory in the store and the ticket settings."""
    directory = connection.execute(
        select(RefDepartment.code, RefDepartment.parent, RefDepartment.function)
    )
    kb = settings.knowledge
    return Vocabulary(
        functions=department_functions((c, p, f) for c, p, f in directory),
        topics={t.id: t.name for t in kb.topics},
        request_types=frozenset(REQUEST_TYPES) | frozenset(settings.deadlines.rules),
    )


# --- queries ---------------------------------------------------------------------------------


def _check_library(library: str) -> None:
    if library not in LIBRARIES:
        raise ValueError(f"unknown topic library {library!r} (libraries: {', '.join(LIBRARIES)})")


def library_terms(session: Session, library: str) -> list[dict[str, object]]:
    """A library's terms with how many tickets each holds, the largest first:
    [{"term": "公共服务", "tickets": 120}, ...]."""
    _check_library(library)
    count = func.count().label("n")
    rows = session.execute(
        select(TicketTopic.term, count)
        .where(TicketTopic.library == library)
        .group_by(TicketTopic.term)
        .order_by(count.desc(), TicketTopic.term)
    )
    return [{"term": term, "tickets": int(n)} for term, n in rows]


def term_tickets(
    session: Session,
    library: str,
    term: str,
    limit: int = 50,
    offset: int = 0,
    department: str | None = None,
) -> dict[str, object]:
    """The tickets filed under one term, newest first, a page at a time:
    {"library", "term", "total", "tickets": [{id, number, status, request_type, topic,
    department, title, created_at}]}; with `department`, only that department's tickets (a
    department sees its own, as in the tickets API). `title` is personal text (grade
    sensitive): the caller masks it by role."""
    _check_library(library)
    where: tuple[ColumnElement[bool], ...] = (
        TicketTopic.library == library,
        TicketTopic.term == term,
    )
    if department is not None:
        where += (Ticket.department == department,)
    total = (
        session.scalar(
            select(func.count())
            .select_from(TicketTopic)
            .join(Ticket, TicketTopic.ticket_id == Ticket.id)
            .where(*where)
        )
        or 0
    )
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.number,
            Ticket.status,
            Ticket.request_type,
            Ticket.topic,
            Ticket.department,
            Ticket.title,
            Ticket.created_at,
        )
        .join(TicketTopic, TicketTopic.ticket_id == Ticket.id)
        .where(*where)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    )
    return {
        "library": library,
        "term": term,
        "total": int(total),
        "tickets": [dict(row._mapping) for row in rows],
    }


__all__ = [
    "CATEGORY",
    "DOMAIN",
    "FALLBACK_FUNCTIONS",
    "FUNCTION",
    "LIBRARIES",
    "LIBRARY_LABELS",
    "Vocabulary",
    "department_functions",
    "library_terms",
    "term_tickets",
    "vocabulary",
]
