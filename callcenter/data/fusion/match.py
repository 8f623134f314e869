"""Who is who (GB/T 44192 6.3): records of one citizen or one enterprise, found by their keys.

Pure: records in, clusters out. Keys, strongest first:

1. `id_hash` (the blind index of the ID number): the same hash is the same person, whatever
   the phone or the name. Two different hashes are never merged by a weaker key.
2. `enterprise_code` (USCC): the same code is the same enterprise. An enterprise record also
   belongs to the person who called, when that person is identified (a name or an ID hash).
3. phone + name: on one phone, the same name, or a name that differs only by a typo (see
   `similar_names`), is the same person; clearly different names on one phone are different
   people (a family line, a shop phone). Each name is compared with the *canonical* name of
   each person already found on that phone (the first name seen), never with other variants,
   so 张伟 ~ 张玮 ~ 章玮 cannot chain 张伟 to a different person through a middle spelling.

A record without a name or ID hash (and no enterprise) is attached by its phone: to the
phone's one person when the phone has exactly one, else to the phone's *unidentified*
profile (kind person, empty name). A record that follows others (a call after the tickets
made from it, a callback after its call, a 回访 after its ticket) belongs to the profiles of
what it follows; when those have none, the phone rule applies to it.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from pypinyin import lazy_pinyin

from callcenter.data.checks import normalize_phone

PERSON = "person"
ENTERPRISE = "enterprise"

VIA_ID_CARD = "id_card"
VIA_ENTERPRISE = "enterprise"
VIA_PHONE_NAME = "phone+name"
VIA_PHONE = "phone"
VIA_CALL = "call"  # by call id: a call and the tickets made from it, a callback and its call
VIA_TICKET = "ticket"  # by ticket id: a 回访 and its ticket
VIAS = (VIA_ID_CARD, VIA_ENTERPRISE, VIA_PHONE_NAME, VIA_PHONE, VIA_CALL, VIA_TICKET)

# What callers say instead of a name: no identity at all.
PLACEHOLDER_NAMES = frozenset({"匿名", "未知", "不详", "无", "无名", "市民", "先生", "女士"})


class Ref(NamedTuple):
    record_type: str
    record_id: str


class Record(NamedTuple):
    """One ticket, call, callback or survey as far as identity goes."""

    record_type: str
    record_id: str
    phone: str = ""
    name: str = ""
    id_hash: str = ""
    enterprise_code: str = ""
    at: float = 0.0
    enterprise_name: str = ""
    follows: tuple[Ref, ...] = ()  # the records this one belongs with (see module doc)


class Member(NamedTuple):
    record_type: str
    record_id: str
    via: str
    at: float


@dataclass
class Cluster:
    """One profile: a person or an enterprise and its records, oldest first."""

    kind: str
    key: str  # what makes it unique: "id:<hash>", "name:<phone>|<name>", "phone:<p>", "uscc:<c>"
    name: str = ""
    phone: str = ""
    id_hash: str = ""
    enterprise_code: str = ""
    members: list[Member] = field(default_factory=list)

    @property
    def first_seen(self) -> float:
        return min(m.at for m in self.members)

    @property
    def last_seen(self) -> float:
        return max(m.at for m in self.members)

    @property
    def identified(self) -> bool:
        return self.kind == ENTERPRISE or bool(self.name or self.id_hash)


@dataclass(frozen=True)
class Fusion:
    clusters: list[Cluster]
    unlinked: int  # records no key could place (no phone, no name, no ID, no enterprise)


# --- names -----------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """A caller's name without spaces; placeholders (匿名, 先生...) count as no name."""
    value = "".join(name.split()).casefold()
    return "" if value in PLACEHOLDER_NAMES else value


@lru_cache(maxsize=65536)
def _pinyin(char: str) -> str:
    return "".join(lazy_pinyin(char))


