"""The synthetic year, without a database: determinism, injected defects exactly where the
truth says (and natural rows clean), shared phones, name typos, lifecycle-true histories,
surges and clusters."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.config import load_config
from callcenter.data.checks import check_id_card, check_phone, check_uscc
from callcenter.data.crypto import FieldCipher, ephemeral_cipher
from callcenter.synthetic import vocab
from callcenter.synthetic.command import holiday_names
from callcenter.synthetic.people import typo
from callcenter.synthetic.year import (
    CALL_COLUMNS,
    HISTORY_COLUMNS,
    RULES,
    SURVEY_COLUMNS,
    TICKET_COLUMNS,
    Row,
    Year,
    YearSpec,
    bad_id_card,
    bad_phone,
    bad_uscc,
    request_types,
)
from callcenter.tickets import lifecycle
from callcenter.tickets.actions import (
    AcceptHandling,
    Action,
    Approve,
    Close,
    Dispatch,
    Evaluate,
    Redispatch,
    RejectReply,
    Reply,
    Return,
    Revisit,
    Supervise,
)
from callcenter.tickets.model import Actor, CallbackOutcome, Rating, Role, new_ticket
from callcenter.tickets.service import CHANNELS
from callcenter.tickets.settings import TicketSettings, load_ticket_settings

CONFIG = Path(__file__).resolve().parents[3] / "config"
TICKETS = 3000
RATE = 0.05


@dataclass
class Generated:
    year: Year
    cipher: FieldCipher
    tickets: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    raw: list[tuple[list[Row], list[Row], list[Row], list[Row]]] = field(default_factory=list)
    parties: dict[int, tuple[str, str]] = field(default_factory=dict)
    defects: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(CONFIG)


def _clear(cipher: FieldCipher, ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket with its number decrypted (stored as the store does: ciphertext and blind
    index), as the independent checks below read it; the stored values kept aside."""
    stored = ticket["caller_number"]
    ticket["sealed_number"] = stored
    ticket["caller_number"] = cipher.decrypt(stored) if stored else ""
    return ticket


def generate(settings: TicketSettings, seed: int, tickets: int = TICKETS) -> Generated:
    cipher = ephemeral_cipher()
    year = Year(
        YearSpec(tickets, seed=seed, start=date(2026, 1, 1), defect_rate=RATE),
        settings,
        load_config(CONFIG).numbers,
        cipher,
        holiday_names(CONFIG),
    )
    g = Generated(year, cipher)
    for b in year.batches(1000):
        g.raw.append((b.tickets, b.history, b.calls, b.surveys))
        g.tickets.extend(
            _clear(cipher, dict(zip(TICKET_COLUMNS, r, strict=True))) for r in b.tickets
        )
        g.history.extend(dict(zip(HISTORY_COLUMNS, r, strict=True)) for r in b.history)
        g.parties.update((t, (k, key)) for t, k, key in b.parties)
        g.defects.extend(b.defects)
    return g


@pytest.fixture(scope="module")
def year(settings: TicketSettings) -> Generated:
    return generate(settings, seed=11)


def _without_ciphertext(g: Generated) -> Iterator[object]:
    at = TICKET_COLUMNS.index("id_card")  # then id_card_hash: both depend on the keys
    number = TICKET_COLUMNS.index("caller_number")  # then caller_number_hash: the same
    phone = CALL_COLUMNS.index("caller_number")  # then caller_number_hash: the same
    survey = SURVEY_COLUMNS.index("number")  # then number_hash: the same
    for tickets, history, calls, surveys in g.raw:
        yield (
            [r[:number] + r[number + 2 : at] + r[at + 2 :] for r in tickets],
            history,
            [c[:phone] + c[phone + 2 :] for c in calls],
            [v[:survey] + v[survey + 2 :] for v in surveys],
        )


def test_same_seed_same_year_other_seed_other_year(
    settings: TicketSettings, year: Generated
) -> None:
    again = generate(settings, seed=11)
    assert list(_without_ciphertext(again)) == list(_without_ciphertext(year))
    assert again.defects == year.defects
    other = generate(settings, seed=12, tickets=300)
    assert [t["content"] for t in other.tickets[:50]] != [t["content"] for t in year.tickets[:50]]


def test_counts_and_ids(year: Generated) -> None:
    assert len(year.tickets) == TICKETS
    assert [t["id"] for t in year.tickets] == list(range(1, TICKETS + 1))
    assert len({t["number"] for t in year.tickets}) == TICKETS
    assert set(year.parties) == {t["id"] for t in year.tickets}
    counts = year.year.counts_of()
    assert counts["tickets"] == TICKETS
    assert counts["ticket_history"] == len(year.history)


