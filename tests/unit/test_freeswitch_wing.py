"""The FreeSWITCH wing without a running FreeSWITCH: its node keys, the XML rendered from
config/ and its check, how an originate's cause and the dialplan's record of an ended call
read. (tests/integration/test_engine_on_pbx.py drives it against the real FreeSWITCH.)"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.config import Config, load_config
from callcenter.pbx.base import AgentContact, CallRequest
from callcenter.pbx.freeswitch.dialplan import RenderError, RenderParams, check, render
from callcenter.pbx.freeswitch.driver import FreeswitchDriver, join_requests, offer_outcome
from callcenter.pbx.freeswitch.esl import EslEvent
from callcenter.pbx.freeswitch.settings import FreeswitchSettings
from callcenter.pbx.registry import wing
from callcenter.service import ServiceOptions, build_drivers
from callcenter.tomlreader import ConfigError
from tests.unit.fakes import SHIPPED_CONFIG

NODE = """kind = "freeswitch"
host = "127.0.0.1"
esl_port = 15021
agent_dial = "user/{extension}"
"""


def fs_config(tmp_path: Path) -> Config:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, directory)
    center = directory / "center.toml"
    text = center.read_text(encoding="utf-8")
    old = 'kind = "asterisk"\nhost = "127.0.0.1"\nami_port = 15038\nami_user = "callcenter"\n'
    assert old in text
    center.write_text(
        text.replace(old, NODE).replace("CALLCENTER_AMI_SECRET", "CALLCENTER_ESL_SECRET"),
        encoding="utf-8",
    )
    return load_config(directory)


def params(config: Config, **kw: object) -> RenderParams:
    phones = [a.extension for a in config.agents] + [s.extension for s in config.supervisors]
    base = RenderParams(esl_secret="s3cret-esl", phone_passwords={p: f"pw-{p}" for p in phones})
    return RenderParams(**{**base.__dict__, **kw})


def test_a_freeswitch_node_gets_the_esl_driver_with_its_dial_strings(tmp_path: Path) -> None:
    config = fs_config(tmp_path)
    (node,) = config.nodes
    assert node.kind == "freeswitch"
    assert isinstance(node.settings, FreeswitchSettings)
    assert node.settings.esl_port == 15021
    driver = build_drivers(config, ServiceOptions(secrets={node.name: "x"}))[node.name]
    assert isinstance(driver, FreeswitchDriver)
    assert driver._dials["1001"] == "user/1001"
    assert driver._by_user["1001"] == "1001"


def test_no_esl_password_is_a_config_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = fs_config(tmp_path)
    monkeypatch.delenv("CALLCENTER_ESL_SECRET", raising=False)
    with pytest.raises(ConfigError, match="CALLCENTER_ESL_SECRET"):
        config.nodes[0].secret()


def test_live_audio_on_freeswitch_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="asr.live_address"):
        wing("freeswitch").live_audio()


def test_the_rendered_xml_parses_and_carries_numbers_phones_and_fallback(tmp_path: Path) -> None:
    config = fs_config(tmp_path)
    files = render(config, params(config))
    assert check(files) == []
    dialplan = ET.fromstring(files["cc-dialplan.xml"])
    contexts = {c.get("name") for c in dialplan.iter("context")}
    assert {"cc-inbound", "cc-join", "cc-hold"} <= contexts
    for n in config.numbers:  # each DID sets its skill and priority as on Asterisk
        ext = next(e for e in dialplan.iter("extension") if e.get("name") == f"did-{n.did}")
        data = [a.get("data") for a in ext.iter("action")]
        assert f"cc_skill={n.skill}" in data and f"cc_priority={n.priority}" in data
    directory = ET.fromstring(files["cc-directory.xml"])
    users = {u.get("id"): u.find("params/param").get("value") for u in directory.iter("user")}  # type: ignore[union-attr]
    assert users["1001"] == "pw-1001"
    assert set(users) >= {a.extension for a in config.agents}
    esl = files["cc-event_socket.conf.xml"]
    assert 'value="s3cret-esl"' in esl and 'value="127.0.0.1"' in esl
    acl = ET.fromstring(files["cc-acl.conf.xml"])
    trunks = next(x for x in acl.iter("list") if x.get("name") == "cc_trunk_carrier")
    assert trunks.get("default") == "deny"
    # the carrier's address and port (the agents' phones share the address)
    assert [(n.get("cidr"), n.get("port")) for n in trunks.iter("node")] == [
        ("127.0.0.1/32", "15098")
    ]
    cc = ET.fromstring(files["cc-callcenter.conf.xml"])
    assert {t.get("agent") for t in cc.iter("tier")} == {a.extension for a in config.agents}
    assert f"&gt; {config.engine.fallback_after} ?" in files["cc-dialplan.xml"]


def test_the_sip_edge_knows_trunks_by_address_and_port_and_challenges_phones(
    tmp_path: Path,
) -> None:
    """Each inbound trunk its own port-aware ACL list and context; everything else lands in
    cc-public: the hotline numbers, a challenge for a phone's extension, 404 for the rest. A
    trunk with auth_user is a directory user accepted from its addresses only; only a
    trust_headers trunk's X-CC-* headers are read."""
    config = fs_config(tmp_path)
    trunks = config.source_dir / "trunks.toml"
    trunks.write_text(
        trunks.read_text(encoding="utf-8")
        + '\n[[trunk]]\nname = "secure"\nmatch = ["192.0.2.7:5070", "198.51.100.0/28"]\n'
        'auth_user = "hotline"\nsecret_env = "CC_TEST_TRUNK_SECRET"\n'
        '\n[[trunk]]\nname = "proxy"\nmatch = "192.0.2.9"\ntrust_headers = true\n',
        encoding="utf-8",
    )
    config = load_config(config.source_dir)
    with pytest.raises(RenderError, match=r"trunk\[1\].secret_env: no password for trunk secure"):
        render(config, params(config))
    files = render(config, params(config, trunk_secrets={"secure": "trunk-pw"}))
    assert check(files) == []
    sofia = ET.fromstring(files["cc-sofia.conf.xml"])
    settings = {
        (p.get("name"), p.get("value")) for p in sofia.iter("param") if p.get("name") != "proxy"
    }
    assert ("auth-calls", "false") in settings and ("use-port-for-acl-check", "true") in settings
    assert ("context", "cc-public") in settings
    acls = sorted(str(v) for k, v in settings if k == "apply-inbound-acl")
    assert acls == [f"cc_trunk_{t}:cc-trunk-{t}:cc-public" for t in ("carrier", "proxy", "secure")]
    lists = {x.get("name"): x for x in ET.fromstring(files["cc-acl.conf.xml"]).iter("list")}
    assert [(n.get("cidr"), n.get("port")) for n in lists["cc_trunk_secure"].iter("node")] == [
        ("192.0.2.7/32", "5070"),
        ("198.51.100.0/28", None),
    ]
    directory = ET.fromstring(files["cc-directory.xml"])
    user = next(u for u in directory.iter("user") if u.get("id") == "hotline")
    assert {p.get("name"): p.get("value") for p in user.iter("param")} == {
        "password": "trunk-pw",
        "auth-acl": "cc_trunk_secure",
    }
    dialplan = ET.fromstring(files["cc-dialplan.xml"])
    contexts = {c.get("name"): c for c in dialplan.iter("context")}

    def actions(context: str) -> list[str]:
        return [
            f"{a.tag}:{a.get('application')} {a.get('data') or ''}".strip()
            for a in contexts[context].iter()
            if a.tag in ("action", "anti-action")
        ]

    public = actions("cc-public")
    assert public[-1] == "action:respond 404"
    assert "action:respond 407" in public
    assert "action:transfer 12345 XML cc-inbound" in public
    assert not [a for a in public if "cc_hdr" in a or "110" in a]
    assert "action:set cc_hdr_boost=${sip_h_X-CC-Priority-Boost}" in actions("cc-trunk-proxy")
    for plain in ("cc-trunk-carrier", "cc-trunk-secure"):
        assert not [a for a in actions(plain) if "cc_hdr" in a], plain
        assert "action:unset sip_h_X-CC-Skill" in actions(plain)
    assert actions("cc-trunk-secure")[:2] == [
        "anti-action:set sip_challenge_realm=127.0.0.1",
        "anti-action:respond 407",
    ]


