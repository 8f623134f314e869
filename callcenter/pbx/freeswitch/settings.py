"""A FreeSWITCH node's own keys in center.toml `[[pbx.nodes]]` (the event-socket link and the
dial strings), read at config load: imports nothing above the TOML reader, so the config
loader can ask for it before anything else of the wing is loaded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.tomlreader import ConfigError, TableReader

RECORDINGS_DIR = "/var/lib/freeswitch/recordings/callcenter"  # the node's view of the root


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
        value = os.environ.get(self.secret_env, "")
        if not value:
            raise ConfigError(
                "center.toml",
                "pbx.nodes.secret_env",
                f"environment variable {self.secret_env} (ESL password of node {node}) is not set",
            )
        return value

    def dial(self, extension: str) -> str:
        return self.agent_dial.format(extension=extension)


KEYS = tuple(FreeswitchSettings.__dataclass_fields__)


def _port(v: int) -> str | None:
    return None if 1 <= v <= 65535 else "must be a port from 1 to 65535"


def _dial(v: str) -> str | None:
    if "{extension}" in v and "/" in v:
        return None
    return "must be a dial string with {extension}, e.g. user/{extension}"


def _outbound(v: str) -> str | None:
    if "{number}" in v and "/" in v:
        return None
    return "must be a dial string with {number}, e.g. sofia/gateway/carrier-out/{number}"


def _env(v: str) -> str | None:
    return None if v.replace("_", "").isalnum() else "must be an environment variable's name"


def parse(r: TableReader, t: Mapping[str, Any], key: str) -> FreeswitchSettings:
    """This node's FreeSWITCH keys; mistakes go to `r` under `key` (pbx.nodes[i])."""
    d = FreeswitchSettings()
    return FreeswitchSettings(
        esl_port=r.get(t, key, "esl_port", int, d.esl_port, check=_port),
        secret_env=r.get(t, key, "secret_env", str, d.secret_env, check=_env),
        agent_dial=r.get(t, key, "agent_dial", str, d.agent_dial, check=_dial),
        outbound_dial=r.get(t, key, "outbound_dial", str, d.outbound_dial, check=_outbound),
    )
