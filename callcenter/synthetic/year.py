"""A year of a large city's 12345 hotline, as rows of the storage tables.

`Year(spec, settings, numbers, cipher)` plans the city (districts, streets, grids, people,
enterprises, surges and clusters) from `random.Random(spec.seed)`; `batches()` then yields the
tickets in the order they reached the hotline, day by day, with their history, calls and
surveys, the true party behind each ticket and the defects injected into them. The same seed
gives the same rows (ciphertexts of ID and phone numbers excepted: Fernet tokens carry a
random IV)."""

from __future__ import annotations

import bisect
import itertools
import json
import random
import string
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from callcenter.config import NumberEntry
from callcenter.data.checks import check_id_card, check_phone, check_uscc
from callcenter.data.crypto import FieldCipher, ephemeral_cipher
from callcenter.synthetic import vocab
from callcenter.synthetic.lifecycle_plan import Outcome, PlanInput, Staff, plan, state_json
from callcenter.synthetic.people import Citizen, Enterprise, Grid, Pools, make_pools, typo
from callcenter.tickets import text as segment
from callcenter.tickets.calendar import deadline as compute_deadline
from callcenter.tickets.knowledge import REQUEST_TYPES, Topic
from callcenter.tickets.settings import TicketSettings

Row = tuple[object, ...]

TICKET_COLUMNS = (
    "id", "number", "channel", "call_id", "caller_number", "caller_number_hash", "caller_name",
    "did", "hotline",
    "region", "skill", "agent_id", "ivr_path", "request_type", "topic", "department", "title",
    "content", "address", "status", "version", "state", "proposal", "confirmed", "created_at",
    "updated_at", "deadline", "closed_at", "repeat_of", "repeats", "search_text", "id_card",
    "id_card_hash", "enterprise_code", "enterprise_name", "grid", "received_at",
)  # fmt: skip
HISTORY_COLUMNS = (
    "id", "ticket_id", "seq", "action", "actor", "role", "at", "from_status", "to_status",
    "note", "details",
)  # fmt: skip
CALL_COLUMNS = (
    "call_id", "node", "did", "hotline", "region", "caller_number", "caller_number_hash",
    "skill", "priority",
    "joined_at", "left_at", "leave_reason", "waited", "position", "agent_id", "connected_at",
    "ended_at", "talk_seconds",
)  # fmt: skip
SURVEY_COLUMNS = (
    "id", "ticket_id", "number", "number_hash", "state", "attempts", "due_at", "rating",
    "created_at", "updated_at",
)  # fmt: skip
DEPARTMENT_COLUMNS = ("code", "name", "parent", "function", "contact", "phone", "active")
GRID_COLUMNS = ("code", "name", "street", "district")
HOLIDAY_COLUMNS = ("day", "kind", "name")
ENTERPRISE_COLUMNS = ("code", "name", "legal_person", "address", "status")

RULES = (
    "phone.format", "id_card.check", "uscc.check", "code.dictionary", "required.missing",
    "department.unknown", "duplicate.entry", "date.order", "evaluation.without_callback",
    "timeliness.late_entry", "access.undecryptable", "code.channel", "date.range",
    "code.status", "code.rating", "date.future", "grid.unknown", "stage.before_received",
    "entry.before_call",
)  # fmt: skip
ID_RULES = frozenset({"id_card.check", "access.undecryptable"})
ENTERPRISE_SHARE = 0.05
HEAVY_SHARE = 0.03  # of tickets: the few citizens who call very often
ID_CARD_SHARE = 0.30
TYPO_SHARE = 0.05  # of a citizen's repeat tickets
TYPE_MIX = (("咨询", 0.3), ("求助", 0.2), ("投诉", 0.3), ("举报", 0.08), ("意见建议", 0.12))
BAD_TYPES = ("咨讯", "投拆", "其它", "表扬", "求 助", "JB", "99")
BAD_DEPARTMENTS = ("water_old", "城管局", "dept_999", "wter", "市水务局", "unknown")
REPLIED = frozenset({"replied", "reviewed", "closed", "revisited", "evaluated"})
BAD_CHANNELS = ("电话", "Phone", "12345", "网站", "weixin", "")
BAD_STATUSES = ("已办结", "done", "Closed", "处理中", "close", "finished")
BAD_RATINGS = ("很满意", "5", "satisfied", "一般", "非常满意", "满意度高")
# rules that need a ticket of some kind (closed, rated, phoned in): owed until one comes
CONDITIONAL = frozenset(
    {"date.order", "evaluation.without_callback", "code.rating", "date.future", "entry.before_call"}
)
FUTURE_YEARS = (2, 5)  # date.future: a closing time typed this many years ahead
NODE = "syn"
DAY = 86400.0


@dataclass(frozen=True)
class YearSpec:
    tickets: int
    seed: int = 12345
    start: date = date(2026, 1, 1)
    days: int = 365
    defect_rate: float = 0.02


@dataclass
class Event:
    """A surge (a district's calls on one topic jump for hours) or a cluster (集中反映:
    near-identical requests about one place)."""

    kind: str
    topic: str
    district: vocab.District
    onset: float
    end: float
    planned: int
    grid: Grid | None = None
    compound: str = ""
    detail: str = ""
    baseline_per_hour: float = 0.0
    ticket_ids: list[int] = field(default_factory=list)
    parties: set[str] = field(default_factory=set)

    def truth(self, zone: tzinfo) -> dict[str, object]:
        def iso(t: float) -> str:
            return datetime.fromtimestamp(t, zone).isoformat(timespec="seconds")

        hours = max((self.end - self.onset) / 3600, 1e-9)
        found: dict[str, object] = {
            "kind": self.kind,
            "topic": self.topic,
            "district": self.district.name,
            "district_code": self.district.code,
            "onset": self.onset,
            "end": self.end,
            "onset_local": iso(self.onset),
            "end_local": iso(self.end),
            "extra_tickets": len(self.ticket_ids),
            "ticket_ids": self.ticket_ids,
        }
        if self.kind == "surge":
            found["baseline_per_hour"] = round(self.baseline_per_hour, 3)
            found["multiplier"] = round(
                (self.baseline_per_hour + len(self.ticket_ids) / hours)
                / max(self.baseline_per_hour, 1e-9),
                2,
            )
        else:
            assert self.grid is not None
            found.update(grid=self.grid.code, street=self.grid.street, compound=self.compound)
        return found


