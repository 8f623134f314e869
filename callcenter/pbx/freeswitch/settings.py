"""A FreeSWITCH node's own keys in center.toml `[[pbx.nodes]]` (the event-socket link and the
dial strings), read at config load: imports nothing above the TOML reader, so the config
loader can ask for it before anything else of the wing is loaded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from callcenter.pbx.node_keys import dial_string, env_name, env_secret, port
from callcenter.tomlreader import TableReader

RECORDINGS_DIR = "/var/lib/freeswitch/recordings/callcenter"  # the node's view of the root
# Behind [pbx.proxy]: a phone through the `kamailio` gateway the SIP profile then has
PROXY_DIAL = "sofia/gateway/kamailio/{extension}"


@dataclass(frozen=True)
class FreeswitchSettings:
    """`esl_port`: the inbound event socket the driver connects to; `secret_env`: the
    environment variable holding its password (never the password itself); `agent_dial`: how
    a phone is dialled from its extension (a directory user); `outbound_dial`: how a citizen's
    number is (the carrier gateway)."""

    esl_port: int = 8021
    secret_env: str = "CALLCENTER_ESL_SECRET"
    agent_dial: str = "user/{extension}"
    outbound_dial: str = "sofia/gateway/carrier-out/{number}"

    def secret(self, node: str) -> str:
        """The ESL password from the environment; ConfigError naming the variable if unset."""
        return env_secret(self.secret_env, "ESL password", node)

    def dial(self, extension: str) -> str:
        return self.agent_dial.format(extension=extension)

    def with_agent_dial(self, agent_dial: str) -> FreeswitchSettings:
        return replace(self, agent_dial=agent_dial)


KEYS = tuple(FreeswitchSettings.__dataclass_fields__)


_DIAL = dial_string("extension", "user/{extension}")
_OUTBOUND = dial_string("number", "sofia/gateway/carrier-out/{number}")


def parse(r: TableReader, t: Mapping[str, Any], key: str) -> FreeswitchSettings:
    """This node's FreeSWITCH keys; mistakes go to `r` under `key` (pbx.nodes[i])."""
    d = FreeswitchSettings()
    return FreeswitchSettings(
        esl_port=r.get(t, key, "esl_port", int, d.esl_port, check=port),
        secret_env=r.get(t, key, "secret_env", str, d.secret_env, check=env_name),
        agent_dial=r.get(t, key, "agent_dial", str, d.agent_dial, check=_DIAL),
        outbound_dial=r.get(t, key, "outbound_dial", str, d.outbound_dial, check=_OUTBOUND),
    )


_TARGET = re.compile(r"^[^\s]+ XML [A-Za-z0-9_.+-]+$")


def overflow_target(target: str) -> str | None:
    """A queue's overflow target in FreeSWITCH's form: "EXTENSION XML CONTEXT" (the
    arguments of a transfer), e.g. "12345 XML cc-inbound"."""
    if _TARGET.match(target):
        return None
    return 'on a FreeSWITCH node a transfer "EXTENSION XML CONTEXT"'


def overflow_location(target: str) -> str:
    """Where a caller overflowing is transferred: a number of numbers.toml is its entry in
    cc-inbound, "" the timeout route, anything else the transfer as written."""
    if not target:
        return "timeout XML cc-hold"
    return f"{target} XML cc-inbound" if target.isdigit() else target