def test_defect_rates_within_tolerance(year: Generated) -> None:
    per_rule: dict[str, int] = defaultdict(int)
    for d in year.defects:
        per_rule[d["rule"]] += 1
    expected = TICKETS * RATE
    assert 0.7 * expected <= len(year.defects) <= 1.3 * expected
    for rule in RULES:
        assert 0.25 * expected / len(RULES) <= per_rule[rule] <= 2.5 * expected / len(RULES), rule
    keys = [(d["record_id"], d["rule"]) for d in year.defects]
    assert len(keys) == len(set(keys))


def _duplicates(tickets: list[dict[str, Any]]) -> set[str]:
    """duplicate.entry as defects.md defines it, found independently."""
    by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in tickets:
        by_number[t["caller_number"]].append(t)
    found: set[str] = set()
    for rows in by_number.values():
        rows.sort(key=lambda t: t["created_at"])
        for i, later in enumerate(rows):
            text = "".join(later["content"].split())
            for earlier in rows[:i]:
                close = later["created_at"] - earlier["created_at"] <= 86400
                if close and "".join(earlier["content"].split()) == text:
                    found.add(str(later["id"]))
                    break
    return found


DISPATCHED = ("dispatched", "handling", "replied", "reviewed", "closed", "revisited", "evaluated")
STATUSES = ("accepted", *DISPATCHED)
RATINGS = ("满意", "基本满意", "不满意")
SKEW = 600.0  # date.future's allowance


def detection_time(g: Generated) -> float:
    """When governance checks the year: a month after it ends."""
    return g.year.horizon + 30 * 86400


def _detect(g: Generated, settings: TicketSettings) -> dict[str, set[str]]:
    """Every rule of defects.md applied to every ticket: what governance should find."""
    reference = g.year.reference()
    departments = {str(r[0]) for r in reference.departments}
    grids = {str(r[0]) for r in reference.grids}
    types = request_types(settings)
    first_stage: dict[int, float] = {}
    for h in g.history:
        at = first_stage.get(h["ticket_id"])
        first_stage[h["ticket_id"]] = h["at"] if at is None else min(at, h["at"])
    joined = CALL_COLUMNS.index("joined_at")
    arrived = {str(c[0]): float(str(c[joined])) for _, _, calls, _ in g.raw for c in calls}
    now = detection_time(g)
    found: dict[str, set[str]] = {rule: set() for rule in RULES}
    for t in g.tickets:
        tid = str(t["id"])
        state = json.loads(t["state"])
        if check_phone(t["caller_number"]) is not None:
            found["phone.format"].add(tid)
        if t["id_card"]:
            if not g.cipher.can_decrypt(t["id_card"]):
                found["access.undecryptable"].add(tid)
            elif check_id_card(g.cipher.decrypt(t["id_card"])) is not None:
                found["id_card.check"].add(tid)
        if t["enterprise_code"] and check_uscc(t["enterprise_code"]) is not None:
            found["uscc.check"].add(tid)
        if t["request_type"] not in types:
            found["code.dictionary"].add(tid)
        replied = t["status"] in ("replied", "reviewed", "closed", "revisited", "evaluated")
        if (
            not t["content"]
            or (not t["department"] and t["status"] in DISPATCHED)
            or (replied and not state.get("reply"))
            or (t["status"] in ("closed", "revisited", "evaluated") and t["closed_at"] is None)
        ):
            found["required.missing"].add(tid)
        if t["channel"] not in CHANNELS:
            found["code.channel"].add(tid)
        if t["received_at"] > t["updated_at"] + 86400 or t["received_at"] < 946656000:
            found["date.range"].add(tid)
        if t["department"] and t["department"] not in departments:
            found["department.unknown"].add(tid)
        if t["closed_at"] is not None and t["closed_at"] < t["created_at"]:
            found["date.order"].add(tid)
        if state["rating"] and state["callback"] is None:
            found["evaluation.without_callback"].add(tid)
        if t["created_at"] - t["received_at"] > 86400:
            found["timeliness.late_entry"].add(tid)
        if t["status"] not in STATUSES:
            found["code.status"].add(tid)
        if state.get("rating") and state["rating"] not in RATINGS:
            found["code.rating"].add(tid)
        if t["grid"] and t["grid"] not in grids:
            found["grid.unknown"].add(tid)
        if any(t[c] is not None and t[c] > now + SKEW for c in ("created_at", "updated_at",
                                                                "closed_at")):  # fmt: skip
            found["date.future"].add(tid)
        if first_stage[t["id"]] < t["received_at"] and tid not in found["date.range"]:
            found["stage.before_received"].add(tid)  # (a received time typed ahead explains it)
        if t["call_id"] and t["created_at"] < arrived[t["call_id"]]:
            found["entry.before_call"].add(tid)
    found["duplicate.entry"] = _duplicates(g.tickets)
    return found


