"""The browser phone's configuration: agents.toml `phone`, center.toml [webrtc], and what the
renderer makes of them (a WebRTC endpoint block, http.conf's TLS listener)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from callcenter.config import ConfigErrors, load_config
from callcenter.pbx.asterisk.dialplan import DEPLOYMENT_FILES, RenderParams, environment, render
from callcenter.pbx.asterisk.sandbox import (
    SANDBOX_TEMPLATES,
    IceCandidates,
    loopback_ice_candidates,
)
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
        # the engine's Originate of each agent's leg runs cc-predial (PreDialGoSub)
        assert "\n[cc-predial]\n" in files["extensions.conf"]


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
