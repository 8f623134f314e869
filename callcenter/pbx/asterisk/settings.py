"""An Asterisk node's own keys in center.toml `[[pbx.nodes]]` (the AMI link and the dial
string of a phone), read at config load: imports nothing above the TOML reader, so the
config loader can ask for it before anything else of the wing is loaded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.tomlreader import ConfigError, TableReader

RECORDINGS_DIR = "/var/spool/asterisk/callcenter"  # the node's view of the recordings root


@dataclass(frozen=True)
class AsteriskSettings:
    """`ami_port`/`ami_user`: the manager interface the driver logs in to; `secret_env`: the
    environment variable holding its secret (never the secret itself); `agent_dial`: how a
    phone is dialled from its extension (agents, supervisors listening in); `outbound_dial`:
    how a citizen's number is (callbacks, surveys)."""

    ami_port: int = 5038
    ami_user: str = "callcenter"
    secret_env: str = "CALLCENTER_AMI_SECRET"
    agent_dial: str = "PJSIP/{extension}"
    outbound_dial: str = "PJSIP/{number}@carrier-out"  # a citizen's number (the carrier trunk)

    def secret(self, node: str) -> str:
        """The AMI secret from the environment; ConfigError naming the variable if unset."""
        value = os.environ.get(self.secret_env, "")
        if not value:
            raise ConfigError(
                "center.toml",
                "pbx.nodes.secret_env",
                f"environment variable {self.secret_env} (AMI secret of node {node}) is not set",
            )
        return value

    def dial(self, extension: str) -> str:
        return self.agent_dial.format(extension=extension)


KEYS = tuple(AsteriskSettings.__dataclass_fields__)


def _port(v: int) -> str | None:
    return None if 1 <= v <= 65535 else "must be a port from 1 to 65535"


def _dial(v: str) -> str | None:
    if "{extension}" in v and "/" in v:
        return None
    return "must be a dial string with {extension}, e.g. PJSIP/{extension}"


def _outbound(v: str) -> str | None:
    if "{number}" in v and "/" in v:
        return None
    return "must be a dial string with {number}, e.g. PJSIP/{number}@carrier-out"


def parse(r: TableReader, t: Mapping[str, Any], key: str) -> AsteriskSettings:
    """This node's Asterisk keys; mistakes go to `r` under `key` (pbx.nodes[i])."""
    d = AsteriskSettings()
    return AsteriskSettings(
        ami_port=r.get(t, key, "ami_port", int, d.ami_port, check=_port),
        ami_user=r.get(t, key, "ami_user", str, d.ami_user),
        secret_env=r.get(t, key, "secret_env", str, d.secret_env),
        agent_dial=r.get(t, key, "agent_dial", str, d.agent_dial, check=_dial),
        outbound_dial=r.get(t, key, "outbound_dial", str, d.outbound_dial, check=_outbound),
    )