def _one_edit(a: str, b: str) -> int | None:
    """The position of the single edit that turns a into b, or None when it takes more (or
    none)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return None
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return diffs[0] if len(diffs) == 1 else None
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return i if short[i:] == long[i + 1 :] else None


def similar_names(a: str, b: str) -> bool:
    """The same person's name, allowing one typo: equal; or the same length with one character
    different that sounds the same (pinyin without tones: 张伟 / 张玮); or, for names of three
    characters or more, one character changed, added or dropped outside the surname
    (王小明 / 王晓明). Names are compared normalised (`normalize_name`)."""
    if not a or not b:
        return False
    if a == b:
        return True
    at = _one_edit(a, b)
    if at is None:
        return False
    if len(a) == len(b) and _pinyin(a[at]) == _pinyin(b[at]) and _pinyin(a[at]).isalpha():
        return True
    return min(len(a), len(b)) >= 3 and at > 0


# --- union-find that never joins two different ID numbers -------------------------------


class _People:
    def __init__(self, id_hashes: Sequence[str], rank: Mapping[int, int]) -> None:
        self.parent = list(range(len(id_hashes)))
        self.ident = list(id_hashes)
        self.rank = rank  # the root of a set is its earliest record, whatever the input order

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        """Join a and b; refused (False) when they carry different ID hashes."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ia, ib = self.ident[ra], self.ident[rb]
        if ia and ib and ia != ib:
            return False
        root, child = (ra, rb) if self.rank[ra] < self.rank[rb] else (rb, ra)
        self.parent[child] = root
        self.ident[root] = ia or ib
        return True


# --- fusion ----------------------------------------------------------------------------------


class _Builder:
    """A profile being gathered (plain slots and dicts: there are a million of them)."""

    __slots__ = ("enterprise_code", "id_hash", "key", "kind", "members", "names", "phones")

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        self.id_hash = ""
        self.enterprise_code = ""
        self.members: list[Member] = []
        self.names: dict[str, int] | None = None  # name -> times, in first-seen order
        self.phones: dict[str, tuple[int, float]] | None = None  # phone -> (times, last at)

    def add(self, record: Record, via: str, name: str = "", phone: str = "") -> None:
        self.members.append(Member(record.record_type, record.record_id, via, record.at))
        if name:
            if self.names is None:
                self.names = {}
            self.names[name] = self.names.get(name, 0) + 1
        if phone:
            if self.phones is None:
                self.phones = {}
            times, last = self.phones.get(phone, (0, record.at))
            self.phones[phone] = (times + 1, max(last, record.at))

    def build(self) -> Cluster:
        # the most frequent name (the earliest seen of equals) and the most frequent phone
        # (the most recently used of equals)
        names, phones = self.names, self.phones
        name = max(names, key=names.__getitem__) if names else ""
        phone = max(phones, key=phones.__getitem__) if phones else ""
        members = self.members
        if len(members) > 1:
            members.sort(key=lambda m: (m.at, m.record_type, m.record_id))
        return Cluster(
            self.kind, self.key, name, phone, self.id_hash, self.enterprise_code, members
        )


def _name_groups(names: Iterable[str]) -> dict[str, int]:
    """Each distinct name on one phone -> its person (0, 1, ...), compared with each
    person's canonical (first) name only."""
    canonical: list[str] = []
    group: dict[str, int] = {}
    for name in names:
        if name in group:
            continue
        for i, canon in enumerate(canonical):
            if similar_names(name, canon):
                group[name] = i
                break
        else:
            group[name] = len(canonical)
            canonical.append(name)
    return group


def _normalized(values: Iterable[str], normalize: Callable[[str], str]) -> list[str]:
    """Each value normalised, once per distinct value (the results are shared objects)."""
    cache: dict[str, str] = {}
    out: list[str] = []
    for value in values:
        found = cache.get(value)
        if found is None:
            found = cache[value] = normalize(value)
        out.append(found)
    return out


def fuse(records: Sequence[Record]) -> Fusion:
    """Cluster records into person and enterprise profiles (see the module doc)."""
    collecting = gc.isenabled()
    gc.disable()  # millions of small objects and no cycles: the collector would only rescan
    try:
        return _fuse(records)
    finally:
        if collecting:
            gc.enable()


