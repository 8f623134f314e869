"""The browser phone's configuration: agents.toml `phone`, center.toml [webrtc], and what the
renderer makes of them (Asterisk: a WebRTC endpoint block, http.conf's TLS listener;
FreeSWITCH: the sofia profile's WSS listener, its candidate ACL, the browser users' codecs)."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from callcenter.config import ConfigErrors, load_config
from callcenter.pbx.asterisk.dialplan import DEPLOYMENT_FILES, RenderParams, environment, render
from callcenter.pbx.asterisk.sandbox import (
    SANDBOX_TEMPLATES,
    IceCandidates,
    loopback_ice_candidates,
)
from callcenter.pbx.freeswitch.dialplan import RenderError as FsRenderError
from callcenter.pbx.freeswitch.dialplan import check as fs_check
from callcenter.pbx.freeswitch.dialplan import render as fs_render
from tests.unit.fakes import SHIPPED_CONFIG
from tests.unit.test_dialplan import with_secrets

BROWSER_AGENT = """
[[agent]]
id = "1005"
name = "刘洋"
extension = "1005"
skills = { general = 5 }
phone = "browser"
"""
WEBRTC = """
[webrtc]
ws_url = "wss://pbx.example.org:8089/ws"
cert_file = "/etc/asterisk/keys/pbx.crt"
key_file = "/etc/asterisk/keys/pbx.key"
"""


def config_dir(tmp_path: Path, agents: str = "", center: str = "") -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, target)
    for name, extra in (("agents.toml", agents), ("center.toml", center)):
        path = target / name
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return target


def errors(directory: Path) -> str:
    with pytest.raises(ConfigErrors) as info:
        load_config(directory)
    return str(info.value)


def test_shipped_agents_have_desk_phones_and_no_http_conf_is_rendered() -> None:
    config = load_config(SHIPPED_CONFIG)
    assert {a.phone for a in config.agents} == {"softphone"}
    files = render(config, with_secrets(config, RenderParams()))
    assert sorted(files) == sorted(DEPLOYMENT_FILES)
    assert "webrtc" not in files["pjsip.conf"]


def test_a_browser_agent_needs_the_webrtc_section_named_in_the_error(tmp_path: Path) -> None:
    text = errors(config_dir(tmp_path, agents=BROWSER_AGENT))
    for key in ("webrtc.ws_url", "webrtc.cert_file", "webrtc.key_file"):
        assert key in text
    assert "center.toml" in text and "1005" in text


def test_bad_phone_kind_and_bad_webrtc_values_are_config_errors(tmp_path: Path) -> None:
    bad_agent = BROWSER_AGENT.replace('"browser"', '"webphone"')
    bad_webrtc = WEBRTC.replace("wss://", "ws://").replace(
        '"/etc/asterisk/keys/pbx.key"', '"pbx.key"'
    )
    text = errors(config_dir(tmp_path, agents=bad_agent, center=bad_webrtc))
    assert "agent[4].phone" in text and "softphone, browser" in text
    assert "webrtc.ws_url" in text and "secure WebSocket" in text
    assert "webrtc.key_file" in text and "absolute" in text


def test_browser_phones_render_a_webrtc_endpoint_and_the_tls_listener(tmp_path: Path) -> None:
    config = load_config(config_dir(tmp_path, agents=BROWSER_AGENT, center=WEBRTC))
    browser = next(a for a in config.agents if a.id == "1005")
    assert browser.browser_phone
    passwords = {a.extension: f"pw-{a.extension}-secret" for a in config.agents}
    files = render(config, with_secrets(config, RenderParams(agent_passwords=passwords)))
    pjsip = files["pjsip.conf"]
    # a desk phone's endpoint is not a WebRTC one and the browser's is only that
    assert re.search(r"^\[1001\]\(agent-endpoint\)$", pjsip, flags=re.M)
    assert not re.search(r"^\[1005\]\(agent-endpoint\)$", pjsip, flags=re.M)
    assert re.search(r"^\[1005\]\(browser-endpoint\)$", pjsip, flags=re.M)
    block = pjsip[pjsip.index("[browser-endpoint](!)") :]
    assert "webrtc = yes" in block and "protocol = wss" in pjsip
    assert "password = pw-1005-secret" in block
    http = files["http.conf"]
    assert "tlsenable = yes" in http
    assert "tlsbindaddr = 0.0.0.0:8089" in http
    assert "tlscertfile = /etc/asterisk/keys/pbx.crt" in http
    assert "tlsprivatekey = /etc/asterisk/keys/pbx.key" in http
    assert "bindaddr = 127.0.0.1" in http


def test_the_browser_phone_password_comes_from_the_operators_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from callcenter.browser_phone import PhoneUnavailable, sip_password
    from callcenter.config import PhoneSecrets, load_config

    config = load_config(Path(__file__).resolve().parents[2] / "config")
    store = tmp_path / "phones.toml"
    store.write_text('"1001" = "from-the-store-0123456789"\n', encoding="utf-8")
    store.chmod(0o600)
    config = replace(config, phone_secrets=PhoneSecrets(secrets_file=str(store)))
    monkeypatch.delenv("CALLCENTER_SANDBOX_INSTANCE", raising=False)
    assert sip_password(config, "1001") == "from-the-store-0123456789"
    store.chmod(0o644)  # a store others may read is refused, with the reason
    with pytest.raises(PhoneUnavailable, match="chmod 600"):
        sip_password(config, "1001")


def test_browser_phones_offer_opus_then_g711_unless_configured(tmp_path: Path) -> None:
    """[webrtc] codecs: the browser endpoints' allow, and the order the agent legs are
    offered in (extensions.conf cc-predial, for endpoints that set CC_BROWSER_PHONE)."""
    for extra, allow in (("", "opus,alaw,ulaw"), ('codecs = ["alaw"]\n', "alaw")):
        config = load_config(
            config_dir(tmp_path / allow, agents=BROWSER_AGENT, center=WEBRTC + extra)
        )
        passwords = {a.extension: f"pw-{a.extension}-secret" for a in config.agents}
        files = render(config, with_secrets(config, RenderParams(agent_passwords=passwords)))
        block = files["pjsip.conf"][files["pjsip.conf"].index("[browser-endpoint](!)") :]
        assert f"allow = {allow}\n" in block and "set_var = CC_BROWSER_PHONE=yes" in block
        desk = files["pjsip.conf"][files["pjsip.conf"].index("[agent-endpoint](!)") :]
        assert "allow = alaw,ulaw\n" in desk.split("\n\n", 1)[0]  # desk phones: unchanged
        assert f"Set(PJSIP_MEDIA_OFFER(audio)={allow})" in files["extensions.conf"]
        assert "U(cc-answered)b(cc-predial^s^1)" in files["extensions.conf"]


def test_bad_codecs_and_candidate_networks_are_config_errors(tmp_path: Path) -> None:
    bad = WEBRTC + 'codecs = ["opus", "g729"]\ncandidate_networks = ["10.0.0.0/33"]\n'
    text = errors(config_dir(tmp_path, agents=BROWSER_AGENT, center=bad))
    assert "webrtc.codecs" in text and "opus, alaw, ulaw" in text
    assert "webrtc.candidate_networks" in text and "10.0.0.0/33" in text
    good = WEBRTC + 'candidate_networks = ["127.0.0.0/8", "::1/128"]\n'
    config = load_config(config_dir(tmp_path / "good", agents=BROWSER_AGENT, center=good))
    assert config.webrtc.candidate_networks == ("127.0.0.0/8", "::1/128")
    assert config.webrtc.codecs == ("opus", "alaw", "ulaw")


def test_the_sandbox_advertises_one_own_address_as_loopback_and_denies_the_rest() -> None:
    """rtp.conf of a sandbox with browser phones: Asterisk never offers 127.x itself, so the
    machine's first IPv4 address is mapped to 127.0.0.1 and every other one is denied."""
    ice = loopback_ice_candidates(["fd00::2", "192.0.2.2", "10.9.8.7", "fe80::1"])
    assert ice == IceCandidates("192.0.2.2", ("fd00::2/128", "10.9.8.7/32", "fe80::1/128"))
    text = (
        environment(SANDBOX_TEMPLATES)
        .get_template("rtp.conf.j2")
        .render(rtp_start=20000, rtp_end=20999, ice=ice)
    )
    assert "[ice_host_candidates]\n192.0.2.2 => 127.0.0.1" in text
    assert re.findall(r"^ice_deny = (\S+)$", text, flags=re.M) == list(ice.denied)
    plain = (
        environment(SANDBOX_TEMPLATES)
        .get_template("rtp.conf.j2")
        .render(rtp_start=20000, rtp_end=20999, ice=None)
    )
    assert "ice" not in plain  # no browser phones: Asterisk's own gathering, unmapped