def test_the_join_hands_the_dialplans_and_a_trusted_trunks_requests_over() -> None:
    variables = {
        "cc_priority_boost": "6",
        "cc_skill_override": "",
        "cc_headers_from": "proxy",
        "cc_hdr_boost": "lots",
        "cc_hdr_skill": "market",
    }
    assert join_requests(lambda name: variables.get(name, "")) == (
        CallRequest("dialplan", "6", ""),
        CallRequest("header:proxy", "lots", "market"),
    )
    # headers read from no trunk (cc_headers_from unset) are no request
    del variables["cc_headers_from"]
    assert join_requests(lambda name: variables.get(name, "")) == (
        CallRequest("dialplan", "6", ""),
    )


def test_no_secret_is_ever_rendered_empty(tmp_path: Path) -> None:
    config = fs_config(tmp_path)
    with pytest.raises(RenderError, match="ESL password"):
        render(config, params(config, esl_secret=""))
    with pytest.raises(RenderError, match="no SIP password for agent 1001"):
        render(config, params(config, phone_passwords={}))


def test_check_names_the_file_of_a_broken_transfer_and_broken_xml(tmp_path: Path) -> None:
    config = fs_config(tmp_path)
    files = render(config, params(config))
    broken = dict(files)
    broken["cc-dialplan.xml"] = files["cc-dialplan.xml"].replace(
        'data="join XML cc-join"', 'data="join XML cc-nowhere"', 1
    )
    assert any(
        p.startswith("cc-dialplan.xml:") and "unknown context cc-nowhere" in p
        for p in check(broken)
    )
    broken["cc-dialplan.xml"] = files["cc-dialplan.xml"].replace(
        'data="hold XML cc-hold"', 'data="nohold XML cc-hold"', 1
    )
    assert any("transfer to nohold" in p for p in check(broken))
    broken = dict(files)
    broken["cc-sofia.conf.xml"] = files["cc-sofia.conf.xml"].replace("</settings>", "", 1)
    assert [p for p in check(broken) if p.startswith("cc-sofia.conf.xml: not well-formed")]


