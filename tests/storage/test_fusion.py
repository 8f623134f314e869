"""Data fusion on SQLite and PostgreSQL: a shared family phone is not merged, typos are, an ID
number links two phones, an enterprise gathers its callers' tickets, calls / callbacks / 回访
follow their tickets, tickets are filed under the three topic libraries, and a rebuild over
the same data gives the same profiles and links."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from callcenter.data.crypto import INDEX_ENV, KEYS_ENV, FieldCipher, generate_key
from callcenter.data.crypto import ephemeral_cipher as _phone_keys
from callcenter.data.fusion.browse import (
    PERSONAL_KEYS,
    find_profiles,
    profile_history,
    record_profiles,
)
from callcenter.data.fusion.build import main_fuse, rebuild
from callcenter.data.fusion.topics import library_terms, term_tickets
from callcenter.storage.database import Database
from callcenter.storage.schema import (
    Base,
    CallbackRecord,
    CallRecord,
    DataAccess,
    Profile,
    ProfileLink,
    RefDepartment,
    RefEnterprise,
    Survey,
    Ticket,
    TicketTopic,
)
from callcenter.tickets import service as store
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import TicketSettings, load_ticket_settings

PHONE_KEYS = _phone_keys()  # citizens' numbers are stored encrypted

REPO = Path(__file__).resolve().parents[2]
AGENT = Actor("1001", Role.AGENT)
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
FAMILY = "13800000001"
WANG_MOBILE = "13900000002"
WANG_OFFICE = "02812345678"
ZHAO = "13700000003"
QIAN = "13600000004"
STRANGER = "13500000005"
USCC = "91350100M000100Y43"
DATA_KEY, INDEX_KEY = generate_key(), generate_key()
CIPHER = FieldCipher([DATA_KEY.encode()], INDEX_KEY.encode())
WANG_ID = CIPHER.blind_index("11010519491231002X")

# (key, phone, name, content, department)
TICKETS: list[tuple[str, str, str, str, str | None]] = [
    ("zhang1", FAMILY, "张伟", "小区停水三天了，什么时候恢复供水", "water"),
    ("li", FAMILY, "李娜", "楼下工地夜间施工噪音太大，影响休息", "env_branch"),
    ("zhang2", FAMILY, "张玮", "家里燃气表漏气，需要抢修", "gas"),
    ("nobody", FAMILY, "", "想咨询公交线路调整的情况", None),
    ("wang1", WANG_MOBILE, "王芳", "医保报销比例是多少，需要什么材料", "medical_insurance"),
    ("wang2", WANG_OFFICE, "王小芳", "孩子小学入学划片怎么查询", "education"),
    ("zhao", ZHAO, "赵强", "公司员工工资被拖欠两个月", "labor"),
    ("qian", QIAN, "钱明", "公司门口违章停车堵住出入口", "traffic_police"),
]


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(REPO / "config")


def seed(database: Database, settings: TicketSettings) -> dict[str, int]:
    database.upgrade()
    ids: dict[str, int] = {}
    for n, (key, phone, name, content, _dept) in enumerate(TICKETS):
        intake = store.Intake(
            channel="phone",
            content=content,
            caller_number=phone,
            caller_name=name,
            call_id="c1" if n == 0 else None,
        )
        with database.session() as s, s.begin():
            made = store.create(s, settings, intake, AGENT, T0 + timedelta(hours=n), cipher=CIPHER)
        assert not made.linked
        ids[key] = made.ticket.id

    def columns(s: Session) -> None:
        for key, _phone, _name, _content, dept in TICKETS:
            s.execute(update(Ticket).where(Ticket.id == ids[key]).values(department=dept))
        s.execute(
            update(Ticket)
            .where(Ticket.id.in_((ids["wang1"], ids["wang2"])))
            .values(id_card=CIPHER.encrypt("11010519491231002X"), id_card_hash=WANG_ID)
        )
        s.execute(
            update(Ticket)
            .where(Ticket.id.in_((ids["zhao"], ids["qian"])))
            .values(enterprise_code=USCC, enterprise_name="某某贸易公司")
        )
        s.execute(update(Ticket).where(Ticket.id == ids["qian"]).values(request_type="乱码"))
        s.add_all(
            [
                RefDepartment(code="env_bureau", name="市生态环境局", function="生态环境保护"),
                RefDepartment(code="env_branch", name="分局", parent="env_bureau", function=""),
                RefDepartment(code="water", name="市水务集团", function="城乡建设"),
                RefEnterprise(code=USCC, name="某某贸易有限公司"),
            ]
        )
        at = T0.timestamp()
        s.add_all(
            [
                call("c1", FAMILY, at - 60),  # the call ticket zhang1 was made from
                call("c2", WANG_MOBILE, at + 20_000),  # no ticket, one person on the phone
                call("c3", FAMILY, at + 30_000),  # no ticket, a shared phone
                call("c4", STRANGER, at + 40_000),  # nobody known
                CallbackRecord(
                    call_id="c1",
                    node="n1",
                    **sealed(FAMILY),
                    skill="general",
                    priority=0,
                    arrived_at=at - 60,
                    requested_at=at - 30,
                    state="completed",
                    updated_at=at - 10,
                ),
                CallbackRecord(
                    call_id="c9",  # its call was purged: the number places it
                    node="n1",
                    **sealed(ZHAO),
                    skill="general",
                    priority=0,
                    arrived_at=at + 50_000,
                    requested_at=at + 50_010,
                    state="unreached",
                    updated_at=at + 50_100,
                ),
                Survey(
                    ticket_id=ids["wang1"],
                    number=WANG_MOBILE,
                    state="rated",
                    due_at=at + 60_000,
                    rating="满意",
                    created_at=at + 60_000,
                    updated_at=at + 61_000,
                ),
            ]
        )

    database.transaction(columns)
    return ids


def sealed(number: str) -> dict[str, str]:
    """A callback's number as the recorder stores it: ciphertext and blind index."""
    stored, index = CIPHER.seal_phone(number)
    return {"number": stored, "number_hash": index}