def test_every_defect_is_found_and_nothing_else(year: Generated, settings: TicketSettings) -> None:
    truth: dict[str, set[str]] = {rule: set() for rule in RULES}
    for d in year.defects:
        truth[d["rule"]].add(d["record_id"])
    found = _detect(year, settings)
    for rule in RULES:
        assert found[rule] == truth[rule], rule


def test_defect_fields_name_the_column(year: Generated) -> None:
    by_id = {str(t["id"]): t for t in year.tickets}
    for d in year.defects:
        assert d["tbl"] == "tickets"
        if d["rule"] == "required.missing":
            row = by_id[d["record_id"]]
            assert (d["field"] == "content") == (row["content"] == "")
            if d["field"] == "state.reply":
                assert json.loads(row["state"])["reply"] == ""
        else:
            assert d["field"] in (*TICKET_COLUMNS, "state.rating", "first_stage_at")


@pytest.mark.parametrize("seed", range(20))
def test_bad_values_fail_their_checks(seed: int) -> None:
    import random

    rng = random.Random(seed)
    assert check_phone(bad_phone(rng, "13912345678")) is not None
    assert check_phone(bad_phone(rng, "010-62345678")) is not None
    assert check_id_card(bad_id_card(rng, "11010519491231002X")) is not None
    assert check_uscc(bad_uscc(rng, "91350100M000100Y43")) is not None


def test_natural_identity_values_conform(year: Generated) -> None:
    defective = {d["record_id"] for d in year.defects}
    with_id = 0
    for t in year.tickets:
        if str(t["id"]) in defective:
            continue
        assert check_phone(t["caller_number"]) is None
        assert t["caller_number_hash"] == year.cipher.phone_index(t["caller_number"])
        if t["id_card"]:
            with_id += 1
            plain = year.cipher.decrypt(t["id_card"])
            assert check_id_card(plain) is None
            assert t["id_card_hash"] == year.cipher.blind_index(plain)
        if t["enterprise_code"]:
            assert check_uscc(t["enterprise_code"]) is None
            assert t["enterprise_name"]
    assert 0.2 < with_id / len(year.tickets) < 0.4


def test_enterprises_raise_about_five_percent(year: Generated) -> None:
    share = sum(1 for k, _ in year.parties.values() if k == "enterprise") / len(year.parties)
    assert 0.03 < share < 0.08


def test_a_shared_fixed_line_has_several_people(year: Generated) -> None:
    people: dict[str, set[str]] = defaultdict(set)
    for t in year.tickets:
        kind, key = year.parties[t["id"]]
        if kind == "person":
            people[t["caller_number"]].add(key)
    shared = [n for n, keys in people.items() if len(keys) >= 2]
    assert shared
    assert all(n.startswith(vocab.AREA_CODE + "-") for n in shared)


def test_repeat_callers_and_name_typos(year: Generated) -> None:
    names: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for t in year.tickets:
        kind, key = year.parties[t["id"]]
        if kind == "person":
            names[key].add(t["caller_name"])
            counts[key] += 1
    assert max(counts.values()) >= 10  # a few call very often
    typos = [n for n in names.values() if len(n) > 1]
    assert typos
    for variants in typos:
        a, b = sorted(variants)[:2]
        assert len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


@pytest.mark.parametrize(
    ("name", "typo_of"), [("张伟", "张玮"), ("李丽", "李莉"), ("欧阳明", "欧阳铭"), ("王一", "")]
)
def test_typo_swaps_one_homophone(name: str, typo_of: str) -> None:
    import random

    assert typo(name, random.Random(1)) == typo_of


def _action(row: dict[str, Any]) -> Action:
    details = json.loads(row["details"])
    note = row["note"]
    match row["action"]:
        case "dispatch":
            return Dispatch(details["department"], note)
        case "redispatch":
            return Redispatch(details["department"], note)
        case "accept_handling":
            return AcceptHandling(note)
        case "return":
            return Return(note)
        case "reply":
            return Reply(note)
        case "reject_reply":
            return RejectReply(note)
        case "approve":
            return Approve(note)
        case "close":
            return Close(note)
        case "revisit":
            return Revisit(CallbackOutcome(details["outcome"]), note)
        case "evaluate":
            return Evaluate(Rating(details["rating"]), note)
        case "supervise":
            return Supervise(note)
    raise AssertionError(row["action"])