def _fuse(records: Sequence[Record]) -> Fusion:
    n = len(records)
    phones = _normalized((r.phone for r in records), normalize_phone)
    names = _normalized((r.name for r in records), normalize_name)
    hashes = _normalized((r.id_hash for r in records), str.strip)
    codes = _normalized((r.enterprise_code for r in records), lambda c: c.strip().upper())
    targets = {ref for r in records if r.follows for ref in r.follows}

    # identified people: an ID hash, or a name on a phone; earliest first
    people = [i for i in range(n) if hashes[i] or (names[i] and phones[i])]
    people.sort(key=lambda i: (records[i].at, records[i].record_type, records[i].record_id))
    rank = {i: position for position, i in enumerate(people)}
    uf = _People(hashes, rank)
    by_hash: dict[str, int] = {}
    by_phone: dict[str, list[int]] = defaultdict(list)
    for i in people:
        if hashes[i]:
            uf.union(by_hash.setdefault(hashes[i], i), i)
        if names[i] and phones[i]:
            by_phone[phones[i]].append(i)
    for members in by_phone.values():
        if len(members) == 1:
            continue
        groups = _name_groups(names[i] for i in members)
        anchors: dict[int, int] = {}
        for i in members:
            uf.union(anchors.setdefault(groups[names[i]], i), i)

    builders: dict[str, _Builder] = {}
    of_record: dict[Ref, list[_Builder]] = {}

    def builder(kind: str, key: str) -> _Builder:
        found = builders.get(key)
        if found is None:
            found = builders[key] = _Builder(kind, key)
        return found

    def remember(record: Record, b: _Builder) -> None:
        ref = Ref(record.record_type, record.record_id)
        if ref in targets:
            of_record.setdefault(ref, []).append(b)

    person_of_root: dict[int, _Builder] = {}
    persons_on_phone: dict[str, set[int]] = defaultdict(set)
    for i in people:
        root = uf.find(i)
        if phones[i]:
            persons_on_phone[phones[i]].add(root)
        b = person_of_root.get(root)
        if b is None:
            ident = uf.ident[root]
            if ident:
                b = builder(PERSON, f"id:{ident}")
                b.id_hash = ident
            else:
                b = builder(PERSON, f"name:{phones[root]}|{names[root]}")
            person_of_root[root] = b
        r = records[i]
        shown = "".join(r.name.split()) if names[i] else ""
        b.add(r, VIA_ID_CARD if hashes[i] else VIA_PHONE_NAME, shown, phones[i])
        remember(r, b)

    def phone_person(phone: str) -> _Builder:
        roots = persons_on_phone.get(phone)
        if roots is not None and len(roots) == 1:
            return person_of_root[next(iter(roots))]
        return builder(PERSON, f"phone:{phone}")

    ent_names: dict[str, Counter[str]] = defaultdict(Counter)
    for i, r in enumerate(records):
        if codes[i]:
            b = builder(ENTERPRISE, f"uscc:{codes[i]}")
            b.enterprise_code = codes[i]
            b.add(r, VIA_ENTERPRISE, phone=phones[i])
            if r.enterprise_name.strip():
                ent_names[codes[i]][r.enterprise_name.strip()] += 1
            remember(r, b)

    index = {Ref(r.record_type, r.record_id): i for i, r in enumerate(records) if r.follows}
    placing: set[int] = set()
    placed: set[int] = set()

    def place(i: int) -> list[_Builder]:
        """The profiles of a record without identity of its own: those of the records it
        follows, else its phone's person (placed once, on first need)."""
        r = records[i]
        if i in placed or i in placing:
            return of_record.get(Ref(r.record_type, r.record_id), [])
        placing.add(i)
        found: list[_Builder] = []
        for target in r.follows:
            j = index.get(target)
            via = VIA_CALL if VIA_CALL in (r.record_type, target.record_type) else VIA_TICKET
            for b in place(j) if j is not None else of_record.get(target, []):
                if b not in found:
                    found.append(b)
                    b.add(r, via)
        if not found and phones[i]:
            b = phone_person(phones[i])
            b.add(r, VIA_PHONE, phone=phones[i])
            found.append(b)
        placing.discard(i)
        placed.add(i)
        ref = Ref(r.record_type, r.record_id)
        if found and ref in targets:
            of_record[ref] = found
        return found

    unlinked = 0
    for i in range(n):
        if hashes[i] or (names[i] and phones[i]) or codes[i]:
            continue
        if not place(i):
            unlinked += 1

    clusters = []
    for b in builders.values():
        cluster = b.build()
        if b.kind == ENTERPRISE and ent_names[b.enterprise_code]:
            cluster.name = ent_names[b.enterprise_code].most_common(1)[0][0]
        clusters.append(cluster)
    clusters.sort(key=lambda c: (c.first_seen, c.kind, c.key))
    return Fusion(clusters, unlinked)


__all__ = [
    "ENTERPRISE",
    "PERSON",
    "PLACEHOLDER_NAMES",
    "VIAS",
    "Cluster",
    "Fusion",
    "Member",
    "Record",
    "Ref",
    "fuse",
    "normalize_name",
    "similar_names",
]