def call(call_id: str, number: str, at: float) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        node="n1",
        did="12345",
        hotline="12345",
        region="",
        caller_number=CIPHER.encrypt(number),
        caller_number_hash=CIPHER.phone_index(number),
        skill="general",
        priority=0,
        joined_at=at,
        leave_reason="answered",
        talk_seconds=90.0,
    )


def items(history: dict[str, object] | None) -> list[dict[str, Any]]:
    assert history is not None
    records = history["records"]
    assert isinstance(records, list)
    return records


def links_of(s: Session, profile_id: int) -> list[tuple[str, str, str]]:
    rows = s.execute(
        select(ProfileLink.record_type, ProfileLink.record_id, ProfileLink.via)
        .where(ProfileLink.profile_id == profile_id)
        .order_by(ProfileLink.at)
    )
    return [(t, i, v) for t, i, v in rows]


def snapshot(database: Database) -> tuple[list[tuple[object, ...]], ...]:
    with database.session() as s:
        profiles = s.execute(
            select(
                Profile.id,
                Profile.kind,
                Profile.name,
                Profile.phone_hash,  # the phone itself is ciphertext: a new IV each run
                Profile.id_card_hash,
                Profile.enterprise_code,
                Profile.records,
                Profile.first_seen,
                Profile.last_seen,
            ).order_by(Profile.id)
        )
        links = s.execute(select(ProfileLink.__table__).order_by(*ProfileLink.__table__.c))
        topics = s.execute(select(TicketTopic.__table__).order_by(*TicketTopic.__table__.c))
        return [tuple(r) for r in profiles], [tuple(r) for r in links], [tuple(r) for r in topics]