FS_WEBRTC = """
[webrtc]
ws_url = "wss://pbx.example.org:7443/ws"
bind = "0.0.0.0:7443"
cert_file = "/etc/freeswitch/tls/wss.crt"
key_file = "/etc/freeswitch/tls/wss.key"
"""


def _fs_files(tmp_path: Path, agents: str, webrtc: str) -> dict[str, str]:
    from tests.unit.test_freeswitch_wing import fs_config
    from tests.unit.test_freeswitch_wing import params as fs_params

    directory = fs_config(tmp_path).source_dir
    for name, extra in (("agents.toml", agents), ("center.toml", webrtc)):
        path = directory / name
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    config = load_config(directory)
    return fs_render(config, fs_params(config))


def test_browser_phones_on_freeswitch_get_the_wss_listener_candidates_and_codecs(
    tmp_path: Path,
) -> None:
    """The sofia profile listens on [webrtc] bind over WSS with the certificate folder of
    cert_file, takes only candidates of candidate_networks, and the browser agent's leg
    offers [webrtc] codecs in order (mod_opus loaded for Opus); desk phones are unchanged."""
    extra = 'candidate_networks = ["10.20.0.0/16", "::1/128"]\n'
    files = _fs_files(tmp_path, BROWSER_AGENT, FS_WEBRTC + extra)
    assert not fs_check(files)
    profile = ET.fromstring(files["cc-sofia.conf.xml"]).find(".//profile[@name='cc']/settings")
    assert profile is not None
    settings = {p.get("name"): p.get("value") for p in profile.iter("param")}
    assert settings["wss-binding"] == "0.0.0.0:7443"
    assert settings["tls-cert-dir"] == "/etc/freeswitch/tls"
    assert settings["apply-candidate-acl"] == "cc_webrtc_candidates"
    acl = ET.fromstring(files["cc-acl.conf.xml"]).find(".//list[@name='cc_webrtc_candidates']")
    assert acl is not None and acl.get("default") == "deny"
    assert [(n.get("type"), n.get("cidr")) for n in acl] == [
        ("allow", "10.20.0.0/16"),
        ("allow", "::1/128"),
    ]
    directory = ET.fromstring(files["cc-directory.xml"])

    def dial_vars(user: str) -> dict[str | None, str | None]:
        found = directory.find(f".//user[@id='{user}']/params")
        assert found is not None
        return {p.get("name"): p.get("value") for p in found if p.get("name") != "password"}

    assert dial_vars("1005") == {
        "dial-var-absolute_codec_string": "OPUS,PCMA,PCMU",
        "dial-var-media_timeout": "30000",  # no media for 30 s (ICE, DTLS failed): hung up
    }
    assert dial_vars("1001") == {}  # a desk phone: the profile's codecs
    assert '<load module="mod_opus"/>' in files["freeswitch.xml"]
    # G.711 only: no mod_opus; no candidate_networks: any candidate will do
    files = _fs_files(tmp_path / "g711", BROWSER_AGENT, FS_WEBRTC + 'codecs = ["alaw"]\n')
    directory = ET.fromstring(files["cc-directory.xml"])
    assert dial_vars("1005")["dial-var-absolute_codec_string"] == "PCMA"
    assert "mod_opus" not in files["freeswitch.xml"]
    acl = ET.fromstring(files["cc-acl.conf.xml"]).find(".//list[@name='cc_webrtc_candidates']")
    assert acl is not None and acl.get("default") == "allow" and not list(acl)