@dataclass
class Batch:
    tickets: list[Row] = field(default_factory=list)
    history: list[Row] = field(default_factory=list)
    calls: list[Row] = field(default_factory=list)
    surveys: list[Row] = field(default_factory=list)
    parties: list[tuple[int, str, str]] = field(default_factory=list)  # ticket, kind, key
    defects: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Reference:
    departments: list[Row]
    grids: list[Row]
    holidays: list[Row]
    enterprises: list[Row]


@dataclass
class Draft:
    """A ticket being made: what the request says and who made it."""

    received: float
    channel: str
    party_kind: str
    party: Citizen | Enterprise
    caller_number: str
    caller_name: str
    topic: Topic
    request_type: str
    grid: Grid
    title: str
    content: str
    address: str
    search_text: str
    event: Event | None = None
    id_plain: str = ""
    urgent: bool = False


_WORDS: dict[str, str] = {}


def search_text(pieces: Sequence[str]) -> str:
    """The ticket's search words (what `tickets.service.search_words` gives), segmented
    piece by piece with a cache, which makes a million cheap: a piece is a template literal or
    a slot value, so words seldom cross piece borders."""
    found: list[str] = []
    for piece in pieces:
        words = _WORDS.get(piece)
        if words is None:
            if len(_WORDS) > 300_000:
                _WORDS.clear()
            words = _WORDS[piece] = " ".join(segment.search_words(piece))
        if words:
            found.append(words)
    return " ".join(found)


def _parse(template: str) -> list[tuple[str, str | None]]:
    return [(lit, name) for lit, name, _, _ in string.Formatter().parse(template)]