def test_fusion_builds_profiles(database: Database, settings: TicketSettings) -> None:
    ids = seed(database, settings)
    stats = rebuild(database.engine, settings, now=1_800_000_000.0, cipher=CIPHER)
    assert (stats.tickets, stats.calls, stats.callbacks, stats.surveys) == (8, 4, 2, 1)
    # 张伟 (+张玮), 李娜, the family phone's unidentified profile, 王芳 (two phones), 赵强,
    # 钱明, the stranger's phone
    assert stats.profiles == {"person": 7, "enterprise": 1, "unidentified": 2}
    assert stats.links == {
        "phone+name": 5,  # 张伟, 张玮, 李娜, 赵强, 钱明
        "id_card": 2,  # 王芳 and 王小芳
        "enterprise": 2,
        "phone": 5,  # the nameless ticket, calls c2, c3, c4, callback c9
        "call": 2,  # call c1 and its callback
        "ticket": 1,  # the 回访
    }
    assert stats.unlinked == 0
    assert stats.topics == {"function": 8, "domain": 8, "category": 8}

    t = {key: str(value) for key, value in ids.items()}
    with database.session() as s:
        family = find_profiles(
            s, phone=FAMILY, phone_index=CIPHER.phone_index(FAMILY), cipher=CIPHER
        )
        assert sorted(str(p["name"]) for p in family) == ["", "张伟", "李娜"]
        (zhang,) = [p for p in family if p["name"] == "张伟"]
        assert (zhang["kind"], zhang["phone"], zhang["records"]) == ("person", FAMILY, 4)
        assert links_of(s, int(str(zhang["id"]))) == [
            ("call", "c1", "call"),
            ("callback", "c1", "call"),
            ("ticket", t["zhang1"], "phone+name"),
            ("ticket", t["zhang2"], "phone+name"),
        ]
        (li,) = [p for p in family if p["name"] == "李娜"]
        assert links_of(s, int(str(li["id"]))) == [("ticket", t["li"], "phone+name")]
        (unknown,) = [p for p in family if p["name"] == ""]
        assert links_of(s, int(str(unknown["id"]))) == [
            ("ticket", t["nobody"], "phone"),
            ("call", "c3", "phone"),
        ]

        (wang,) = find_profiles(s, id_hash=WANG_ID)
        assert (wang["name"], wang["id_card_hash"], wang["records"]) == ("王芳", WANG_ID, 4)
        assert links_of(s, int(str(wang["id"]))) == [
            ("ticket", t["wang1"], "id_card"),
            ("ticket", t["wang2"], "id_card"),
            ("call", "c2", "phone"),
            ("survey", str(s.scalar(select(Survey.id))), "ticket"),
        ]
        assert [
            p["id"]
            for p in find_profiles(
                s, phone=WANG_OFFICE, phone_index=CIPHER.phone_index(WANG_OFFICE)
            )
        ] == [wang["id"]]
        assert find_profiles(s, name="王小芳") == []  # the profile carries its main name

        (firm,) = find_profiles(s, enterprise_code=USCC.lower())
        assert (firm["kind"], firm["name"], firm["records"]) == (
            "enterprise",
            "某某贸易有限公司",
            2,
        )
        owners = record_profiles(s, "ticket", t["zhao"])
        assert sorted(str(p["kind"]) + str(p["name"]) for p in owners) == [
            "enterprise某某贸易有限公司",
            "person赵强",
        ]
        (zhao,) = find_profiles(s, name="赵强")
        assert links_of(s, int(str(zhao["id"]))) == [
            ("ticket", t["zhao"], "phone+name"),
            ("callback", "c9", "phone"),
        ]
        (stranger,) = find_profiles(s, phone=STRANGER, phone_index=CIPHER.phone_index(STRANGER))
        assert links_of(s, int(str(stranger["id"]))) == [("call", "c4", "phone")]
        assert find_profiles(s) == []


def test_history_newest_first_with_raw_values(database: Database, settings: TicketSettings) -> None:
    ids = seed(database, settings)
    rebuild(database.engine, settings, cipher=CIPHER)
    with database.session() as s:
        (zhang,) = find_profiles(
            s, phone=FAMILY, phone_index=CIPHER.phone_index(FAMILY), name="张伟"
        )
        history = profile_history(s, int(str(zhang["id"])), limit=3, cipher=CIPHER)
        assert history is not None
        assert (history["total"], history["limit"], history["offset"]) == (4, 3, 0)
        records = items(history)
        assert [(r["record_type"], r["table"]) for r in records] == [
            ("ticket", "tickets"),
            ("ticket", "tickets"),
            ("callback", "callbacks"),
        ]
        newest = records[0]["fields"]
        assert newest["id"] == ids["zhang2"] and newest["caller_name"] == "张玮"
        assert newest["caller_number"] == FAMILY  # raw: the caller masks by role
        assert newest["status"] == "accepted" and str(newest["number"]).startswith("2026")
        assert set(PERSONAL_KEYS["tickets"]) <= set(newest)
        (oldest,) = items(
            profile_history(s, int(str(zhang["id"])), limit=3, offset=3, cipher=CIPHER)
        )
        assert oldest["record_type"] == "call" and oldest["via"] == "call"
        assert oldest["fields"]["leave_reason"] == "answered"
        assert oldest["fields"]["caller_number"] == FAMILY
        assert profile_history(s, 999_999) is None