def test_an_originate_cause_reads_as_the_offer_outcome() -> None:
    assert offer_outcome("USER_NOT_REGISTERED") == ("unreachable", 0)
    assert offer_outcome("NO_ANSWER") == ("no_answer", 0)
    assert offer_outcome("USER_BUSY") == ("refused", 486)
    assert offer_outcome("CALL_REJECTED") == ("refused", 603)
    assert offer_outcome("ORIGINATOR_CANCEL") == ("cancelled", 0)
    assert offer_outcome("RECOVERY_ON_TIMER_EXPIRE") == ("failed", 0)


def test_the_dialplans_record_of_an_ended_call_reads_back() -> None:
    d = FreeswitchDriver("fs", "127.0.0.1", 1, "x", {"1001": "user/1001"})
    us = 1_700_000_000_000_000
    served = d._finished(
        "u1", f"v1|{us}|{us + 9_000_000}|connected|12345|general|3|138|1001|{us + 2_000_000}||| "
    )
    assert served is not None and served.route == "engine" and served.agent_id == "1001"
    assert served.arrived_at == 1_700_000_000 and served.connected_at == 1_700_000_002
    fallback = d._finished(
        "u2", f"v1|{us}|{us + 9_000_000}|fallback|12345|general|0|138|||{us + 1}|1001|1700000005"
    )
    assert fallback is not None and fallback.route == "fallback"
    assert fallback.agent_id == "1001" and fallback.connected_at == 1_700_000_005
    abandoned = d._finished("u3", f"v1|{us}|{us + 1}|hold|12345|general|0|138|||||")
    assert abandoned is not None and abandoned.agent_id == "" and abandoned.connected_at == 0
    assert d._finished("u4", "v0|garbage") is None


def test_dialplan_check_command_on_a_freeswitch_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = fs_config(tmp_path)
    assert main(["--config", str(config.source_dir), "dialplan", "check"]) == 0
    out = capsys.readouterr().out
    assert "dialplan ok:" in out
    # the shipped config routes 12315 through an IVR menu, compiled into cc-ivr.xml
    assert "IVR menus compiled for 12315" in out


def test_the_profiles_pings_make_a_phone_unreachable_and_reachable_again() -> None:
    """sofia::sip_user_state (the OPTIONS pings of a registration) is the phone's reachability,
    as Asterisk's qualify; a repeated state is no new event."""
    driver = FreeswitchDriver("fs", "127.0.0.1", 8021, "x", {"1001": "user/1001"})

    def state(user: str, status: str) -> None:
        driver._on_event(
            EslEvent(
                {
                    "Event-Name": "CUSTOM",
                    "Event-Subclass": "sofia::sip_user_state",
                    "from-user": user,
                    "Ping-Status": status,
                }
            )
        )

    for user, status in (
        ("1001", "UNREACHABLE"),
        ("1001", "UNREACHABLE"),
        ("9999", "UNREACHABLE"),  # not an agent's phone
        ("1001", "REACHABLE"),
    ):
        state(user, status)
    found = []
    while not driver._events.empty():
        found.append(driver._events.get_nowait())
    assert found == [
        AgentContact("fs", "1001", False, "unreachable"),
        AgentContact("fs", "1001", True, "reachable"),
    ]