def test_histories_replay_through_the_lifecycle(year: Generated, settings: TicketSettings) -> None:
    by_ticket: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for h in year.history:
        by_ticket[h["ticket_id"]].append(h)
    defective = {int(d["record_id"]) for d in year.defects}
    typed = {int(d["record_id"]) for d in year.defects if d["rule"] == "entry.before_call"}
    seen: set[str] = set()
    for t in year.tickets:
        rows = by_ticket[t["id"]]
        assert [r["seq"] for r in rows] == list(range(len(rows)))
        assert rows[0]["action"] == "accept"
        assert (rows[0]["at"] == t["created_at"]) == (t["id"] not in typed)
        state = new_ticket(str(t["id"]), datetime.fromtimestamp(t["created_at"], UTC))
        for r in rows[1:]:
            actor = Actor(r["actor"], Role(r["role"]), state.department)
            when = datetime.fromtimestamp(r["at"], UTC)
            state, entry = lifecycle.apply(state, _action(r), actor, when, settings.lifecycle)
            assert (entry.from_status.value, entry.to_status.value, entry.seq) == (
                r["from_status"],
                r["to_status"],
                r["seq"],
            )
            seen.add(r["action"])
        assert t["version"] == state.version
        assert t["updated_at"] == pytest.approx(state.updated_at.timestamp(), abs=1e-5)
        if t["id"] in defective:
            continue
        assert t["status"] == state.status.value
        assert t["department"] == state.department
        stored = json.loads(t["state"])
        assert stored["returns"] == state.returns
        assert stored["returned_by"] == list(state.returned_by)
        assert stored["rating"] == (state.rating.value if state.rating else None)
        assert stored["callback"] == (state.callback.value if state.callback else None)
        assert stored["reopens"] == state.reopens
        assert len(stored["supervisions"]) == len(state.supervisions)
        assert t["closed_at"] is None or t["closed_at"] >= t["created_at"]
    assert seen >= set(lifecycle.RULES) - {"reopen"}  # every action happens somewhere


def test_statuses_ratings_and_open_tickets(year: Generated) -> None:
    statuses: dict[str, int] = defaultdict(int)
    ratings: dict[str, int] = defaultdict(int)
    for t in year.tickets:
        statuses[t["status"]] += 1
        rating = json.loads(t["state"])["rating"]
        if rating:
            ratings[rating] += 1
    assert statuses["evaluated"] > statuses["closed"] > 0
    assert sum(statuses[s] for s in ("accepted", "dispatched", "handling", "replied")) > 0
    assert ratings["满意"] > ratings["基本满意"] > ratings["不满意"] > 0
    horizon = year.year.horizon
    overdue = [t for t in year.tickets if t["status"] == "handling" and t["deadline"] < horizon]
    assert overdue


def test_rhythm_peaks_in_working_hours(year: Generated) -> None:
    zone = year.year.zone
    by_hour = [0] * 24
    for t in year.tickets:
        by_hour[datetime.fromtimestamp(t["received_at"], zone).hour] += 1
    assert by_hour[10] > 5 * by_hour[3]
    assert by_hour[15] > 5 * by_hour[4]
    winter = sum(1 for t in year.tickets if t["topic"] == "heating" and t["created_at"] < 1772e6)
    summer = sum(
        1 for t in year.tickets if t["topic"] == "heating" and 1780e6 < t["created_at"] < 1788e6
    )
    assert winter > 3 * summer


def test_surges_and_clusters_in_truth(year: Generated) -> None:
    by_id = {t["id"]: t for t in year.tickets}
    kinds = {e.kind for e in year.year.events}
    assert kinds == {"surge", "cluster"}
    for event in year.year.events:
        truth = event.truth(year.year.zone)
        ids = truth["ticket_ids"]
        assert isinstance(ids, list) and len(ids) >= 10
        rows = [by_id[i] for i in ids]
        assert min(r["received_at"] for r in rows) == event.onset
        assert all(event.onset <= r["received_at"] <= event.end for r in rows)
        assert all(r["topic"] == event.topic for r in rows)
        assert all(r["grid"].startswith(event.district.code) for r in rows)
        if event.kind == "cluster":
            assert len({r["grid"] for r in rows}) == 1
            assert len({year.parties[r["id"]] for r in rows}) == len(rows)


def test_reference_data(year: Generated, settings: TicketSettings) -> None:
    ref = year.year.reference()
    codes = [r[0] for r in ref.departments]
    assert len(codes) == len(set(codes))
    assert set(settings.knowledge.departments) <= set(codes)
    parents = {r[2] for r in ref.departments} - {""}
    assert parents <= set(codes)
    assert len({r[3] for r in ref.grids}) == 16
    assert 300 <= len({(r[3], r[2]) for r in ref.grids}) <= 400
    assert 2000 <= len(ref.grids) <= 6000
    assert ("2026-10-01", "holiday", "国庆节") in ref.holidays
    assert ("2026-01-04", "workday", "调休上班") in ref.holidays
    assert all(check_uscc(str(r[0])) is None for r in ref.enterprises)
    grids = {r[0] for r in ref.grids}
    unknown = {int(d["record_id"]) for d in year.defects if d["rule"] == "grid.unknown"}
    assert all((t["grid"] in grids) == (t["id"] not in unknown) for t in year.tickets)
