"""The browser phone's configuration: agents.toml `phone`, center.toml [webrtc], and what the
renderer makes of them (a WebRTC endpoint block, http.conf's TLS listener)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from callcenter.config import ConfigErrors, load_config
from callcenter.pbx.asterisk.dialplan import DEPLOYMENT_FILES, RenderParams, render
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
