"""Who is who, as tables: names with typos, shared phones, ID numbers across phones,
enterprises, empty names, the chaining guard, calls / callbacks / 回访 that follow records."""

from __future__ import annotations

import pytest

from callcenter.data.fusion.match import (
    ENTERPRISE,
    PERSON,
    Cluster,
    Record,
    Ref,
    fuse,
    normalize_name,
    similar_names,
)

P1 = "13800000001"
P2 = "13900000002"
ID_A = "a" * 64
ID_B = "b" * 64
USCC = "91350100M000100Y43"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("张伟", "张伟", True),
        ("张伟", "张玮", True),  # one character, same pinyin (wei)
        ("张伟", "章伟", True),  # the surname misheard: zhang / zhang
        ("张伟", "张强", False),  # one character, another sound
        ("张伟", "李伟", False),
        ("张伟", "张伟伟", False),  # two characters: no edit-distance rule
        ("王小明", "王晓明", True),  # same pinyin
        ("王小明", "王小名", True),  # same pinyin (ming)
        ("王小明", "王大明", True),  # three characters, one edit outside the surname
        ("王小明", "王小", False),  # the shorter name has two characters
        ("欧阳娜娜", "欧阳娜", True),  # one character dropped
        ("王小明", "李小明", False),  # the surname differs and sounds different
        ("王小明", "王大力", False),  # two edits
        ("张伟", "", False),
        ("", "", False),
        ("Li Wei", "li wei", False),  # compared normalised only (see normalize_name)
    ],
)
def test_similar_names(a: str, b: str, same: bool) -> None:
    assert similar_names(a, b) is same
    assert similar_names(b, a) is same


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("张 伟", "张伟"), (" 李娜\t", "李娜"), ("匿名", ""), ("先生", ""), ("Li Wei", "liwei")],
)
def test_normalize_name(raw: str, normalized: str) -> None:
    assert normalize_name(raw) == normalized


def t(rid: str, phone: str = P1, name: str = "", id_hash: str = "", code: str = "") -> Record:
    return Record("ticket", rid, phone, name, id_hash, code, at=float(int(rid)))


def groups(clusters: list[Cluster], kind: str) -> set[frozenset[str]]:
    return {
        frozenset(f"{m.record_type}:{m.record_id}" for m in c.members)
        for c in clusters
        if c.kind == kind
    }


def g(*ids: str) -> frozenset[str]:
    return frozenset(i if ":" in i else f"ticket:{i}" for i in ids)


CASES = [
    pytest.param([t("1", name="张伟"), t("2", name="张伟")], {g("1", "2")}, set(), id="same name"),
    pytest.param(
        [t("1", name="张伟"), t("2", name="李娜")],
        {g("1"), g("2")},
        set(),
        id="shared phone with two names: two people",
    ),
    pytest.param(
        [t("1", name="张伟"), t("2", name="张玮"), t("3", name="张 伟")],
        {g("1", "2", "3")},
        set(),
        id="typo: one person",
    ),
    pytest.param(
        [t("1", name="张伟", phone=P1), t("2", name="张伟", phone=P2)],
        {g("1"), g("2")},
        set(),
        id="same name on two phones is not a key",
    ),
    pytest.param(
        [t("1", P1, "张伟", ID_A), t("2", P2, "张大伟", ID_A)],
        {g("1", "2")},
        set(),
        id="ID hash across two phones and names",
    ),
    pytest.param(
        [t("1", P1, "张伟", ID_A), t("2", P1, "张伟", ID_B), t("3", P1, "张伟")],
        {g("1", "3"), g("2")},
        set(),
        id="different ID hashes never merge, even with the same phone and name",
    ),
    pytest.param(
        [t("1", P1, "张伟", code=USCC), t("2", P2, "李娜", code=USCC)],
        {g("1"), g("2")},
        {g("1", "2")},
        id="enterprise with two callers",
    ),
    pytest.param(
        [t("1", P1, "", code=USCC), t("2", P1, "李娜")],
        {g("2")},
        {g("1")},
        id="unidentified enterprise caller: the enterprise only",
    ),
    pytest.param(
        [t("1", name="张伟"), t("2", name="")],
        {g("1", "2")},
        set(),
        id="empty name on a one-person phone",
    ),
    pytest.param(
        [t("1", name="张伟"), t("2", name="李娜"), t("3", name=""), t("4", name="匿名")],
        {g("1"), g("2"), g("3", "4")},
        set(),
        id="empty names on a shared phone: the phone's unidentified profile",
    ),
    pytest.param(
        [t("1", name=""), t("2", name="")],
        {g("1", "2")},
        set(),
        id="only empty names on a phone",
    ),
    pytest.param(
        [t("1", name="张伟"), t("2", name="张玮"), t("3", name="章伟"), t("4", name="章玮")],
        {g("1", "2", "3"), g("4")},
        set(),
        id="variants within one typo of the canonical name; two typos are someone else",
    ),
    pytest.param(
        [t("1", name="王小明"), t("2", name="王小红"), t("3", name="王晓红")],
        {g("1", "2"), g("3")},
        set(),
        id="chaining guard: 王晓红 is compared with 王小明, not with 王小红",
    ),
    pytest.param(
        [t("1", name="张伟"), t("2", name="张强"), t("3", name="张伟", phone=P2, id_hash=ID_A)],
        {g("1"), g("2"), g("3")},
        set(),
        id="a name alone never crosses phones",
    ),
    pytest.param(
        [t("1", name="", id_hash=ID_A), t("2", name="李娜", phone=P2, id_hash=ID_A)],
        {g("1", "2")},
        set(),
        id="empty name with an ID hash",
    ),
    pytest.param([t("1", phone="", name="张伟")], set(), set(), id="a name without a phone"),
]


