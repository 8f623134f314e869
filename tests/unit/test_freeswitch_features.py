"""The FreeSWITCH wing's further capabilities without a running FreeSWITCH: emergency targets
as FreeSWITCH dials them and the IVR menus compiled into XML. (test_emergency_on_pbx.py and
test_ivr_on_pbx.py drive them against the real FreeSWITCH.)"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from callcenter.config import load_config
from callcenter.pbx.freeswitch.dialplan import RenderError, RenderParams, check, render
from callcenter.pbx.freeswitch.emergency import EmergencyTargetError, dial_status, target
from callcenter.pbx.freeswitch.ivr_dialplan import compile_flows
from tests.unit.fakes import SHIPPED_CONFIG


def _files(config_dir: Path) -> dict[str, str]:
    config = load_config(config_dir)
    phones = [a.extension for a in config.agents] + [s.extension for s in config.supervisors]
    return render(config, RenderParams(esl_secret="s", phone_passwords=dict.fromkeys(phones, "p")))


def test_an_asterisk_style_emergency_target_goes_through_its_trunks_gateway() -> None:
    t = target("PJSIP/110@emergency")
    assert (t.dial, t.gateway, t.name) == ("sofia/gateway/emergency/110", "emergency", t.name)
    assert target("sofia/gateway/police/110").gateway == "police"
    with pytest.raises(EmergencyTargetError):
        target("110")


def test_the_shipped_emergency_lines_render_with_their_gateway_and_failover() -> None:
    files = _files(SHIPPED_CONFIG)
    assert check(files) == []
    sofia = ET.fromstring(files["cc-sofia.conf.xml"])
    assert {g.get("name") for g in sofia.iter("gateway")} == {"carrier-out", "emergency"}
    plan = ET.fromstring(files["cc-emergency.xml"])
    lines = [x.get("name") for x in plan.iter("extension")]
    assert {"emergency-110", "emergency-119", "emergency-120", "emergency-122"} <= set(lines)
    bridge = next(a for a in plan.iter("action") if a.get("application") == "bridge")
    assert bridge.get("data", "").endswith("sofia/gateway/emergency/110")
    inbound = ET.fromstring(files["cc-dialplan.xml"]).find("context[@name='cc-inbound']")
    assert inbound is not None
    first = inbound.find("extension")
    assert first is not None and first.get("name") == "emergency-110"  # before the DIDs


def test_an_emergency_target_freeswitch_cannot_dial_is_a_config_error_naming_the_key(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, directory)
    trunks = directory / "trunks.toml"
    trunks.write_text(
        trunks.read_text(encoding="utf-8").replace('"PJSIP/110@emergency"', '"110"', 1),
        encoding="utf-8",
    )
    with pytest.raises(RenderError, match=r"trunks.toml: emergency\[0\]\.targets\[0\]"):
        _files(directory)


def test_the_menu_numbers_enter_their_compiled_flow() -> None:
    files = _files(SHIPPED_CONFIG)
    plan = ET.fromstring(files["cc-ivr.xml"])
    contexts = {c.get("name"): c for c in plan.iter("context")}
    menu = contexts["ivr-market-menu"]
    keys = [e.get("name") for e in menu.iter("extension")]
    assert keys[:2] == ["start", "prompt"] and keys[-2:] == ["no-key", "invalid"]
    assert {"key-1", "key-2", "key-0"} <= set(keys)  # options and the operator digit
    entry = ET.fromstring(files["cc-dialplan.xml"]).find(".//extension[@name='did-12315']")
    assert entry is not None
    actions = [(a.get("application"), a.get("data")) for a in entry.iter("action")]
    assert ("transfer", "s XML ivr-market-welcome") in actions
    assert ("set", "tod_tz_offset=8") in actions  # Asia/Shanghai


def test_business_hours_become_time_conditions() -> None:
    config = load_config(SHIPPED_CONFIG)
    assert config.ivr is not None
    text = compile_flows(config.ivr, {"main_menu"})
    hours = text[text.index('<context name="ivr-main_menu-hours">') :]
    hours = hours[: hours.index("</context>")]
    # daily 08:00-20:00: minutes 480..1199, FreeSWITCH's 1-based inclusive 481-1200, each day
    assert sorted(re.findall(r'wday="(\d)" minute-of-day="481-1200"', hours)) == list("1234567")
    # the holidays come first and are closed (no holiday hours)
    assert hours.index('year="2026" mon="2" mday="16"') < hours.index("wday=")
    assert hours.rstrip().endswith("</condition></extension>")
    ET.fromstring(f"<x>{text}</x>")


def test_emergency_dial_outcomes_read_as_dial_status() -> None:
    assert dial_status("SUCCESS") == "ANSWER" and dial_status("NO_ANSWER") == "NOANSWER"
    assert dial_status("USER_BUSY") == "BUSY" and dial_status("NO_ROUTE_DESTINATION") == (
        "CHANUNAVAIL"
    )
