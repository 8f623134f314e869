"""A FreeSWITCH node's own keys in center.toml `[[pbx.nodes]]` (the event-socket link and the
dial strings), read at config load: imports nothing above the config models, so the config
loader can ask for it before anything else of the wing is loaded."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated

from pydantic.dataclasses import dataclass

from callcenter.config_models import STRICT, Str
from callcenter.pbx.node_keys import EnvName, Port, dial_string, env_secret

RECORDINGS_DIR = "/var/lib/freeswitch/recordings/callcenter"  # the node's view of the root
# Behind [pbx.proxy]: a phone through the `kamailio` gateway the SIP profile then has
PROXY_DIAL = "sofia/gateway/kamailio/{extension}"


@dataclass(frozen=True, config=STRICT)
class FreeswitchSettings:
    """`esl_port`: the inbound event socket the driver connects to; `secret_env`: the
    environment variable holding its password (never the password itself); `agent_dial`: how
    a phone is dialled from its extension (a directory user); `outbound_dial`: how a citizen's
    number is (the carrier gateway)."""

    esl_port: Port = 8021
    secret_env: EnvName = "CALLCENTER_ESL_SECRET"
    agent_dial: Annotated[Str, dial_string("extension", "user/{extension}")] = "user/{extension}"
    outbound_dial: Annotated[Str, dial_string("number", "sofia/gateway/carrier-out/{number}")] = (
        "sofia/gateway/carrier-out/{number}"
    )

    def secret(self, node: str) -> str:
        """The ESL password from the environment; ConfigError naming the variable if unset."""
        return env_secret(self.secret_env, "ESL password", node)

    def dial(self, extension: str) -> str:
        return self.agent_dial.format(extension=extension)

    def with_agent_dial(self, agent_dial: str) -> FreeswitchSettings:
        return replace(self, agent_dial=agent_dial)


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