@pytest.mark.parametrize(("records", "people", "enterprises"), CASES)
def test_fuse_clusters(
    records: list[Record], people: set[frozenset[str]], enterprises: set[frozenset[str]]
) -> None:
    found = fuse(records).clusters
    assert groups(found, PERSON) == people
    assert groups(found, ENTERPRISE) == enterprises


def test_vias_and_profile_fields() -> None:
    records = [
        t("1", P1, "张玮"),
        t("2", P1, "张伟"),
        t("3", P2, "张伟", ID_A),
        t("4", P2, "张伟", ID_A),
        t("5", P1, "张伟", ID_A),
        Record("ticket", "6", P1, "", "", USCC, 6.0, "某某科技有限公司"),
    ]
    fusion = fuse(records)
    (person,) = [c for c in fusion.clusters if c.kind == PERSON]
    (firm,) = [c for c in fusion.clusters if c.kind == ENTERPRISE]
    assert [(m.record_id, m.via) for m in person.members] == [
        ("1", "phone+name"),
        ("2", "phone+name"),
        ("3", "id_card"),
        ("4", "id_card"),
        ("5", "id_card"),
    ]
    assert (person.name, person.id_hash, person.key) == ("张伟", ID_A, f"id:{ID_A}")
    assert person.phone in (P1, P2)
    assert (person.first_seen, person.last_seen) == (1.0, 5.0)
    assert (firm.name, firm.enterprise_code, firm.key) == ("某某科技有限公司", USCC, f"uscc:{USCC}")
    assert [(m.record_id, m.via) for m in firm.members] == [("6", "enterprise")]


def test_calls_callbacks_and_surveys_follow() -> None:
    records = [
        t("1", P1, "张伟"),
        t("2", P1, "李娜"),
        t("3", P2, "王芳", code=USCC),
        Record("call", "c1", P1, at=10.0, follows=(Ref("ticket", "2"),)),
        Record("callback", "c1", P1, at=11.0, follows=(Ref("call", "c1"),)),
        Record("call", "c2", P1, at=12.0),  # no ticket, the phone has two people
        Record("call", "c3", P2, at=13.0),  # no ticket, the phone has one person
        Record("call", "c4", P2, at=14.0, follows=(Ref("ticket", "3"),)),
        Record("survey", "9", P2, at=15.0, follows=(Ref("ticket", "3"),)),
        Record("callback", "c5", "", at=16.0, follows=(Ref("call", "missing"),)),
        Record("call", "c6", "", at=17.0),
    ]
    fusion = fuse(records)
    by_key = {c.key: c for c in fusion.clusters}
    li = by_key[f"name:{P1}|李娜"]
    assert [(m.record_type, m.record_id, m.via) for m in li.members] == [
        ("ticket", "2", "phone+name"),
        ("call", "c1", "call"),
        ("callback", "c1", "call"),
    ]
    assert [(m.record_id, m.via) for m in by_key[f"phone:{P1}"].members] == [("c2", "phone")]
    wang = [(m.record_type, m.record_id, m.via) for m in by_key[f"name:{P2}|王芳"].members]
    assert wang == [
        ("ticket", "3", "phone+name"),
        ("call", "c3", "phone"),
        ("call", "c4", "call"),
        ("survey", "9", "ticket"),
    ]
    firm = [(m.record_type, m.record_id, m.via) for m in by_key[f"uscc:{USCC}"].members]
    assert firm == [
        ("ticket", "3", "enterprise"),
        ("call", "c4", "call"),
        ("survey", "9", "ticket"),
    ]
    assert fusion.unlinked == 2


def test_order_does_not_matter() -> None:
    records = [
        t("1", P1, "张伟"),
        t("2", P1, "李娜"),
        t("3", P1, "张玮"),
        t("4", P1, ""),
        Record("call", "c1", P1, at=10.0, follows=(Ref("ticket", "3"),)),
        Record("callback", "c1", P1, at=11.0, follows=(Ref("call", "c1"),)),
    ]

    def shape(rs: list[Record]) -> set[tuple[str, frozenset[tuple[str, str, str]]]]:
        return {
            (c.key, frozenset((m.record_type, m.record_id, m.via) for m in c.members))
            for c in fuse(rs).clusters
        }

    expected = shape(records)
    assert shape(list(reversed(records))) == expected
    assert shape(records[2:] + records[:2]) == expected
    assert (
        f"name:{P1}|张伟",
        frozenset(
            {("ticket", "1", "phone+name")}
            | {("ticket", "3", "phone+name"), ("call", "c1", "call"), ("callback", "c1", "call")}
        ),
    ) in expected