def _cum(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(rng: random.Random, cum: list[float]) -> int:
    return bisect.bisect(cum, rng.random() * cum[-1])


class Year:
    def __init__(
        self,
        spec: YearSpec,
        settings: TicketSettings,
        numbers: Sequence[NumberEntry],
        cipher: FieldCipher,
        holiday_names: dict[date, str] | None = None,
    ) -> None:
        if spec.tickets < 1:
            raise ValueError("tickets must be at least 1")
        if not 0 <= spec.defect_rate < 0.5:
            raise ValueError("defect_rate must be from 0 to 0.5")
        self.spec = spec
        self.settings = settings
        self.cipher = cipher
        self.stranger = ephemeral_cipher()  # keys nobody has: access.undecryptable
        self.rng = random.Random(spec.seed)
        self.zone = settings.calendar.zone
        self.calendar = settings.calendar
        self.holiday_names = holiday_names or {}
        self.t0 = datetime.combine(spec.start, time(0), self.zone).timestamp()
        self.horizon = self.t0 + spec.days * DAY
        offset = datetime.combine(spec.start, time(0), self.zone).utcoffset()
        self.zone_offset = offset.total_seconds() if offset else 0.0
        self.topics = list(settings.knowledge.topics)
        if not self.topics:
            raise ValueError("the knowledge base has no topics")
        self.topic_by_id = {t.id: t for t in self.topics}
        self.numbers = list(numbers) or [NumberEntry("12345", "general", "12345政务服务便民热线")]
        self.main_number = next((n for n in self.numbers if n.did == "12345"), self.numbers[0])
        self._city()
        self._people()
        self._staff()
        self._templates = {
            t.id: [_parse(x) for x in vocab.TEMPLATES.get(t.id, vocab.GENERIC)] for t in self.topics
        }
        self._events()
        self.defect_counts: dict[str, int] = dict.fromkeys(RULES, 0)
        self.counts: dict[str, int] = {}

    # --- the city -------------------------------------------------------------------------

    def _city(self) -> None:
        rng = self.rng
        self.grids: list[Grid] = []
        self.grids_by_district: dict[str, list[Grid]] = {}
        for district in vocab.DISTRICTS:
            mine: list[Grid] = []
            for s, street in enumerate(vocab.street_names(rng, district), start=1):
                for g in range(1, rng.randint(6, 14) + 1):
                    code = f"{district.code}{s:03d}{g:03d}"
                    mine.append(Grid(code, f"{street}第{g}网格", street, district))
            self.grids_by_district[district.code] = mine
            self.grids.extend(mine)
        share = {
            d.code: d.population / len(self.grids_by_district[d.code]) for d in vocab.DISTRICTS
        }
        self.grid_cum = _cum([share[g.district.code] for g in self.grids])
        self.district_cum = _cum([d.population for d in vocab.DISTRICTS])
        self.roads = {
            d.code: [vocab.road_name(rng) for _ in range(max(12, d.streets * 3))]
            for d in vocab.DISTRICTS
        }
        departments = self.settings.knowledge.departments
        self.dept_codes = list(departments)
        self.known_departments = (
            set(self.dept_codes)
            | {vocab.ROOT_DEPARTMENT[0]}
            | {d[0] for d in vocab.EXTRA_DEPARTMENTS}
            | {vocab.district_department(d)[0] for d in vocab.DISTRICTS}
        )

    def _people(self) -> None:
        n = self.spec.tickets
        citizens = max(60, n // 2 if n <= 1_000_000 else 500_000 + (n - 1_000_000) * 3 // 20)
        enterprises = max(20, n // 80)
        self.pools: Pools = make_pools(
            self.rng, self.grids, self.grid_cum, citizens, enterprises, self.spec.start
        )
        self.heavy_cum = _cum([1.0 / (r + 1) for r in range(self.pools.heavy)])
        self.calls_of: dict[str, int] = {}  # citizen key -> tickets so far

    def _staff(self) -> None:
        seats = max(8, min(2000, self.spec.tickets // 14_000))
        self.agents = tuple(str(1001 + i) for i in range(seats))
        supervisors = tuple(f"S{i + 1:02d}" for i in range(max(2, seats // 12)))
        self.staff = Staff(supervisors, self.agents)

    # --- rhythm ---------------------------------------------------------------------------

    def _day_level(self, day: date, index: int) -> float:
        cal = self.calendar
        if day in cal.days.holidays:
            name = self.holiday_names.get(day, "")
            level = vocab.SPRING_FESTIVAL_LEVEL if "春节" in name else vocab.HOLIDAY_LEVEL
        elif day in cal.days.makeup_workdays:
            level = vocab.WEEKDAY_LEVEL[0]
        else:
            level = vocab.WEEKDAY_LEVEL[day.weekday()]
        return level * (1 + vocab.YEARLY_TREND * index / max(1, self.spec.days - 1))

    def _topic_weights(self, month: int) -> list[float]:
        return [
            vocab.TOPIC_SHARES.get(t.id, 20.0) * vocab.SEASONS.get(t.id, (1.0,) * 12)[month - 1]
            for t in self.topics
        ]

    def _is_day_off(self, day: date) -> bool:
        return not self.calendar.is_working_day(day)

    # --- surges and clusters --------------------------------------------------------------

    def _events(self) -> None:
        rng = self.rng
        n = self.spec.tickets
        months = max(1, round(self.spec.days / 30.4))
        surges = min(2 * months, max(1, n // 4000))
        clusters = min(3 * months, max(1, n // 2500))
        per_hour = n / (self.spec.days * 24)
        self.events: list[Event] = []
        known = set(self.topic_by_id)
        for kind, count in (("surge", surges), ("cluster", clusters)):
            for _ in range(count):
                day = self.spec.start + timedelta(days=rng.randrange(self.spec.days))
                topics = vocab.SURGE_TOPICS if kind == "surge" else vocab.CLUSTER_TOPICS
                choices = [t for t in topics[day.month] if t in known] or list(known)
                topic = rng.choice(sorted(choices))
                district = vocab.DISTRICTS[_pick(rng, self.district_cum)]
                onset = (
                    datetime.combine(day, time(0), self.zone).timestamp()
                    + rng.uniform(6, 20) * 3600
                )
                hours = rng.uniform(2, 6) if kind == "surge" else rng.uniform(2, 8)
                end = min(onset + hours * 3600, self.horizon - 1)
                weights = self._topic_weights(day.month)
                topic_share = weights[self.topics.index(self.topic_by_id[topic])] / sum(weights)
                district_share = district.population / self.district_cum[-1]
                baseline = per_hour * topic_share * district_share * 1.6  # daytime level
                if kind == "surge":
                    factor = rng.uniform(5, 10)
                    planned = max(12, round(baseline * (factor - 1) * hours))
                    event = Event(kind, topic, district, onset, end, planned,
                                  detail=vocab.SURGE_PHRASES.get(topic, ""),
                                  baseline_per_hour=baseline)  # fmt: skip
                else:
                    grid = rng.choice(self.grids_by_district[district.code])
                    details = vocab.DETAILS.get(topic, vocab.GENERIC_DETAILS)
                    event = Event(kind, topic, district, onset, end, rng.randint(10, 40),
                                  grid=grid, compound=vocab.compound_name(rng),
                                  detail=rng.choice(details))  # fmt: skip
                self.events.append(event)
        budget = max(0, n - 1)
        while sum(e.planned for e in self.events) > max(12, n // 8) and len(self.events) > 2:
            self.events.pop()
        extra = min(budget, sum(e.planned for e in self.events))
        self.base_tickets = n - extra
        slots: list[tuple[float, int]] = []
        for i, e in enumerate(self.events):
            span = e.end - e.onset
            for k in range(e.planned):
                u = rng.random()
                at = e.onset + span * (u**1.6 if e.kind == "surge" else u)
                slots.append((e.onset if k == 0 else at, i))
        slots.sort()
        self.event_slots = slots[:extra]

    # --- reference data -------------------------------------------------------------------

    def reference(self) -> Reference:
        rng = random.Random(self.spec.seed + 1)
        phones = [f"{vocab.AREA_CODE}-6{rng.randrange(2_000_000, 10_000_000)}" for _ in range(200)]
        departments: list[Row] = [(*vocab.ROOT_DEPARTMENT, "市政府办公厅", phones[0], 1)]
        for i, (code, dept) in enumerate(self.settings.knowledge.departments.items(), start=1):
            function = vocab.FUNCTIONS.get(code, "综合")
            departments.append((code, dept.name, "gov", function, "联络员", phones[i % 200], 1))
        for i, (code, name, parent, function) in enumerate(vocab.EXTRA_DEPARTMENTS):
            if code not in self.settings.knowledge.departments:
                departments.append((code, name, parent, function, "联络员", phones[-i - 1], 1))
        for d in vocab.DISTRICTS:
            code, name, parent, function = vocab.district_department(d)
            departments.append((code, name, parent, function, "区热线办", phones[50], 1))
        grids: list[Row] = [(g.code, g.name, g.street, g.district.name) for g in self.grids]
        holidays: list[Row] = []
        days = self.calendar.days
        last = self.spec.start + timedelta(days=self.spec.days - 1)
        years = range(self.spec.start.year, last.year + 1)  # the calendar's, for those years
        for day in sorted(d for d in days.holidays | days.makeup_workdays if d.year in years):
            if day in days.holidays:
                holidays.append((day.isoformat(), "holiday", self.holiday_names.get(day, "节假日")))
            else:
                holidays.append((day.isoformat(), "workday", "调休上班"))
        enterprises: list[Row] = [
            (e.code, e.name, e.legal_person, self._address(e.grid, "", ""), "存续")
            for e in self.pools.enterprises
        ]
        return Reference(departments, grids, holidays, enterprises)

    # --- the year -------------------------------------------------------------------------

    def batches(self, size: int = 5000) -> Iterator[Batch]:
        """The year's rows, `size` tickets at a time, in the order requests arrived."""
        rng = self.rng
        days = [self.spec.start + timedelta(days=i) for i in range(self.spec.days)]
        levels = [self._day_level(d, i) for i, d in enumerate(days)]
        month_weight = {m: sum(self._topic_weights(m)) for m in range(1, 13)}
        # seasonal topics add volume: a month's level follows its topic weights
        base = sum(month_weight.values()) / 12
        levels = [
            lv * (month_weight[d.month] / base) ** 0.5 for lv, d in zip(levels, days, strict=True)
        ]
        total = sum(levels)
        raw = [self.base_tickets * lv / total for lv in levels]
        counts = [int(x) for x in raw]
        order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
        for i in order[: self.base_tickets - sum(counts)]:
            counts[i] += 1
        hours_work = _cum(vocab.HOURS_WORKDAY)
        hours_off = _cum(vocab.HOURS_DAYOFF)
        self._topic_cum = {m: _cum(self._topic_weights(m)) for m in range(1, 13)}
        ent_topics = [t for t in self.topics if t.id in vocab.ENTERPRISE_TOPICS] or self.topics
        self._ent_topics = ent_topics
        self._channel_cum = _cum([w for _, w in vocab.CHANNELS])
        self._type_cum = _cum([w for _, w in TYPE_MIX])
        self._recent: dict[str, deque[tuple[float, str]]] = {}
        self._twinable: deque[tuple[Draft, float, int]] = deque(maxlen=64)
        self._owed: list[str] = []
        self._deadline_cache: dict[tuple[str, date, bool], float] = {}
        self._labels: dict[int, str] = {}
        self._alternate_cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._next = {"ticket": 1, "history": 1, "survey": 1, "call": 1}
        batch = Batch()
        events = self.event_slots
        e_i = 0
        for d, day in enumerate(days):
            start = datetime.combine(day, time(0), self.zone).timestamp()
            cum = hours_off if self._is_day_off(day) else hours_work
            slots: list[tuple[float, int]] = [
                (start + (_pick(rng, cum) + rng.random()) * 3600, -1) for _ in range(counts[d])
            ]
            while e_i < len(events) and events[e_i][0] < start + DAY:
                slots.append(events[e_i])
                e_i += 1
            slots.sort()
            for at, event in slots:
                self._ticket(batch, at, self.events[event] if event >= 0 else None, day)
                if len(batch.tickets) >= size:
                    yield batch
                    batch = Batch()
        while e_i < len(events):  # events past the last day (none unless days is cut short)
            self._ticket(batch, events[e_i][0], self.events[events[e_i][1]], days[-1])
            e_i += 1
        if batch.tickets or batch.calls:
            yield batch

    # --- one ticket -----------------------------------------------------------------------

    def _ticket(self, batch: Batch, at: float, event: Event | None, day: date) -> None:
        rng = self.rng
        rule = ""
        if event is None and rng.random() < self.spec.defect_rate:
            rule = RULES[rng.randrange(len(RULES))]
        if (rule == "duplicate.entry" or (not rule and "duplicate.entry" in self._owed)) and (
            self._twin(batch, at)
        ):
            if rule != "duplicate.entry":
                self._owed.remove("duplicate.entry")
            return
        if rule == "duplicate.entry":
            self._owed.append(rule)
            rule = ""
        draft = self._draft(at, event, day, rule)
        self._emit(batch, draft, rule)

    def _party(self, rule: str, event: Event | None) -> tuple[str, Citizen | Enterprise]:
        rng = self.rng
        pools = self.pools
        if rule == "uscc.check" or (
            event is None and rule not in ID_RULES and rng.random() < ENTERPRISE_SHARE
        ):
            return "enterprise", rng.choice(pools.enterprises)
        if event is None and rng.random() < HEAVY_SHARE:
            return "person", pools.citizens[_pick(rng, self.heavy_cum)]
        who = pools.citizens[rng.randrange(len(pools.citizens))]
        if event is not None and event.kind == "cluster":  # neighbours: one call each
            while who.key in event.parties:
                who = pools.citizens[rng.randrange(len(pools.citizens))]
            event.parties.add(who.key)
        return "person", who

    def _draft(self, at: float, event: Event | None, day: date, rule: str) -> Draft:
        rng = self.rng
        kind, party = self._party(rule, event)
        if event is not None:
            topic = self.topic_by_id[event.topic]
        elif kind == "enterprise":
            topic = rng.choice(self._ent_topics)
        else:
            topic = self.topics[_pick(rng, self._topic_cum[day.month])]
        if event is not None and event.grid is not None:
            grid, compound = event.grid, event.compound
        elif event is not None:
            grid = rng.choice(self.grids_by_district[event.district.code])
            compound = vocab.compound_name(rng)
        elif isinstance(party, Citizen) and rng.random() < 0.6:
            grid, compound = party.home, party.compound
        elif isinstance(party, Enterprise):
            grid, compound = party.grid, ""
        else:
            grid = self.grids[_pick(rng, self.grid_cum)]
            compound = vocab.compound_name(rng)
        if rule == "timeliness.late_entry":
            channel = rng.choice(("web", "app", "wechat", "miniprogram"))
        else:
            channel = vocab.CHANNELS[_pick(rng, self._channel_cum)][0]
        if topic.type_hint and rng.random() < 0.55:
            request_type = topic.type_hint
        else:
            request_type = TYPE_MIX[_pick(rng, self._type_cum)][0]
        if isinstance(party, Citizen):
            number = party.phones[0]
            if len(party.phones) > 1 and rng.random() < 0.3:
                number = party.phones[1]
            name = party.name
            seen = self.calls_of.get(party.key, 0)
            self.calls_of[party.key] = seen + 1
            if seen and rng.random() < TYPO_SHARE:
                name = typo(name, rng) or name
        else:
            number, name = party.phone, party.contact
        draft = Draft(
            received=at,
            channel=channel,
            party_kind=kind,
            party=party,
            caller_number=number,
            caller_name=name,
            topic=topic,
            request_type=request_type,
            grid=grid,
            title="",
            content="",
            address="",
            search_text="",
            event=event,
            urgent=request_type == "求助" and rng.random() < 0.03,
        )
        if isinstance(party, Citizen) and (rule in ID_RULES or rng.random() < ID_CARD_SHARE):
            draft.id_plain = party.id_card
        self._write(draft, compound)
        return draft

    def _address(self, grid: Grid, compound: str, flat: str) -> str:
        return f"{vocab.CITY}{grid.district.name}{grid.street}{compound}{flat}"

    def _write(self, d: Draft, compound: str) -> None:
        """Title, content, address and search words; never the same content twice from one
        number within two days (that would be a duplicate.entry the truth does not list)."""
        rng = self.rng
        topic = d.topic
        event = d.event
        party = d.party
        templates = self._templates[topic.id]
        details = vocab.DETAILS.get(topic.id, vocab.GENERIC_DETAILS)
        roads = self.roads[d.grid.district.code]
        recent = self._recent.get(d.caller_number)
        for attempt in range(8):
            if isinstance(party, Citizen) and compound == party.compound and rng.random() < 0.7:
                flat = party.building
            else:
                flat = f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元"
            place = [compound or rng.choice(roads), flat]
            pieces: list[str] = []
            opening = rng.choice(vocab.OPENINGS)
            if opening:
                pieces.append(opening)
            for literal, slot in rng.choice(templates) if event is None else templates[0]:
                if literal:
                    pieces.append(literal)
                if slot is None:
                    continue
                if slot == "place":
                    pieces.extend(place)
                elif slot == "road":
                    pieces.append(rng.choice(roads))
                elif slot == "shop":
                    pieces.append(rng.choice(vocab.SHOP_WORDS) + rng.choice(vocab.SHOP_KINDS))
                elif slot == "company":
                    firm = party if isinstance(party, Enterprise) else None
                    pieces.append((firm or rng.choice(self.pools.enterprises)).name)
                elif slot == "when":
                    pieces.append(rng.choice(vocab.WHEN))
                elif slot == "dur":
                    pieces.append(rng.choice(vocab.DURATION))
                elif slot == "n":
                    low, high = (10, 17) if topic.id == "heating" else (1, 9)
                    pieces.append(str(rng.randint(low, high)))
                elif slot == "detail":
                    pieces.append(event.detail if event and event.detail else rng.choice(details))
            closings = vocab.CLOSINGS.get(d.request_type, vocab.CLOSINGS["咨询"])
            pieces.append(rng.choice(closings))
            if attempt >= 6:
                pieces.append(f"（第{attempt + rng.randint(2, 9)}次来电）")
            content = "".join(pieces)
            if recent is None or all(c != content for _, c in recent):
                break
        title_place = compound or d.grid.street
        title = f"{topic.name}：{d.grid.district.name}{title_place}"
        d.title, d.content = title, content
        d.address = self._address(d.grid, compound, flat if compound else "")
        d.search_text = search_text(
            [topic.name, d.grid.district.name, title_place, *pieces,
             vocab.CITY, d.grid.district.name, d.grid.street, compound, flat]
        )  # fmt: skip

    def _remember(self, number: str, created: float, content: str) -> None:
        recent = self._recent.setdefault(number, deque())
        while recent and recent[0][0] < created - 3 * DAY:
            recent.popleft()
        recent.append((created, content))
        if len(self._recent) > 400_000:  # forget numbers silent for days
            cutoff = created - 3 * DAY
            self._recent = {k: v for k, v in self._recent.items() if v and v[-1][0] >= cutoff}

    # --- rows -----------------------------------------------------------------------------

    def _deadline(self, request_type: str, created: float, urgent: bool) -> float:
        rule = self.settings.deadlines.rules[request_type]
        if urgent and rule.urgent_hours is not None:
            return created + rule.urgent_hours * 3600
        moment = datetime.fromtimestamp(created, self.zone)
        if rule.working_hours is not None:
            return compute_deadline(
                self.calendar, self.settings.deadlines, request_type, moment
            ).timestamp()
        close = self.calendar.periods[-1][1]
        key = (request_type, moment.date(), moment.time() < close)
        found = self._deadline_cache.get(key)
        if found is None:
            found = compute_deadline(
                self.calendar, self.settings.deadlines, request_type, moment
            ).timestamp()
            self._deadline_cache[key] = found
        return found

    def _call(self, batch: Batch, d: Draft) -> tuple[str, NumberEntry, str, float]:
        """The call that brought a phone request in: (call id, number, agent, created at)."""
        rng = self.rng
        number = self._number_for(d.topic)
        agent = rng.choice(self.agents)
        hour = ((d.received + self.zone_offset) % DAY) / 3600
        busy = vocab.HOURS_WORKDAY[int(hour)] / 5.3
        waited = rng.expovariate(1 / (8 + 50 * busy))
        talk = min(1800.0, rng.lognormvariate(5.2, 0.45))
        connected = d.received + waited
        call_id = self._call_id()
        batch.calls.append(
            (call_id, NODE, number.did, number.label, number.region,
             *self.cipher.seal_phone(d.caller_number), number.skill, number.priority,
             d.received, connected, "answered", round(waited, 3),
             0, agent, connected, connected + talk, round(talk, 3))
        )  # fmt: skip
        if rng.random() < 0.08:  # someone else gave up waiting around the same time
            self._abandoned(batch, d.received + rng.uniform(0, 900))
        if rng.random() < 0.07:  # answered, no ticket (a question answered on the spot)
            self._answered_only(batch, d.received + rng.uniform(0, 900))
        return call_id, number, agent, connected + talk * rng.uniform(0.6, 0.95)

    def _call_id(self) -> str:
        n = self._next["call"]
        self._next["call"] = n + 1
        return f"SYN{n:010d}"

    def _number_for(self, topic: Topic) -> NumberEntry:
        dept = self.settings.knowledge.departments.get(topic.department)
        skill = dept.skill if dept else ""
        if skill and self.rng.random() < 0.25:
            merged = [n for n in self.numbers if n.skill == skill and n is not self.main_number]
            if merged:
                return self.rng.choice(merged)
        return self.main_number

    def _abandoned(self, batch: Batch, at: float) -> None:
        rng = self.rng
        who = self.pools.citizens[rng.randrange(len(self.pools.citizens))]
        number = self.main_number
        waited = rng.uniform(5, 240)
        batch.calls.append(
            (self._call_id(), NODE, number.did, number.label, number.region,
             *self.cipher.seal_phone(who.phones[0]), number.skill, number.priority, at,
             at + waited, "abandoned", round(waited, 3),
             rng.randint(1, 30), None, None, at + waited, None)
        )  # fmt: skip

    def _answered_only(self, batch: Batch, at: float) -> None:
        rng = self.rng
        who = self.pools.citizens[rng.randrange(len(self.pools.citizens))]
        number = self.main_number
        waited = rng.uniform(2, 60)
        talk = rng.uniform(30, 240)
        batch.calls.append(
            (self._call_id(), NODE, number.did, number.label, number.region,
             *self.cipher.seal_phone(who.phones[0]), number.skill, number.priority, at,
             at + waited, "answered", round(waited, 3), 0,
             rng.choice(self.agents), at + waited, at + waited + talk, round(talk, 3))
        )  # fmt: skip

    def _day_label(self, at: float) -> str:
        key = int((at + self.zone_offset) // DAY)
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = datetime.fromtimestamp(at, self.zone).strftime("%Y%m%d")
        return label

    def _alternates(self, topic: Topic, grid: Grid) -> tuple[str, ...]:
        key = (topic.id, grid.district.code)
        found = self._alternate_cache.get(key)
        if found is None:
            found = self._alternate_cache[key] = self._alternates_of(topic, grid)
        return found

    def _alternates_of(self, topic: Topic, grid: Grid) -> tuple[str, ...]:
        local = vocab.district_department(grid.district)[0]
        if topic.id in vocab.LOCAL_TOPICS:
            return (local,)
        others = [c for c in self.dept_codes if c != topic.department]
        return (local, others[hash_index(topic.id, len(others))]) if others else (local,)

    def _emit(self, batch: Batch, d: Draft, rule: str, twin_of: float | None = None) -> bool:
        """Make the rows of a draft; a twin must be entered within a day of its original
        (returns False, writing nothing, when it would not be)."""
        rng = self.rng
        call_id: str | None = None
        number = self.main_number
        agent = rng.choice(self.agents)
        calls_before = len(batch.calls)
        next_call = self._next["call"]
        if d.channel == "phone":
            call_id, number, agent, created = self._call(batch, d)
            did, hotline = number.did, number.label
        else:
            created = d.received + min(20 * 3600, rng.expovariate(1 / 2400))
            did, hotline = "", self.main_number.label
            if rule == "timeliness.late_entry":
                created = d.received + rng.uniform(1.05, 4) * DAY
        if twin_of is not None and not twin_of < created < twin_of + DAY - 600:
            del batch.calls[calls_before:]
            self._next["call"] = next_call
            return False
        ticket_id = self._next["ticket"]
        self._next["ticket"] = ticket_id + 1
        due = self._deadline(d.request_type, created, d.urgent)
        force = rule in ("date.order", "evaluation.without_callback")
        dept0 = d.topic.department if d.topic.department in self.known_departments else "center"
        out = plan(
            rng,
            PlanInput(created, due, d.request_type, dept0, self._alternates(d.topic, d.grid),
                      agent, force),
            self.staff,
            self.horizon,
            self.settings.lifecycle.reopen_on_unsatisfied,
        )  # fmt: skip
        local_day = self._day_label(created)
        id_card = self.cipher.encrypt(d.id_plain)
        id_hash = self.cipher.blind_index(d.id_plain)
        enterprise = d.party if isinstance(d.party, Enterprise) else None
        row: dict[str, object] = {
            "caller_number": d.caller_number,
            "request_type": d.request_type,
            "department": out.department,
            "content": d.content,
            "channel": d.channel,
            "closed_at": out.closed_at,
            "state": out.state,
            "created_at": created,
            "received_at": d.received,
            "status": out.status,
            "grid": d.grid.code,
            "id_card": id_card,
            "id_card_hash": id_hash,
            "enterprise_code": enterprise.code if enterprise else "",
        }
        applied = self._defect(rule, row, d, out) if rule else ""
        if not rule and self._owed:
            applied = self._pay_owed(row, d, out)
        if applied:
            self.defect_counts[applied] += 1
            batch.defects.append(
                {"tbl": "tickets", "record_id": str(ticket_id), "rule": applied,
                 "field": DEFECT_FIELDS[applied] if applied != "required.missing"
                 else _missing_field(row)}
            )  # fmt: skip
        state = row["state"]
        assert isinstance(state, dict)
        phone = self.cipher.seal_phone(str(row["caller_number"]))  # stored as the store does
        batch.tickets.append(
            (ticket_id, f"{local_day}{ticket_id:06d}", row["channel"], call_id,
             *phone, d.caller_name, did, hotline, number.region, number.skill, agent,
             "1" if number.entry == "menu" else "", row["request_type"], d.topic.id,
             row["department"], d.title, row["content"], d.address, row["status"], out.version,
             state_json(state), _proposal(dept0), 1, row["created_at"], out.updated_at, due,
             row["closed_at"], None, 0, d.search_text if row["content"] else
             search_text([d.title, d.address]), row["id_card"], row["id_card_hash"],
             row["enterprise_code"], enterprise.name if enterprise else "", row["grid"],
             row["received_at"])
        )  # fmt: skip
        self._history(batch, ticket_id, created, d.channel, dept0, agent, out)
        self._survey(batch, ticket_id, phone, out)
        batch.parties.append((ticket_id, d.party_kind, d.party.key))
        if d.event is not None:
            d.event.ticket_ids.append(ticket_id)
        self._remember(d.caller_number, created, d.content)
        if not rule and not applied and d.event is None and twin_of is None:
            self._twinable.append((d, created, ticket_id))
        return True

    def _twin(self, batch: Batch, at: float) -> bool:
        """duplicate.entry: the same request from the same number entered again."""
        for i in range(len(self._twinable) - 1, -1, -1):
            original, created, _ = self._twinable[i]
            if created < at - DAY + 1800 or created >= at:
                continue
            twin = replace(original, received=at, event=None)
            if self._emit(batch, twin, "duplicate.entry", twin_of=created):
                del self._twinable[i]
                return True
        return False

    def _defect(self, rule: str, row: dict[str, object], d: Draft, out: Outcome) -> str:
        """Apply the drawn rule's defect to the row; '' (and the rule is owed) when this
        ticket cannot carry it."""
        rng = self.rng
        if rule == "phone.format":
            row["caller_number"] = bad_phone(rng, d.caller_number)
        elif rule == "id_card.check":
            plain = bad_id_card(rng, d.id_plain)
            row["id_card"] = self.cipher.encrypt(plain)
            row["id_card_hash"] = self.cipher.blind_index(plain)
        elif rule == "access.undecryptable":
            row["id_card"] = self.stranger.encrypt(d.id_plain)
        elif rule == "uscc.check":
            row["enterprise_code"] = bad_uscc(rng, str(row["enterprise_code"]))
        elif rule == "code.dictionary":
            row["request_type"] = rng.choice(BAD_TYPES)
        elif (
            rule == "required.missing"
            and out.status in REPLIED
            and out.state.get("reply")
            and rng.random() < 0.3
        ):  # replied, the reply text lost (a reopened ticket is not past its reply)
            row["state"] = {**out.state, "reply": ""}
        elif rule == "required.missing":
            recent = self._recent.get(d.caller_number, ())
            if out.department is not None and (rng.random() < 0.5 or any(
                c == "" for _, c in recent
            )):  # fmt: skip
                row["department"] = None
            elif any(c == "" for _, c in recent):
                self._owed.append(rule)
                return ""
            else:
                row["content"] = ""
        elif rule == "department.unknown":
            row["department"] = rng.choice(BAD_DEPARTMENTS)
        elif rule == "code.channel":
            row["channel"] = rng.choice(BAD_CHANNELS)
        elif rule == "date.range":  # the year typed wrong: at least two years ahead
            years = rng.randint(2, 40)
            typed = d.received + years * 365 * DAY
            assert typed > out.updated_at + DAY  # the rule's `ahead` is a day
            row["received_at"] = typed
        elif rule == "timeliness.late_entry":
            pass  # created_at was set more than a day after received_at
        elif rule == "code.status":
            row["status"] = rng.choice(BAD_STATUSES)
        elif rule == "grid.unknown":
            row["grid"] = bad_grid(rng, d.grid.code)
        elif rule == "stage.before_received":  # received typed after some stage of its own
            stages = [float(str(row["created_at"]))] + [act.at for act in out.acts]
            row["received_at"] = rng.choice(stages) + rng.uniform(60, 3600)
        elif rule in CONDITIONAL:
            return self._late_rule(rule, row, out, d) or self._owe(rule)
        elif rule == "duplicate.entry":
            pass  # the twin itself is the defect
        return rule

    def _owe(self, rule: str) -> str:
        self._owed.append(rule)
        return ""

    def _late_rule(self, rule: str, row: dict[str, object], out: Outcome, d: Draft) -> str:
        """Rules that need a ticket of some kind (closed, rated, phoned in): '' when this one
        is not."""
        rng = self.rng
        if rule == "code.rating" and out.state.get("rating"):
            row["state"] = {**out.state, "rating": rng.choice(BAD_RATINGS)}
            return rule
        if rule == "date.future" and out.closed_at is not None:  # the year typed wrong
            row["closed_at"] = out.closed_at + rng.randint(*FUTURE_YEARS) * 365 * DAY
            return rule
        if rule == "entry.before_call" and d.channel == "phone":  # entered before it rang
            row["created_at"] = d.received - rng.uniform(60, 3600)
            return rule
        if rule == "date.order" and out.closed_at is not None:
            created = row["created_at"]
            assert isinstance(created, float)
            row["closed_at"] = created - self.rng.uniform(600, 3 * DAY)
            return rule
        if rule == "evaluation.without_callback" and out.state.get("rating"):
            state = dict(out.state)
            state["callback"] = None
            row["state"] = state
            return rule
        return ""

    def _pay_owed(self, row: dict[str, object], d: Draft, out: Outcome) -> str:
        for rule in self._owed:
            if rule in CONDITIONAL and self._late_rule(rule, row, out, d):
                self._owed.remove(rule)
                return rule
            if rule == "required.missing" and out.department is not None:
                row["department"] = None
                self._owed.remove(rule)
                return rule
        return ""

    def _history(
        self, batch: Batch, ticket_id: int, created: float, channel: str, dept: str, agent: str,
        out: Outcome,
    ) -> None:  # fmt: skip
        n = self._next["history"]
        rows = batch.history
        rows.append((n, ticket_id, 0, "accept", agent, "agent", created, "", "accepted", channel,
                     _accept_details(dept)))  # fmt: skip
        for seq, (act, (before, after)) in enumerate(zip(out.acts, out.statuses, strict=True), 1):
            rows.append((n + seq, ticket_id, seq, act.action, act.actor, act.role, act.at, before,
                         after, act.note, _details(act.details)))  # fmt: skip
        self._next["history"] = n + 1 + len(out.acts)

    def _survey(self, batch: Batch, ticket_id: int, phone: tuple[str, str], out: Outcome) -> None:
        """The ticket's survey, with the ticket's sealed number (ciphertext, blind index)."""
        if out.closed_at is None:
            return
        close = out.closed_at
        revisit = next((a for a in out.acts if a.action == "revisit"), None)
        rating = next((a for a in out.acts if a.action == "evaluate"), None)
        n = self._next["survey"]
        self._next["survey"] = n + 1
        if revisit is None:
            row: Row = (n, ticket_id, *phone, "scheduled", 0, close + DAY, "", close, close)
        elif rating is not None:
            row = (n, ticket_id, *phone, "rated", self.rng.randint(1, 2), revisit.at,
                   rating.details["rating"], close, rating.at)  # fmt: skip
        else:
            row = (n, ticket_id, *phone, "manual", 3, revisit.at, "", close, revisit.at)
        batch.surveys.append(row)

    def counts_of(self) -> dict[str, int]:
        return {
            "tickets": self._next["ticket"] - 1,
            "ticket_history": self._next["history"] - 1,
            "surveys": self._next["survey"] - 1,
            "calls": self._next["call"] - 1,
        }

    def unpaid(self) -> list[str]:
        """Defects drawn but never placed (the year ended before a ticket could carry them)."""
        return list(self._owed)


DEFECT_FIELDS = {
    "phone.format": "caller_number",
    "id_card.check": "id_card",
    "uscc.check": "enterprise_code",
    "code.dictionary": "request_type",
    "required.missing": "content",
    "department.unknown": "department",
    "duplicate.entry": "content",
    "date.order": "closed_at",
    "evaluation.without_callback": "state",
    "timeliness.late_entry": "created_at",
    "access.undecryptable": "id_card",
    "code.channel": "channel",
    "date.range": "received_at",
    "code.status": "status",
    "code.rating": "state.rating",
    "date.future": "closed_at",
    "grid.unknown": "grid",
    "stage.before_received": "first_stage_at",  # the earliest time in the ticket's history
    "entry.before_call": "created_at",
}


def _missing_field(row: dict[str, object]) -> str:
    """The field a planted required.missing defect emptied."""
    if row["content"] == "":
        return "content"
    if row["department"] is None:
        return "department"
    return "state.reply"


def hash_index(text: str, size: int) -> int:
    """A stable index from a string (Python's hash() changes between runs)."""
    return sum(ord(c) * (i + 1) for i, c in enumerate(text)) % size


@lru_cache(maxsize=256)
def _proposal(department: str) -> str:
    found = {"request_type": [], "topic": [], "department": department, "departments": [],
             "fallback": False}  # fmt: skip
    return json.dumps(found, ensure_ascii=False)


@lru_cache(maxsize=256)
def _accept_details(department: str) -> str:
    return json.dumps({"proposed_department": department}, ensure_ascii=False)


_DETAILS: dict[tuple[tuple[str, str], ...], str] = {}


def _details(details: dict[str, str]) -> str:
    if not details:
        return "{}"
    key = tuple(details.items())
    found = _DETAILS.get(key)
    if found is None:
        found = _DETAILS[key] = json.dumps(details, ensure_ascii=False)
    return found


# --- defective values (each verified to fail its check) ----------------------------------


def bad_phone(rng: random.Random, number: str) -> str:
    for _ in range(20):
        digits = number.replace("-", "")
        way = rng.randrange(4)
        if way == 0:
            value = digits[:-1]  # a digit lost
        elif way == 1:
            value = digits + str(rng.randint(0, 9))  # one too many
        elif way == 2:
            i = rng.randrange(2, len(digits))
            value = digits[:i] + rng.choice("OlB") + digits[i + 1 :]  # a letter
        else:
            value = "0" + digits[1:6]
        if check_phone(value) is not None:
            return value
    return "123"


def bad_id_card(rng: random.Random, plain: str) -> str:
    if rng.random() < 0.7:
        codes = [c for c in "0123456789X" if c != plain[17]]
        value = plain[:17] + rng.choice(codes)  # wrong check digit
    else:
        from callcenter.data.checks import id_card_check_digit

        first17 = plain[:10] + "13" + plain[12:17]  # month 13
        value = first17 + id_card_check_digit(first17)
    assert check_id_card(value) is not None
    return value


def bad_grid(rng: random.Random, code: str) -> str:
    """A grid code no grid has: street 000 (streets count from 001), a digit lost or one too
    many."""
    way = rng.randrange(3)
    if way == 0:
        return code[:6] + "000" + code[9:]
    if way == 1:
        return code[:-1]
    return code + str(rng.randint(0, 9))


def bad_uscc(rng: random.Random, code: str) -> str:
    from callcenter.data.checks import USCC_CHARSET

    if rng.random() < 0.8:
        value = code[:17] + rng.choice([c for c in USCC_CHARSET if c != code[17]])
    else:
        value = code[:9] + rng.choice("IOZSV") + code[10:]
    assert check_uscc(value) is not None
    return value


def request_types(settings: TicketSettings) -> frozenset[str]:
    """The dictionary of request types (config/tickets.toml deadlines)."""
    return frozenset(settings.deadlines.rules) or frozenset(REQUEST_TYPES)
