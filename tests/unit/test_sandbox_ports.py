"""The sandbox tests' ports do not collide.

In one session the Asterisk center, the FreeSWITCH center, the standby pair and the Kamailio
nodes run side by side (CI found the pair's engine refused its HTTP port because the FreeSWITCH
center's engine held it): their fixed ports are distinct. Sessions of different slots
(CALLCENTER_IT_SLOT) run side by side too: each slot's whole port set, the fixed ports and the
ranges of every harness module, sandbox test and slot-aware bench tool, lies in that slot's
bands, and no two slots' bands share a port. The ports a browser opens are none Chromium
refuses, in every slot.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from itertools import combinations
from typing import Any

from callcenter.paths import REPO
from tests.integration import harness, nodes, pair, ports


def single_ports() -> dict[str, int]:
    found: dict[str, int] = {}
    for module in (harness, pair, nodes):
        for name, value in vars(module).items():
            if name.endswith("_PORT") and isinstance(value, int):
                found[f"{module.__name__}.{name}"] = value
    found["tests.integration.nodes.HTTP"] = nodes.HTTP
    found["tests.integration.nodes.PROXY_CONTROL"] = nodes.PROXY_CONTROL
    for i in range(2):
        found[f"tests.integration.nodes.SIP[{i}]"] = nodes.SIP[i]
        found[f"tests.integration.nodes.CONTROL[{i}]"] = nodes.PAIR.control[i]
    for i, port in enumerate(pair.PAIR_PORTS):
        found[f"tests.integration.pair.PAIR_PORTS[{i}]"] = port
    return found


def test_the_sandbox_sessions_ports_are_distinct() -> None:
    ports = single_ports()
    assert len(ports) > 15  # the scan sees the harness's ports
    # one constant imported into another module is one port: names are compared without it
    names: dict[int, set[str]] = {}
    for qualified, port in ports.items():
        names.setdefault(port, set()).add(qualified.rsplit(".", 1)[1])
    assert {port: sorted(n) for port, n in names.items() if len(n) > 1} == {}


# Every module that takes ports from the slot: the harness and its siblings, the sandbox tests
# with private PBXs or phones of their own, the bench tools that run in a slot.
PORT_MODULES = (
    "tests.integration.harness",
    "tests.integration.pair",
    "tests.integration.nodes",
    "tests.integration.test_freeswitch_sandbox",
    "tests.integration.test_softphone_shift",
    "tests.integration.test_staffing_on_sandbox",
    "tests.integration.test_sip_edge_on_pbx",
    "tests.integration.test_call_priority_on_pbx",
    "tools.bench_fs",
    "tools.bench_esl",
    "tools.bench_nodes",
)
# a module-level name that holds a port, a range (first, last) or several of them
PORT_NAME = re.compile(r"(^|_)(PORTS?|SIP|AMI|RTP|HTTP|ESL|MEDIA|CONTROL|BASE|SIPP)(_|$)")
# A softphone given RTP port P picks from P .. P + 39 (tools/softphone.py, one account)
PHONE_RANGE = 40

# The ports the Fetch standard calls bad and Chromium refuses to open (those from 1024 on)
CHROMIUM_REFUSED = frozenset(
    {1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566}
    | set(range(6665, 6670))
    | {6679, 6697, 10080}
)

_DUMP = """
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    for key, value in vars(module).items():
        if not key.isupper():
            continue
        if isinstance(value, tuple) and all(isinstance(v, tuple) for v in value):
            value = [list(v) for v in value]
        elif isinstance(value, tuple):
            value = list(value)
        if isinstance(value, (int, list)) and not isinstance(value, bool):
            found[f"{name}.{key}"] = value
