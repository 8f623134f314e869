"""Pure rules of the export feeds: the stage of every ticket action (GB/T 44192 5.1), the gap
rule that keeps a feed from skipping a late-committed history row, the department an event
belongs to, back-off, signatures, masking, and config mistakes named by file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.data.catalog import load_annotations
from callcenter.data.feed_source import STAGES, event_department, safe_ids, stage_of
from callcenter.data.feeds import (
    EVENT_SOURCES,
    FeedConfig,
    FeedError,
    backoff_delay,
    check_exposure,
    exposure,
    feed_secret,
    load_exports,
    main_feed,
    redact_with,
    sign,
    verify_signature,
)
from callcenter.data.protection import Redactor, load_policy
from callcenter.tickets.actions import ACTION_TYPES
from callcenter.tomlreader import ConfigErrors

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("action", "stage"),
    [
        ("accept", "受理"),
        ("dispatch", "派单"),
        ("redispatch", "派单"),
        ("accept_handling", "办理"),
        ("return", "办理"),
        ("reopen", "办理"),
        ("reply", "答复"),
        ("reject_reply", "答复"),
        ("approve", "答复"),
        ("supervise", "督办"),
        ("close", "办结"),
        ("revisit", "回访"),
        ("evaluate", "评价"),
        ("something_new", ""),
    ],
)
def test_stage_of_action(action: str, stage: str) -> None:
    assert stage_of(action) == stage


def test_every_lifecycle_action_has_a_stage_and_every_stage_an_action() -> None:
    names = {t.name for t in ACTION_TYPES} | {"accept"}
    assert all(stage_of(n) in STAGES for n in names)
    assert {stage_of(n) for n in names} == set(STAGES)


GRACE = 10.0


@pytest.mark.parametrize(
    ("cursor", "ids", "first_seen", "now", "safe", "seen"),
    [
        # no gap: everything is safe
        (0, [1, 2, 3], {}, 100.0, [1, 2, 3], {}),
        (5, [], {}, 100.0, [], {}),
        # a gap just seen holds back everything after it
        (0, [1, 2, 4, 5], {}, 100.0, [1, 2], {3: 100.0}),
        # a gap right after the cursor holds back everything
        (2, [4, 5], {}, 100.0, [], {3: 100.0}),
        # still within its grace: held back, first-seen time kept
        (0, [1, 2, 4], {3: 95.0}, 105.0, [1, 2], {3: 95.0}),
        # exactly at the grace: still held back
        (0, [1, 2, 4], {3: 90.0}, 100.0, [1, 2], {3: 90.0}),
        # missing for longer than the grace: a rolled-back insert, skipped
        (0, [1, 2, 4, 5], {3: 80.0}, 100.0, [1, 2, 4, 5], {3: 80.0}),
        # a wide gap is skipped only when all of its ids expired
        (0, [1, 5], {2: 80.0, 3: 80.0, 4: 95.0}, 100.0, [1], {2: 80.0, 3: 80.0, 4: 95.0}),
        (0, [1, 5], {2: 80.0, 3: 80.0, 4: 85.0}, 100.0, [1, 5], {2: 80.0, 3: 80.0, 4: 85.0}),
        # an expired gap then a fresh one: stop at the fresh one, remember both
        (0, [2, 4, 6], {1: 50.0}, 100.0, [2], {1: 50.0, 3: 100.0, 5: 100.0}),
        # the gap filled since (the late row committed): nothing missing any more
        (0, [1, 2, 3, 4], {3: 99.0}, 100.0, [1, 2, 3, 4], {}),
    ],
)
def test_gap_rule(
    cursor: int,
    ids: list[int],
    first_seen: dict[int, float],
    now: float,
    safe: list[int],
    seen: dict[int, float],
) -> None:
    assert safe_ids(cursor, ids, first_seen, now, GRACE) == (safe, seen)


def test_gap_rule_refuses_ids_out_of_order() -> None:
    with pytest.raises(ValueError):
        safe_ids(3, [5, 4], {}, 0.0, GRACE)


@pytest.mark.parametrize(
    ("action", "details", "before", "expected"),
    [
        ("accept", {}, None, (None, None)),
        ("dispatch", {"department": "water"}, None, ("water", "water")),
        ("accept_handling", {}, "water", ("water", "water")),
        ("return", {"department": "water"}, "water", ("water", None)),
        ("redispatch", {"department": "power"}, None, ("power", "power")),
        ("evaluate", {"rating": "满意"}, "power", ("power", "power")),
        ("reopen", {}, "power", ("power", "power")),
    ],
)
def test_event_department(
    action: str,
    details: dict[str, str],
    before: str | None,
    expected: tuple[str | None, str | None],
) -> None:
    assert event_department(action, details, before) == expected


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [
        (1, 1.0, 0.5),
        (2, 1.0, 1.0),
        (3, 1.0, 2.0),
        (8, 1.0, 30.0),  # capped
        (500, 1.0, 30.0),  # no overflow
        (3, 0.0, 1.0),  # jitter takes it down to half
        (3, 0.5, 1.5),
    ],
)
def test_backoff(attempt: int, jitter: float, delay: float) -> None:
    assert backoff_delay(attempt, 0.5, 30.0, jitter) == pytest.approx(delay)


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"feed":"x","events":[]}'
    header = sign(body, b"k1")
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(body, header, b"k1")
    assert verify_signature(body, header.upper().replace("SHA256=", "sha256="), b"k1")
    assert not verify_signature(body + b" ", header, b"k1")
    assert not verify_signature(body, header, b"k2")
    assert not verify_signature(body, header.replace("sha256=", "sha1="), b"k1")
    assert not verify_signature(body, "", b"k1")
    assert not verify_signature(body, "sha256=", b"k1")


def redactor_for(role: str) -> Redactor:
    config = REPO / "config"
    return Redactor(
        load_policy(config / "protection.toml"), load_annotations(config / "catalog.toml"), role
    )


@pytest.mark.parametrize(
    ("role", "clear", "masked"),
    [
        ("department", [], ["caller_number", "title", "note", "details"]),
        ("agent", ["caller_number", "title", "note", "details"], []),
        ("supervisor", ["caller_number", "title", "note", "details"], []),
        ("admin", ["caller_number", "title", "note", "details"], []),
    ],
)
def test_what_each_role_gets_of_an_event_under_the_shipped_policy(
    role: str, clear: list[str], masked: list[str]
) -> None:
    assert exposure(redactor_for(role)) == (clear, masked)


def test_a_feed_sending_personal_data_in_clear_must_list_it() -> None:
    supervisor = FeedConfig("p", "http://127.0.0.1:9/x", "S", "supervisor")
    with pytest.raises(FeedError, match="caller_number, title, note, details.*clear_fields"):
        check_exposure(supervisor, redactor_for("supervisor"))
    partial = FeedConfig("p", "http://127.0.0.1:9/x", "S", "supervisor", clear_fields=("title",))
    with pytest.raises(FeedError, match="caller_number, note, details"):
        check_exposure(partial, redactor_for("supervisor"))
    listed = FeedConfig(
        "p", "http://127.0.0.1:9/x", "S", "supervisor", clear_fields=tuple(EVENT_SOURCES)
    )
    check_exposure(listed, redactor_for("supervisor"))
    department = FeedConfig("p", "http://127.0.0.1:9/x", "S", "department")
    check_exposure(department, redactor_for("department"))
    with pytest.raises(FeedError, match="脱敏角色 admin"):
        check_exposure(department, redactor_for("admin"))


def test_no_shipped_feed_sends_a_number_or_id_in_clear_unless_it_says_so() -> None:
    """Each shipped feed, through its role's Redactor: a citizen's phone and ID numbers leave
    in clear only in fields the feed lists in clear_fields (none of the shipped ones does)."""
    phone, id_card = "13812345678", "110101199003074514"
    event: dict[str, object] = {
        "event_id": "f:1",
        "seq": 1,
        "caller_number": phone,
        "title": f"身份证{id_card}丢了，回电{phone}",
        "note": f"市民 {phone} 身份证 {id_card}",
        "details": {"reason": f"{phone} {id_card}"},
        "department": "water",
    }
    exports = load_exports(REPO / "config")
    assert {f.name for f in exports.feeds} == {"haochaping", "province", "water"}
    for feed in exports.feeds:
        redactor = redactor_for(feed.role)
        check_exposure(feed, redactor)
        out = redact_with(event, redactor)
        for name, value in out.items():
            if name in feed.clear_fields:
                continue
            assert phone not in str(value) and id_card not in str(value), (feed.name, name)
        assert feed.clear_fields == (), feed.name
        assert out["caller_number"] == "138****5678" and out["department"] == "water"


def test_the_shipped_config_loads() -> None:
    exports = load_exports(REPO / "config")
    hcp = exports.feed("haochaping")
    assert set(hcp.stages) == {"办结", "回访", "评价"}
    assert exports.feed("water").department == "water"


def write(tmp: Path, text: str) -> Path:
    (tmp / "exports.toml").write_text(text, encoding="utf-8")
    return tmp


GOOD = """
[[feed]]
name = "hcp"
url = "http://127.0.0.1:9/x"
secret_env = "HCP_SECRET"
role = "department"
"""


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (GOOD.replace('name = "hcp"', 'name = "好差评"'), "feed[0].name", "lowercase"),
        (GOOD.replace('url = "http://127.0.0.1:9/x"', 'url = "ftp://x"'), "feed[0].url", "http"),
        (GOOD.replace('url = "http://127.0.0.1:9/x"\n', ""), "feed[0].url", "is required"),
        (GOOD.replace('"HCP_SECRET"', '"s3cr3t value"'), "feed[0].secret_env", "variable"),
        (GOOD + 'secret = "abc"\n', "feed[0].secret", "never put the secret"),
        (GOOD.replace('"department"', '"boss"'), "feed[0].role", "must be one of"),
        (GOOD + 'stages = ["办结", "结案"]\n', "feed[0].stages[1]", "unknown stage"),
        (GOOD + "batch = 0\n", "feed[0].batch", "from 1 to 5000"),
        (GOOD + 'timeout = "10"\n', "feed[0].timeout", "must be a number"),
        (GOOD + "backoff = 5\nmax_backoff = 1\n", "feed[0].max_backoff", "at least backoff"),
        (GOOD + "retries = 3\n", "feed[0].retries", "unknown key"),
        (GOOD + 'clear_fields = ["id_card"]\n', "feed[0].clear_fields[0]", "unknown event"),
        (GOOD + GOOD, "feed[1].name", "duplicate"),
        ("[exports]\nexported_by = ''\n", "exports.exported_by", "must not be empty"),
        ("[[feed]\n", "", "not valid TOML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_exports(write(tmp_path, text))
    matching = [e for e in caught.value.errors if e.key == key and message in e.message]
    assert matching, str(caught.value)
    assert all(e.file.endswith("exports.toml") for e in caught.value.errors)


def test_every_mistake_of_the_file_in_one_report(tmp_path: Path) -> None:
    text = (
        "[exports]\nexported_by = 5\n"
        + GOOD
        + 'secret = "abc"\nbatch = 0\nclear_fields = ["id_card"]\n'
        + GOOD
        + "backoff = 5\nmax_backoff = 1\n"
        + GOOD.replace('"hcp"', '"Water"')
    )
    with pytest.raises(ConfigErrors) as caught:
        load_exports(write(tmp_path, text))
    assert all(e.file == str(tmp_path / "exports.toml") for e in caught.value.errors)
    assert [(e.key, e.message) for e in caught.value.errors] == [
        ("feed[0].secret", "never put the secret in the file: name its variable in secret_env"),
        ("exports.exported_by", "must be a string, got int 5"),
        ("feed[0].batch", "must be from 1 to 5000"),
        (
            "feed[0].clear_fields[0]",
            "unknown event field 'id_card' (allowed: caller_number, title, note, details,"
            " department, channel)",
        ),
        ("feed[2].name", "must be lowercase letters, digits, - or _"),
        ("feed[1].max_backoff", "must be at least backoff (5)"),
    ]


def test_clear_fields_are_read(tmp_path: Path) -> None:
    listed = GOOD.replace('"department"', '"supervisor"') + 'clear_fields = ["title", "note"]\n'
    assert load_exports(write(tmp_path, listed)).feed("hcp").clear_fields == ("title", "note")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors, match="exports.toml: file not found"):
        load_exports(tmp_path)


def test_unknown_feed_and_missing_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = load_exports(write(tmp_path, GOOD))
    with pytest.raises(FeedError, match="nope"):
        exports.feed("nope")
    feed: FeedConfig = exports.feed("hcp")
    assert feed_secret(feed, {"HCP_SECRET": "k"}) == b"k"
    for env in ({}, {"HCP_SECRET": ""}):
        with pytest.raises(FeedError, match="HCP_SECRET"):
            feed_secret(feed, env)
    monkeypatch.delenv("HCP_SECRET", raising=False)
    assert main_feed(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", "hcp", once=True) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HCP_SECRET" in err[0]


@pytest.mark.parametrize(
    ("role", "caller", "note"),
    [
        ("admin", "13812345678", "市民 13812345678 反映"),
        ("supervisor", "13812345678", "市民 13812345678 反映"),
        ("department", "138****5678", "市民 138****5678 反映"),
    ],
)
def test_events_are_masked_by_the_catalogue_and_policy(role: str, caller: str, note: str) -> None:
    from callcenter.data.catalog import load_annotations
    from callcenter.data.feeds import redact_with
    from callcenter.data.protection import Redactor, load_policy

    config = Path(__file__).resolve().parents[3] / "config"
    redactor = Redactor(
        load_policy(config / "protection.toml"), load_annotations(config / "catalog.toml"), role
    )
    event: dict[str, object] = {
        "event_id": "f:1",
        "caller_number": "13812345678",
        "note": "市民 13812345678 反映",
        "details": {"reason": "市民 13812345678 反映", "n": 2},
        "stage": "受理",
    }
    out = redact_with(event, redactor)
    assert (out["caller_number"], out["note"], out["stage"]) == (caller, note, "受理")
    assert out["details"] == {"reason": note, "n": 2}
