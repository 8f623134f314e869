"""The registry hands each node to its kind's wing: the driver gets the node's own settings
(its dial strings, its control link), the live-audio framing is the wing's."""

from __future__ import annotations

import shutil
from pathlib import Path

from callcenter.config import load_config
from callcenter.pbx.asterisk import audiosocket
from callcenter.pbx.asterisk.driver import AsteriskDriver
from callcenter.pbx.registry import DEFAULT_KIND, KINDS, wing
from callcenter.service import ServiceOptions, build_drivers, queue_members
from tests.unit.fakes import SHIPPED_CONFIG


def test_the_driver_of_a_node_comes_from_its_wing_with_the_node_settings(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, directory)
    center = directory / "center.toml"
    text = center.read_text(encoding="utf-8")
    center.write_text(
        text.replace(
            'ami_user = "callcenter"',
            'ami_user = "callcenter"\nagent_dial = "PJSIP/{extension}@proxy"\n'
            'outbound_dial = "PJSIP/{number}@other-carrier"',
        ),
        encoding="utf-8",
    )
    config = load_config(directory)
    (node,) = config.nodes
    assert node.kind == DEFAULT_KIND == "asterisk"
    drivers = build_drivers(config, ServiceOptions(secrets={node.name: "from-the-sandbox"}))
    driver = drivers[node.name]
    assert isinstance(driver, AsteriskDriver)
    assert driver.node == node.name
    assert driver._dials["1001"] == "PJSIP/1001@proxy"
    assert driver._phone_dial.format(extension="9001") == "PJSIP/9001@proxy"
    assert driver._outbound_dial.format(number="13800000000") == "PJSIP/13800000000@other-carrier"
    assert queue_members(config)["1001"].interface == "PJSIP/1001@proxy"


def test_each_kind_has_its_wing() -> None:
    assert list(KINDS) == ["asterisk", "freeswitch"]
    assert isinstance(wing("asterisk").live_audio(), audiosocket.AudioSocketListener)
