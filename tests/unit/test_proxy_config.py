"""[pbx.proxy] (the SIP proxy in front of several nodes): read from center.toml with every
mistake naming file and key, and rendered into Kamailio's config and dispatcher list."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.config import ProxyConfig, load_config
from callcenter.pbx.asterisk.dialplan import RenderParams
from callcenter.pbx.base import SandboxError
from callcenter.pbx.kamailio.proxy import render
from tests.unit.test_config import copy_config, edit, load_errors
from tests.unit.test_dialplan import render_to, section

TWO_NODES = """[[pbx.nodes]]
name = "b"
kind = "asterisk"
host = "127.0.0.1"
ami_port = 15048
sip_port = 15070
agent_dial = "PJSIP/{extension}@kamailio"

[pbx.proxy]
sip_port = 15080
control_port = 15081
probe_interval = 2
failures = 4
"""


def two_nodes(tmp_path: Path, extra: str = "") -> Path:
    directory = copy_config(tmp_path)
    edit(directory, "center.toml", "[[pbx.nodes]]", TWO_NODES + extra + "\n[[pbx.nodes]]")
    return directory


def test_proxy_table_is_read(tmp_path: Path) -> None:
    config = load_config(two_nodes(tmp_path))
    assert config.proxy == ProxyConfig(
        sip_port=15080, control_port=15081, probe_interval=2, failures=4
    )
    assert [n.name for n in config.nodes] == ["b", "a"]
    assert config.nodes[0].settings.dial("1001") == "PJSIP/1001@kamailio"
    assert config.engine.node_dead_after == 15.0


def test_no_proxy_table_no_proxy() -> None:
    assert load_config(Path(__file__).parents[2] / "config").proxy is None


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ("failures = 4", "failures = 0", "pbx.proxy.failures", "from 1 to 20"),
        ("probe_interval = 2", "probe_interval = 0.5", "pbx.proxy.probe_interval", "integer"),
        ("control_port = 15081", "control_port = 15080", "pbx.proxy.control_port", "differ"),
        ("sip_port = 15080", "sip_port = 15070", "pbx.nodes[0].sip_port", "proxy's own"),
        ("failures = 4", "failures = 4\nretries = 2", "pbx.proxy.retries", "unknown key"),
    ],
)
def test_proxy_mistakes_name_file_and_key(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    directory = two_nodes(tmp_path)
    edit(directory, "center.toml", old, new)
    errors = load_errors(directory)
    matching = [e for e in errors.errors if e.key == key]
    assert matching, f"no error for {key}; got:\n{errors}"
    assert matching[0].file == "config/center.toml"
    assert words in matching[0].message


def test_engine_node_dead_after_must_be_positive(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    edit(directory, "center.toml", "node_dead_after = 15", "node_dead_after = 0")
    errors = load_errors(directory)
    assert [e.key for e in errors.errors] == ["engine.node_dead_after"]


def test_render_lists_every_node_and_phone(tmp_path: Path) -> None:
    config = load_config(two_nodes(tmp_path))
    assert config.proxy is not None
    files = render(config.proxy, config.nodes, {"1001": "pw-1", "1002": "pw-2"}, "/srv/cc/p")
    listing = [line for line in files["dispatcher.list"].splitlines() if not line.startswith("#")]
    assert listing == [
        "1 sip:127.0.0.1:15070 0 0 name=b",
        "1 sip:127.0.0.1:15060 0 0 name=a",
    ]
    cfg = files["kamailio.cfg"]
    assert "listen=udp:127.0.0.1:15080" in cfg and "listen=tcp:127.0.0.1:15081" in cfg
    assert 'modparam("dispatcher", "ds_probing_threshold", 4)' in cfg
    assert 'modparam("dispatcher", "ds_ping_interval", 2)' in cfg
    assert '$sht(phones=>1001) = "pw-1";' in cfg


def test_render_refuses_a_phone_without_password(tmp_path: Path) -> None:
    config = load_config(two_nodes(tmp_path))
    assert config.proxy is not None
    with pytest.raises(SandboxError, match="no SIP password for phone 1002"):
        render(config.proxy, config.nodes, {"1001": "pw", "1002": ""}, "/srv/cc/p")


def test_pbx_commands_without_a_proxy_name_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped config has one node and no [pbx.proxy]: `--nodes 2` and `drain` are config
    errors naming center.toml and the key, and nothing is started."""
    shipped = str(Path(__file__).parents[2] / "config")
    assert main(["--config", shipped, "pbx", "up", "--nodes", "2"]) != 0
    err = capsys.readouterr().err
    assert "center.toml: pbx.nodes: --nodes 2: the config lists 1 node(s)" in err
    assert main(["--config", shipped, "pbx", "drain", "a"]) != 0
    assert "center.toml: pbx.proxy: draining a node needs a [pbx.proxy] table" in (
        capsys.readouterr().err
    )
    assert main(["--config", shipped, "pbx", "drain", "nosuch"]) != 0
    assert "no node named 'nosuch'" in capsys.readouterr().err


def test_drain_against_a_proxy_that_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = two_nodes(tmp_path)
    edit(directory, "center.toml", "control_port = 15081", "control_port = 1")
    assert main(["--config", str(directory), "pbx", "drain", "b"]) == 1
    assert "the proxy's control interface http://127.0.0.1:1/RPC" in capsys.readouterr().err


def test_a_node_behind_the_proxy_dials_agents_through_it(tmp_path: Path) -> None:
    """pjsip.conf gets an outbound-only `kamailio` endpoint whose contact is the proxy (what
    agent_dial "PJSIP/{extension}@kamailio" reaches); without [pbx.proxy] there is none."""
    config = load_config(two_nodes(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    pjsip = render_to(out, config, RenderParams())["pjsip.conf"]
    endpoint, aor = section(pjsip, "kamailio", 0), section(pjsip, "kamailio", 1)
    assert "type = endpoint" in endpoint and "context = cc-refused" in endpoint
    assert "contact = sip:127.0.0.1:15080" in aor
    assert "kamailio-identify" not in pjsip  # no request is ever this endpoint
    plain = load_config(Path(__file__).parents[2] / "config")
    plain_out = tmp_path / "plain"
    plain_out.mkdir()
    assert "[kamailio]" not in render_to(plain_out, plain, RenderParams())["pjsip.conf"]
