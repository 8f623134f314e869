"""The early-warning engine: each incoming ticket (and call) through every detector, in time
order, giving `Finding`s that `store.save` keeps (one warning per `key`, updated as the event
grows).

The engine is plain in-memory state: the live service warms it with the last weeks of tickets
(`warm`) and then feeds each new ticket (`observe`); an evaluation replays a whole year."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from callcenter.alerts.cluster import (
    Group,
    Request,
    SimilarGroups,
    place_of,
    signature,
    words_of,
)
from callcenter.alerts.lexicon import scan
from callcenter.alerts.repeat import DAY, RepeatCallers
from callcenter.alerts.settings import AlertSettings
from callcenter.alerts.surge import Cell, Check, SurgeDetector, cells_of
from ivr.workdays import DayCalendar

LEVELS = ("blue", "yellow", "orange", "red")
KINDS = ("surge", "call_surge", "cluster", "sensitive", "group", "repeat_caller", "repeat_problem")
MAX_IDS = 500  # ticket ids kept in one warning's evidence


@dataclass(frozen=True)
class TicketFacts:
    """What the detectors read of a ticket."""

    id: int
    at: float  # created_at: when it reached the center's system
    caller: str  # who called: any key equal for one number (storage: its blind index)
    grid: str  # DDDDDDSSSGGG: district, street, grid
    topic: str
    title: str
    content: str
    search_text: str = ""  # the ticket's segmented words, when the store has them
    caller_shown: str = ""  # the number masked (138****5678) for a warning's title, if known

    @property
    def district(self) -> str:
        return self.grid[:6]


@dataclass
class Finding:
    kind: str
    key: str
    title: str
    level: str
    score: float
    district: str  # district code ("" = all)
    topic: str  # topic id ("" = all)
    onset_at: float
    detected_at: float
    evidence: dict[str, Any]
    ticket_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Names:
    """Display names: district code -> name, topic id -> name."""

    districts: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)

    def district(self, code: str) -> str:
        return self.districts.get(code, code)

    def topic(self, code: str) -> str:
        return self.topics.get(code, code)


def _within(narrow: Cell, wide: Cell) -> bool:
    return all(w == "" or n == w for n, w in zip(narrow, wide, strict=True))


def surge_level(count: int, expected: float) -> str:
    ratio = count / max(expected, 1e-9)
    return "red" if ratio >= 10 else "orange" if ratio >= 5 else "yellow"


def size_level(size: int, minimum: int) -> str:
    return "red" if size >= 4 * minimum else "orange" if size >= 2 * minimum else "yellow"


@dataclass
class _Active:
    key: str
    onset: float
    last: float
    ids: list[int]


class AlertEngine:
    def __init__(
        self,
        settings: AlertSettings,
        zone: tzinfo,
        days: DayCalendar | None = None,
        names: Names | None = None,
    ) -> None:
        self.settings = settings
        self.zone = zone
        self.names = names or Names()

        def offset(at: float) -> float:
            delta = datetime.fromtimestamp(at, zone).utcoffset()
            return delta.total_seconds() if delta else 0.0

        rule = settings.surge
        self.surges = SurgeDetector(rule, offset, days)
        self.calls = SurgeDetector(rule, offset, days)
        c, r = settings.cluster, settings.repeat
        self.clusters = SimilarGroups(c.window_hours * 3600, c.similarity, c.min_callers, True)
        self.problems = SimilarGroups(
            r.problem_days * DAY, r.problem_similarity, r.problem_count, False
        )
        self.callers = RepeatCallers(r.caller_count, r.caller_days)
        self._active: dict[tuple[str, Cell], _Active] = {}
        self._caller_runs: dict[str, _Active] = {}

    # --- tickets ----------------------------------------------------------------------------

    def warm(self, tickets: Iterable[TicketFacts]) -> None:
        """Load history (oldest first) without reporting: the baselines and windows."""
        for t in tickets:
            self.observe(t)

    def observe(self, t: TicketFacts) -> list[Finding]:
        found: list[Finding] = []
        text = f"{t.title} {t.content}"
        found.extend(self._lexicon(t, text))
        self.surges.add(t.at, t.id, t.district, t.topic)
        surge = self._surge("surge", self.surges, cells_of(t.district, t.topic), t.at)
        if surge is not None:
            found.append(surge)
        words = frozenset(t.search_text.split()) if t.search_text else words_of(text)
        minhash = signature(words)  # once, for both groupings
        c = self.settings.cluster
        place = place_of(t.grid, c.scope)
        group = self.clusters.add(Request(t.id, t.at, t.caller, place, words, minhash))
        if group is not None:
            found.append(self._group("cluster", group, t, c.min_callers))
        group = self.problems.add(Request(t.id, t.at, t.caller, t.grid, words, minhash))
        if group is not None:
            found.append(
                self._group("repeat_problem", group, t, self.settings.repeat.problem_count)
            )
        run = self._repeat_caller(t)
        if run is not None:
            found.append(run)
        return found

    def observe_call(self, at: float, call_id: int = 0) -> list[Finding]:
        """A call reaching the center: the center's call volume against its usual level."""
        self.calls.add(at, call_id, "", "")
        surge = self._surge("call_surge", self.calls, (("", ""),), at)
        return [surge] if surge is not None else []

    # --- detectors --------------------------------------------------------------------------

    def _lexicon(self, t: TicketFacts, text: str) -> list[Finding]:
        hits = scan(text, self.settings.lexicon)
        found: list[Finding] = []
        place = f"{self.names.district(t.district)}"
        evidence: dict[str, Any] = {"ticket_ids": [t.id], "grid": t.grid, "people": hits.people}
        if hits.sensitive:
            words = "、".join(hits.sensitive)
            found.append(
                Finding(
                    "sensitive",
                    f"sensitive:{t.id}",
                    f"敏感诉求（{words}）：{place}{self.names.topic(t.topic)}",
                    "red" if hits.severe else "orange",
                    float(len(hits.sensitive)),
                    t.district,
                    t.topic,
                    t.at,
                    t.at,
                    {**evidence, "words": list(hits.sensitive)},
                    [t.id],
                )
            )
        if hits.is_group:
            words = "、".join(hits.group)
            big = hits.people >= 5 * self.settings.lexicon.group_people or "上访" in hits.group
            found.append(
                Finding(
                    "group",
                    f"group:{t.id}",
                    f"群体性诉求（{words}）：{place}{self.names.topic(t.topic)}",
                    "red" if big else "orange",
                    float(max(hits.people, len(hits.group))),
                    t.district,
                    t.topic,
                    t.at,
                    t.at,
                    {**evidence, "words": list(hits.group)},
                    [t.id],
                )
            )
        return found

    def _surge(
        self, kind: str, detector: SurgeDetector, cells: tuple[Cell, ...], at: float
    ) -> Finding | None:
        """The most specific surging cell; a cell with an event still active (within the
        cooldown) explains the excess of the wider cells, which are then not checked."""
        cooldown = self.settings.surge.cooldown_hours * 3600
        for (k, c), a in list(self._active.items()):
            if at - a.last > cooldown:
                del self._active[(k, c)]
        for cell in cells:
            active = self._active.get((kind, cell))
            if active is None and any(
                k == kind and c != cell and _within(c, cell) for k, c in self._active
            ):
                return None  # a narrower event is active: it explains this cell's excess
            check = detector.check(cell, at)
            if check is not None and check.surge:
                return self._surge_finding(kind, detector, check, at, active)
            if active is not None:
                return None
        return None

    def _surge_finding(
        self, kind: str, detector: SurgeDetector, check: Check, at: float, active: _Active | None
    ) -> Finding:
        window = detector.window(check.cell)
        district, topic = check.cell
        if active is None:
            onset = window[0][0] if window else at
            scope = f"{district or '*'}:{topic or '*'}"
            active = self._active[(kind, check.cell)] = _Active(
                f"{kind}:{scope}:{int(onset)}", onset, at, []
            )
        active.last = at
        known = set(active.ids)
        active.ids.extend(i for _, i in window if i not in known and len(active.ids) < MAX_IDS)
        what = "来电量" if kind == "call_surge" else "诉求量"
        where = self.names.district(district) if district else "全市"
        subject = self.names.topic(topic) if topic else ""
        minutes = check.minutes or self.settings.surge.window_minutes  # the window that fired
        return Finding(
            kind,
            active.key,
            f"{where}{subject}{what}激增：近{minutes}分钟"
            f"{check.count}件（常态{check.expected:.1f}件）",
            surge_level(check.count, check.expected),
            round(check.count / max(check.expected, 1e-9), 2),
            district,
            topic,
            active.onset,
            at,
            {
                "count": check.count,
                "expected": round(check.expected, 3),
                "p_value": check.p,
                "window_minutes": minutes,
                "series": [[t, n] for t, n in detector.series(check.cell, at)],
                "ticket_ids": list(active.ids),
            },
            list(active.ids) if kind == "surge" else [],
        )

    def _group(self, kind: str, group: Group, t: TicketFacts, minimum: int) -> Finding:
        size = group.size(kind == "cluster")
        where = self.names.district(t.district)
        series: dict[int, int] = {}
        for at in group.times:
            hour = int(at // 3600) * 3600
            series[hour] = series.get(hour, 0) + 1
        ids = group.ticket_ids[-MAX_IDS:]
        label = "集中反映" if kind == "cluster" else "同一问题反复反映"
        unit = "位来电人" if kind == "cluster" else "次"
        return Finding(
            kind,
            f"{kind}:{group.place}:{group.label}",
            f"{label}：{where}{self.names.topic(t.topic)}（{group.place}）{size}{unit}",
            size_level(size, minimum),
            float(size),
            t.district,
            t.topic,
            group.first_at,
            t.at,
            {
                "place": group.place,
                "callers": len(group.callers),
                "tickets": len(group.ticket_ids),
                "words": sorted(group.words)[:30],
                "series": sorted(series.items()),
                "ticket_ids": ids,
            },
            ids,
        )

    def _repeat_caller(self, t: TicketFacts) -> Finding | None:
        seen = self.callers.add(t.caller, t.at, t.id)
        if seen is None:
            return None
        rule = self.settings.repeat
        run = self._caller_runs.get(t.caller)
        if run is None or t.at - run.last > rule.caller_days * DAY:
            run = self._caller_runs[t.caller] = _Active(
                # the run's first ticket names it: no digest of the number (an unkeyed hash
                # of a phone number is undone by trying every number)
                f"repeat_caller:{seen[0][1]}",
                seen[0][0],
                t.at,
                [],
            )
            if len(self._caller_runs) > 100_000:
                horizon = t.at - rule.caller_days * DAY
                self._caller_runs = {
                    k: v for k, v in self._caller_runs.items() if v.last >= horizon
                }
        run.last = t.at
        known = set(run.ids)
        run.ids.extend(i for _, i in seen if i not in known)
        run.ids = run.ids[-MAX_IDS:]
        return Finding(
            "repeat_caller",
            run.key,
            f"同一来电人{t.caller_shown}{rule.caller_days:g}天内反映{len(seen)}次",
            size_level(len(seen), rule.caller_count),
            float(len(seen)),
            t.district,
            t.topic,
            run.onset,
            t.at,
            {"count": len(seen), "days": rule.caller_days, "ticket_ids": list(run.ids)},
            list(run.ids),
        )
