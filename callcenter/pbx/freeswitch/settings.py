"""A FreeSWITCH node's own keys in center.toml `[[pbx.nodes]]` (the event-socket link and the
dial strings), read at config load: imports nothing above the config models, so the config
loader can ask for it before anything else of the wing is loaded."""

from __future__ import annotations

from typing import Annotated

from pydantic.dataclasses import dataclass

from callcenter.config_models import STRICT, Str
from callcenter.pbx.node_keys import EnvName, Port, dial_string, env_secret

RECORDINGS_DIR = "/var/lib/freeswitch/recordings/callcenter"  # the node's view of the root


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
