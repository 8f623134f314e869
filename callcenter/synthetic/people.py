"""The parties behind requests: citizens (names, phones, ID numbers, families sharing a fixed
line) and enterprises (valid unified social credit codes)."""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass
from datetime import date, timedelta

from callcenter.data.checks import USCC_CHARSET, id_card_check_digit, uscc_check_char
from callcenter.synthetic import vocab

FAMILY_SHARE = 0.06  # citizens living in a family that shares one fixed line
SECOND_MOBILE_SHARE = 0.05
COMPOUND_SURNAMES = frozenset(s for s, _ in vocab.SURNAMES if len(s) == 2)


@dataclass(frozen=True)
class Grid:
    code: str
    name: str
    street: str
    district: vocab.District


@dataclass(frozen=True)
class Citizen:
    key: str  # P000001: the truth behind every ticket (persons.csv)
    name: str
    phones: tuple[str, ...]  # the first is the usual one
    id_card: str  # valid GB 11643 (plain; stored encrypted)
    home: Grid
    compound: str
    building: str


@dataclass(frozen=True)
class Enterprise:
    key: str  # E00001
    code: str  # valid GB 32100
    name: str
    legal_person: str
    contact: str
    phone: str
    grid: Grid


def _weighted_picker(items: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    values = [v for v, _ in items]
    cum = list(itertools.accumulate(w for _, w in items))
    return values, cum


class NameMaker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames, self.cum = _weighted_picker(list(vocab.SURNAMES))

    def surname(self) -> str:
        return self.surnames[bisect.bisect(self.cum, self.rng.random() * self.cum[-1])]

    def given(self, male: bool) -> str:
        chars = vocab.GIVEN_MALE if male else vocab.GIVEN_FEMALE
        first = self.rng.choice(chars)
        if self.rng.random() < 0.35:
            return first
        return first + self.rng.choice(chars)

    def full(self, male: bool, surname: str = "") -> str:
        return (surname or self.surname()) + self.given(male)


def typo(name: str, rng: random.Random) -> str:
    """The name with one given-name character swapped for a homophone ('' if none can be)."""
    surname_len = 2 if name[:2] in COMPOUND_SURNAMES else 1
    spots = [i for i in range(surname_len, len(name)) if name[i] in vocab.HOMOPHONES]
    if not spots:
        return ""
    i = rng.choice(spots)
    return name[:i] + vocab.HOMOPHONES[name[i]] + name[i + 1 :]


def id_number(rng: random.Random, region: str, born: date, male: bool) -> str:
    order = rng.randrange(0, 500) * 2 + (1 if male else 0)
    first17 = f"{region}{born:%Y%m%d}{order:03d}"
    return first17 + id_card_check_digit(first17)


def uscc(rng: random.Random, region: str) -> str:
    """9 (工商) 1 (企业), the region, a 9-character organisation code, the check character."""
    body = "".join(rng.choice(USCC_CHARSET) for _ in range(9))
    first17 = f"91{region}{body}"
    return first17 + uscc_check_char(first17)


class Phones:
    """Distinct numbers: mobiles of allocated three-digit prefixes (each valid in phonenumbers'
    numbering plan of China, whatever the eight digits after it), fixed lines 010-6xxxxxxx.
    The random draws are those of the former 1[3-9] + 9 digits (the third digit picks among
    the allocated ones), so a seeded year stays the same apart from these digits."""

    PREFIXES = ("13", "15", "18", "17", "19", "14", "16")
    THIRD = {  # allocated third digits after each two-digit prefix
        "13": "0123456789",
        "14": "57",
        "15": "012356789",
        "16": "2567",
        "17": "01235678",
        "18": "0123456789",
        "19": "012356789",
    }

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _fresh(self, make: str) -> str:
        while True:
            p = self.rng.choice(self.PREFIXES)
            n9 = self.rng.randrange(100_000_000, 1_000_000_000)
            third = self.THIRD[p][(n9 // 100_000_000) % len(self.THIRD[p])]
            number = make.format(
                p=p + third,
                n8=f"{n9 % 100_000_000:08d}",
                n7=self.rng.randrange(2_000_000, 10_000_000),
            )
            if number not in self.used:
                self.used.add(number)
                return number

    def mobile(self) -> str:
        return self._fresh("{p}{n8}")

    def fixed(self) -> str:
        return self._fresh(vocab.AREA_CODE + "-6{n7}")


@dataclass
class Pools:
    citizens: list[Citizen]
    enterprises: list[Enterprise]
    heavy: int  # the first `heavy` citizens are the frequent callers


def building(rng: random.Random) -> str:
    return f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元"


def make_pools(
    rng: random.Random,
    grids: list[Grid],
    grid_cum: list[float],
    citizens: int,
    enterprises: int,
    today: date,
) -> Pools:
    names = NameMaker(rng)
    phones = Phones(rng)

    def home() -> Grid:
        return grids[bisect.bisect(grid_cum, rng.random() * grid_cum[-1])]

    def born(adult: bool = True) -> date:
        low, high = (18, 85) if adult else (3, 17)
        return today - timedelta(days=rng.randint(low * 365, high * 365))

    def region_of(grid: Grid) -> str:
        if rng.random() < 0.25:
            return rng.choice(vocab.OTHER_REGIONS)
        return grid.district.code

    people: list[Citizen] = []
    while len(people) < citizens:
        key = f"P{len(people) + 1:07d}"
        where = home()
        compound = vocab.compound_name(rng)
        flat = building(rng)
        if rng.random() < FAMILY_SHARE / 2.5 and citizens - len(people) >= 3:
            line = phones.fixed()
            size = rng.choice((2, 2, 3))
            surname = names.surname()
            family: list[str] = []
            for member in range(size):
                male = member == 0 or rng.random() < 0.5
                name = names.full(male, surname if member != 1 else "")
                while any(name[-1] == other[-1] or name == other for other in family):
                    name = names.full(male, surname if member != 1 else "")
                family.append(name)
                own = (phones.mobile(),) if rng.random() < 0.6 else ()
                people.append(
                    Citizen(
                        f"P{len(people) + 1:07d}",
                        name,
                        (line, *own),
                        id_number(rng, region_of(where), born(), male),
                        where,
                        compound,
                        flat,
                    )
                )
            continue
        male = rng.random() < 0.5
        numbers: tuple[str, ...] = (phones.mobile(),)
        if rng.random() < SECOND_MOBILE_SHARE:
            numbers = (*numbers, phones.mobile())
        people.append(
            Citizen(
                key,
                names.full(male),
                numbers,
                id_number(rng, region_of(where), born(), male),
                where,
                compound,
                flat,
            )
        )
    firms: list[Enterprise] = []
    codes: set[str] = set()
    firm_names: set[str] = set()
    while len(firms) < enterprises:
        where = home()
        code = uscc(rng, where.district.code)
        name = (
            vocab.CITY
            + rng.choice(vocab.ENTERPRISE_WORDS)
            + rng.choice(vocab.ENTERPRISE_WORDS)
            + rng.choice(vocab.ENTERPRISE_INDUSTRIES)
            + "有限公司"
        )
        if code in codes or name in firm_names:
            continue
        codes.add(code)
        firm_names.add(name)
        firms.append(
            Enterprise(
                f"E{len(firms) + 1:06d}",
                code,
                name,
                names.full(rng.random() < 0.7),
                names.full(rng.random() < 0.5),
                phones.mobile(),
                where,
            )
        )
    return Pools(people[:citizens], firms, heavy=max(5, citizens // 2000))