print(json.dumps(found))
"""


def _port_sets(name: str, value: int | list[Any]) -> dict[str, range]:
    """A constant's ports: a port (a phone's RTP port: the range it picks from), a pair
    (first, last) of an RTP range, pairs of them, or several ports."""
    rtp = "RTP" in name or "MEDIA" in name
    if isinstance(value, int):
        return {name: range(value, value + (PHONE_RANGE if rtp else 1))} if value >= 1024 else {}
    if all(isinstance(v, list) for v in value):
        return {f"{name}[{i}]": range(v[0], v[1] + 1) for i, v in enumerate(value)}
    if rtp and len(value) == 2:
        return {name: range(value[0], value[1] + 1)}
    return {f"{name}[{i}]": range(v, v + 1) for i, v in enumerate(value) if v >= 1024}


def declared_ports() -> dict[int, dict[str, range]]:
    """Slot -> every port and range the modules declare in that slot (name -> its ports),
    each slot read from a fresh interpreter with CALLCENTER_IT_SLOT set."""
    runs = {
        slot: subprocess.Popen(
            [sys.executable, "-c", _DUMP, *PORT_MODULES],
            cwd=REPO,
            env={**os.environ, "CALLCENTER_IT_SLOT": str(slot)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for slot in ports.SLOTS
    }
    found: dict[int, dict[str, range]] = {}
    for slot, run in runs.items():
        out, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"slot {slot}: the modules did not import"
        found[slot] = {}
        for name, value in json.loads(out).items():
            if PORT_NAME.search(name.rsplit(".", 1)[1]):
                found[slot].update(_port_sets(name, value))
    return found


def test_the_mixed_center_takes_the_kamailio_pairs_ports() -> None:
    """The mixed center's nodes and the Asterisk pair are never up at once (each is one test
    module's fixture), so they share one set of ports, the one the checks here cover."""
    ports_of = "sip control rtp proxy_sip proxy_control http agent_sip agent_rtp caller_sip"
    ports_of += " caller_rtp callers"
    assert {k: getattr(nodes.MIXED, k) for k in ports_of.split()} == {
        k: getattr(nodes.PAIR, k) for k in ports_of.split()
    }
    assert set(nodes.MIXED.names).isdisjoint(nodes.PAIR.names)


def test_every_slot_has_its_own_ports() -> None:
    every = {slot: ports.bands(slot) for slot in ports.SLOTS}
    for slot, bands in every.items():
        for name, band in bands.items():
            assert band.start >= 1024 and band.stop <= 32768, (slot, name, band)
    for (a, bands_a), (b, bands_b) in combinations(every.items(), 2):
        for name_a, band_a in bands_a.items():
            for name_b, band_b in bands_b.items():
                shared = range(max(band_a.start, band_b.start), min(band_a.stop, band_b.stop))
                assert not shared, f"slot {a}'s {name_a} and slot {b}'s {name_b} share {shared}"
    # slot 0 keeps the ports CI has always used
    assert (harness.SIP_PORT, harness.AMI_PORT, harness.HTTP_PORT) == (
        ports.CONTROL + 60,
        ports.CONTROL + 38,
        ports.CONTROL + 80,
    )
    assert ports.bands(0)["control"].start == 25000 and ports.bands(0)["rtp"] == range(26000, 27000)


def test_every_module_takes_its_ports_from_its_slot_and_a_browser_opens_them() -> None:
    declared = declared_ports()
    assert len(declared[0]) > 40  # the scan sees the modules' ports
    for slot, found in declared.items():
        bands = ports.bands(slot)
        outside = {
            name: (r.start, r.stop - 1)
            for name, r in found.items()
            if not any(r.start >= b.start and r.stop <= b.stop for b in bands.values())
        }
        assert outside == {}, f"slot {slot}: ports outside its bands"
        # what a browser opens: the engines' consoles and the Asterisk's WebSocket (TLS, plain)
        browser = {
            name: r.start
            for name, r in found.items()
            if re.search(r"\.(HTTP_PORT|FS_HTTP_PORT|HTTP|PAIR_PORTS\[\d\]|WSS_PORT)$", name)
        }
        browser["WSS_PORT + 1"] = found["tests.integration.harness.WSS_PORT"].start + 1
        assert len(browser) >= 6
        assert {n: p for n, p in browser.items() if p in CHROMIUM_REFUSED} == {}, slot
