"""A mixed center's configuration (issue 16): an Asterisk node and a FreeSWITCH node behind
[pbx.proxy]. Each kind dials the agents' phones through the proxy by default (its own way,
rendered from [pbx.proxy]); a node that dials a phone registered on itself is a config error
naming file and key; each node's dialplan is rendered and checked for its kind (`--node`);
the proxy's dispatcher lists both."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.config import Config, load_config
from callcenter.pbx.asterisk.driver import AsteriskDriver
from callcenter.pbx.freeswitch.dialplan import RenderParams, check, render
from callcenter.pbx.freeswitch.driver import FreeswitchDriver
from callcenter.pbx.kamailio.proxy import render as render_proxy
from callcenter.service import ServiceOptions, build_drivers
from tests.unit.test_config import copy_config, edit, load_errors

# a FreeSWITCH node "f" before the shipped Asterisk node "a", and the proxy
FS_NODE = """[[pbx.nodes]]
name = "f"
kind = "freeswitch"
host = "127.0.0.1"
esl_port = 15021
sip_port = 15070
rtp_start = 21000
rtp_end = 21999
"""
PROXY = """
[pbx.proxy]
sip_port = 15080
control_port = 15081
"""


def mixed(tmp_path: Path, fs_extra: str = "", proxy: bool = True) -> Path:
    directory = copy_config(tmp_path)
    edit(directory, "center.toml", "[[pbx.nodes]]", FS_NODE + fs_extra + "\n[[pbx.nodes]]")
    if proxy:
        path = directory / "center.toml"
        path.write_text(path.read_text(encoding="utf-8") + PROXY, encoding="utf-8")
    return directory


def params(config: Config, **kw: object) -> RenderParams:
    phones = [a.extension for a in config.agents] + [s.extension for s in config.supervisors]
    base = RenderParams(esl_secret="s3cret-esl", phone_passwords={p: f"pw-{p}" for p in phones})
    return RenderParams(**{**base.__dict__, **kw})


def test_behind_the_proxy_each_kind_dials_the_phones_through_it(tmp_path: Path) -> None:
    config = load_config(mixed(tmp_path))
    f, a = config.nodes
    assert (f.kind, a.kind) == ("freeswitch", "asterisk")
    assert f.settings.dial("1001") == "sofia/gateway/kamailio/1001"
    assert a.settings.dial("1001") == "PJSIP/1001@kamailio"
    drivers = build_drivers(config, ServiceOptions(secrets={"f": "x", "a": "y"}))
    fs, ast = drivers["f"], drivers["a"]
    assert isinstance(fs, FreeswitchDriver) and isinstance(ast, AsteriskDriver)
    assert fs._dials["1001"] == "sofia/gateway/kamailio/1001"
    assert fs._by_user == {}  # its phones register on the proxy, not on this node
    # mod_callcenter's fallback agents are named by extension, whatever dials them
    assert fs._by_extension["1001"] == "1001"
    assert ast._dials["1001"] == "PJSIP/1001@kamailio"


def test_without_a_proxy_the_nodes_dial_their_own_phones(tmp_path: Path) -> None:
    f, a = load_config(mixed(tmp_path, proxy=False)).nodes
    assert f.settings.dial("1001") == "user/1001"
    assert a.settings.dial("1001") == "PJSIP/1001"


@pytest.mark.parametrize(
    ("where", "dial", "key", "words"),
    [
        ("f", 'agent_dial = "user/{extension}"\n', "pbx.nodes[0].agent_dial", "sofia/gateway"),
        ("a", 'agent_dial = "PJSIP/{extension}"\n', "pbx.nodes[1].agent_dial", "@kamailio"),
    ],
)
def test_a_node_dialling_its_own_phones_behind_the_proxy_names_file_and_key(
    tmp_path: Path, where: str, dial: str, key: str, words: str
) -> None:
    directory = mixed(tmp_path, dial if where == "f" else "")
    if where == "a":
        edit(directory, "center.toml", 'name = "a"\n', 'name = "a"\n' + dial)
    errors = load_errors(directory)
    assert [e.key for e in errors.errors] == [key]
    assert errors.errors[0].file == "config/center.toml"
    assert "register on the proxy" in errors.errors[0].message
    assert words in errors.errors[0].message


def test_a_node_may_dial_through_the_proxy_its_own_way(tmp_path: Path) -> None:
    custom = 'agent_dial = "sofia/cc/{extension}@127.0.0.1:15080"\n'
    f, _ = load_config(mixed(tmp_path, custom)).nodes
    assert f.settings.dial("1001") == "sofia/cc/1001@127.0.0.1:15080"


def test_the_freeswitch_node_rings_agents_through_a_gateway_to_the_proxy(tmp_path: Path) -> None:
    config = load_config(mixed(tmp_path))
    f = config.nodes[0]
    files = render(config, params(config, agent_dial=f.settings.agent_dial))
    assert check(files) == []
    sofia = ET.fromstring(files["cc-sofia.conf.xml"])
    gateways = {g.get("name"): g for g in sofia.iter("gateway")}
    proxy = {p.get("name"): p.get("value") for p in gateways["kamailio"].iter("param")}
    assert proxy["proxy"] == "127.0.0.1:15080" and proxy["register"] == "false"
    # the fallback route (mod_callcenter) rings the agents the same way
    cc = ET.fromstring(files["cc-callcenter.conf.xml"])
    contacts = {a.get("name"): a.get("contact") for a in cc.iter("agent")}
    assert contacts["1001"] == "[call_timeout=15]sofia/gateway/kamailio/1001"
    plain = load_config(mixed(tmp_path / "plain", proxy=False))
    plain_files = render(plain, params(plain))
    assert "kamailio" not in plain_files["cc-sofia.conf.xml"]
    assert "[call_timeout=15]user/1001" in plain_files["cc-callcenter.conf.xml"]


def test_each_nodes_dialplan_is_checked_for_its_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(mixed(tmp_path))
    assert main(["--config", directory, "dialplan", "check", "--node", "f"]) == 0
    fs_out = capsys.readouterr().out
    assert main(["--config", directory, "dialplan", "check", "--node", "a"]) == 0
    asterisk_out = capsys.readouterr().out
    assert "dialplan ok:" in fs_out and " files" in fs_out  # FreeSWITCH: its XML files
    assert "dialplan ok:" in asterisk_out and " files" not in asterisk_out
    assert main(["--config", directory, "dialplan", "check", "--node", "nosuch"]) != 0
    assert "center.toml: pbx.nodes: no node named 'nosuch'" in capsys.readouterr().err


def test_the_proxy_lists_the_nodes_of_both_kinds(tmp_path: Path) -> None:
    config = load_config(mixed(tmp_path))
    assert config.proxy is not None
    files = render_proxy(config.proxy, config.nodes, {"1001": "pw"}, "/srv/cc/p")
    listing = [x for x in files["dispatcher.list"].splitlines() if not x.startswith("#")]
    assert listing == ["1 sip:127.0.0.1:15070 0 0 name=f", "1 sip:127.0.0.1:15060 0 0 name=a"]
