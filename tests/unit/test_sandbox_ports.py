"""The sandbox tests' fixed ports do not collide: in one session the Asterisk center, the
FreeSWITCH center, the standby pair and the Kamailio nodes run side by side (CI found the
pair's engine refused its HTTP port because the FreeSWITCH center's engine held it), and the
Kamailio layouts (the Asterisk pair, the mixed center) apart from them and each other."""

from __future__ import annotations

from tests.integration import harness, nodes, pair


def single_ports() -> dict[str, int]:
    found: dict[str, int] = {}
    for module in (harness, pair, nodes):
        for name, value in vars(module).items():
            if name.endswith("_PORT") and isinstance(value, int):
                found[f"{module.__name__}.{name}"] = value
    for label, layout in (("PAIR", nodes.PAIR), ("MIXED", nodes.MIXED)):
        single = {"http": layout.http, "proxy_sip": layout.proxy_sip}
        single["proxy_control"] = layout.proxy_control
        for i in range(2):
            single[f"sip{i}"] = layout.sip[i]
            single[f"control{i}"] = layout.control[i]
        for key, port in single.items():
            found[f"tests.integration.nodes.{label}_{key}"] = port
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
