"""The sandbox sessions' port plan: which ports each integration slot may use.

CALLCENTER_IT_SLOT=0..4 picks a slot, so sandbox sessions (developers working in parallel in
checkouts of their own) run side by side on one machine; CI runs slot 0. A slot's ports are
seven bands; every port a harness module, a sandbox test or a slot-aware bench tool uses is its
band's first port plus an offset that is the same in every slot, so the slots never share a
port (tests/unit/test_sandbox_ports.py checks each slot's whole set against every other's).

Slot 0 keeps the ports CI has always used (SIP 25060, AMI 25038, engine HTTP 25080, ...,
22800-30019 in all). Slots 1-4 pack the same bands, the Asterisk's RTP range cut to 400
ports, one below the other under slot 0 (slot 1 just under 22800, slot 4 from 1360).

Every port is below the kernel's ephemeral range (32768-60999): a client polling a port nobody
listens on yet could otherwise be given that very port as its own and connect to itself, and
the engine then cannot bind it. The ports a browser opens (the engines' HTTP, the Asterisk's
WebSocket) are none that Chromium refuses (checked for every slot), so the browser tests run in
every slot.

The shipped config's demo (`callcenter demo`, SIP 15060 / 15500, RTP 20000-20999) is not
slot-relative: its ports lie inside slots 1 and 2 (do not run it beside those sessions).
"""

from __future__ import annotations

import os

SLOTS = (0, 1, 2, 3, 4)

# band: (slot 0's first port, size). Inside each band (offsets from its first port):
#   fs_callers  the FreeSWITCH center's phones' RTP: the carrier side's citizens +0, the
#               supervisor +100, callers from +200 (20 each, 30 at a time)
#   fs          the FreeSWITCH center: its RTP +0..399, the agents' phones' RTP from +400,
#               callers' SIP +900.., the supervisor's SIP +950, the 110 operator's RTP +960
#   control     every single port: the Asterisk center's SIP (+60), AMI (+38), relay, engine
#               HTTP (+80), WebSocket, trunks; the agents' and callers' SIP ports; the
#               FreeSWITCH center's SIP, ESL, engine HTTP; the standby pair's engines; the
#               Kamailio nodes (+400.., +700..999), the private FreeSWITCH and Asterisk
#               sandboxes of single modules (+500..999), the bench tools' ports
#   rtp         the Asterisk center's RTP range
#   agents      the Asterisk center's agents' phones' RTP
#   callers     the Asterisk center's callers' RTP (20 each, 30 at a time); the staffing
#               test's citizens (which run with no other callers)
#   phones      single phones' RTP (the 110 operator +0, the carrier side's citizens +400,
#               probe and supervisor +600.., browser-test callers +700..), the Kamailio nodes'
#               agents (+0, +400) and callers (+600..), the private FreeSWITCH's phones
SLOT0: dict[str, tuple[int, int]] = {
    "fs_callers": (22800, 820),
    "fs": (24000, 1000),
    "control": (25000, 1000),
    "rtp": (26000, 1000),
    "agents": (27000, 480),
    "callers": (28000, 640),
    "phones": (29000, 1020),
}
PACKED_RTP = 400  # the Asterisk center's RTP range in slots 1-4
PACKED_WIDTH = sum(PACKED_RTP if name == "rtp" else size for name, (_, size) in SLOT0.items())


def bands(slot: int) -> dict[str, range]:
    """The slot's bands: name -> its ports."""
    if slot not in SLOTS:
        raise ValueError(f"CALLCENTER_IT_SLOT must be one of {list(SLOTS)}, not {slot}")
    if slot == 0:
        return {name: range(first, first + size) for name, (first, size) in SLOT0.items()}
    first = SLOT0["fs_callers"][0] - slot * PACKED_WIDTH
    found: dict[str, range] = {}
    for name, (_, size) in SLOT0.items():
        size = PACKED_RTP if name == "rtp" else size
        found[name] = range(first, first + size)
        first += size
    return found


def slot_from_env() -> int:
    text = os.environ.get("CALLCENTER_IT_SLOT", "0") or "0"
    if not text.isdigit() or int(text) not in SLOTS:
        raise RuntimeError(f"CALLCENTER_IT_SLOT must be one of {list(SLOTS)}, not {text!r}")
    return int(text)


SLOT = slot_from_env()
BANDS = bands(SLOT)
CONTROL = BANDS["control"].start  # slot 0: 25000