def test_topic_libraries(database: Database, settings: TicketSettings) -> None:
    ids = seed(database, settings)
    rebuild(database.engine, settings, cipher=CIPHER)
    with database.session() as s:
        # ref_departments first (water overridden, env_branch inherits from its parent),
        # then the fallback mapping; 未派单 before dispatch
        assert library_terms(s, "function") == [
            {"term": "公共服务", "tickets": 4},  # gas, medical_insurance, education, labor
            {"term": "城乡建设", "tickets": 1},  # water: the directory overrides the fallback
            {"term": "未派单", "tickets": 1},
            {"term": "生态环境保护", "tickets": 1},  # env_branch inherits from env_bureau
            {"term": "社会管理", "tickets": 1},  # traffic_police
        ]
        domains = {str(r["term"]): r["tickets"] for r in library_terms(s, "domain")}
        assert domains == {
            "供水停水": 1,
            "公交线路": 1,
            "医保": 1,
            "拖欠工资": 1,
            "教育入学": 1,
            "施工噪音": 1,
            "燃气": 1,
            "违章停车": 1,
        }
        categories = {str(r["term"]): r["tickets"] for r in library_terms(s, "category")}
        assert categories["其他"] == 1  # request_type 乱码 is not in the dictionary
        assert sum(int(str(n)) for n in categories.values()) == 8
        assert set(categories) <= {"咨询", "求助", "投诉", "举报", "意见建议", "其他"}
        page = term_tickets(s, "function", "公共服务", limit=2)
        assert (page["total"], page["library"], page["term"]) == (4, "function", "公共服务")
        listed = page["tickets"]
        assert isinstance(listed, list)
        assert [r["id"] for r in listed] == [ids["zhao"], ids["wang2"]]
        rest = term_tickets(s, "function", "公共服务", limit=2, offset=2)["tickets"]
        assert isinstance(rest, list)
        assert [r["id"] for r in rest] == [ids["wang1"], ids["zhang2"]]
        with pytest.raises(ValueError, match="unknown topic library"):
            library_terms(s, "mood")


def test_rebuild_is_idempotent(database: Database, settings: TicketSettings) -> None:
    seed(database, settings)
    first_stats = rebuild(database.engine, settings, cipher=CIPHER)
    first = snapshot(database)
    second_stats = rebuild(database.engine, settings, cipher=CIPHER)
    assert snapshot(database) == first
    assert (first_stats.profiles, first_stats.links) == (second_stats.profiles, second_stats.links)
    assert len(first[0]) == 8 and len(first[2]) == 24
    # the secondary indexes dropped for the bulk load are all back
    found = inspect(database.engine)
    for table in ("profiles", "profile_links", "ticket_topics"):
        expected = {i.name for i in Base.metadata.tables[table].indexes}
        assert expected and expected <= {i["name"] for i in found.get_indexes(table)}


def test_main_fuse_prints_a_summary(
    database: Database,
    settings: TicketSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With the data keys of the environment (the callers' numbers of calls and callbacks are
    encrypted); without them it stops (2) before changing anything."""
    seed(database, settings)
    monkeypatch.delenv("CALLCENTER_DATA_KEY_FILE", raising=False)
    monkeypatch.delenv(KEYS_ENV, raising=False)
    assert main_fuse(REPO / "config", database.url) == 2
    assert "密钥配置错误" in capsys.readouterr().err
    monkeypatch.setenv(KEYS_ENV, DATA_KEY)
    monkeypatch.setenv(INDEX_ENV, INDEX_KEY)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main_fuse(REPO / "config", database.url) == 0
    with database.session() as s:
        (logged,) = s.scalars(select(DataAccess).where(DataAccess.actor == "fusion")).all()
        assert (logged.role, logged.action, logged.dataset) == ("system", "decrypt", "calls")
        assert "distinct numbers decrypted" in logged.purpose
    text = out.getvalue()
    assert "数据融合完成：工单 8" in text and "企业 1" in text
    assert main_fuse(REPO / "no-such-config", database.url) == 2