def test_freeswitch_without_browser_phones_renders_no_wss_listener(tmp_path: Path) -> None:
    files = _fs_files(tmp_path, "", "")
    for name in ("cc-sofia.conf.xml", "cc-acl.conf.xml", "cc-directory.xml", "freeswitch.xml"):
        assert not re.search(r"wss|candidate|dial-var|mod_opus", files[name]), name


def test_freeswitch_reads_the_wss_certificate_by_name_and_says_so(tmp_path: Path) -> None:
    """sofia takes a folder holding wss.crt and wss.key (or one wss.pem): other names are a
    render error naming the keys, never a listener without its certificate."""
    with pytest.raises(FsRenderError) as info:
        _fs_files(tmp_path, BROWSER_AGENT, WEBRTC)  # /etc/asterisk/keys/pbx.crt, pbx.key
    assert "webrtc.cert_file" in str(info.value) and "wss.crt" in str(info.value)
    pem = FS_WEBRTC.replace("wss.crt", "wss.pem").replace("wss.key", "wss.pem")
    files = _fs_files(tmp_path / "pem", BROWSER_AGENT, pem)
    assert 'name="tls-cert-dir" value="/etc/freeswitch/tls"' in files["cc-sofia.conf.xml"]


def test_a_sandbox_freeswitch_without_mod_opus_refuses_opus_for_browser_phones(
    tmp_path: Path,
) -> None:
    """The sandbox root is built with a minimal module set (no mod_opus): asked for Opus, the
    sandbox says which module is missing and what to configure, before writing anything."""
    from callcenter.pbx.base import SandboxError
    from callcenter.pbx.freeswitch.dialplan import MODULES
    from callcenter.pbx.freeswitch.sandbox import MODULE_DIR, Instance
    from tests.unit.test_freeswitch_wing import fs_config

    directory = fs_config(tmp_path).source_dir
    for name, extra in (("agents.toml", BROWSER_AGENT), ("center.toml", FS_WEBRTC)):
        path = directory / name
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    config = load_config(directory)
    root = tmp_path / "root"
    (root / MODULE_DIR).mkdir(parents=True)
    for module in MODULES:  # everything the center loads but mod_opus
        (root / MODULE_DIR / f"{module}.so").touch()
    phones = tuple(a.extension for a in config.agents)
    instance = Instance(name="t", root=root, own_config=True, agents=phones, wss_port=17443)
    with pytest.raises(SandboxError, match=r"no mod_opus.*\[webrtc\] codecs"):
        instance.render_config(config)
    assert not (instance.dir / "conf").exists()
