"""An Asterisk node's own keys in center.toml `[[pbx.nodes]]` (the AMI link and the dial
string of a phone), read at config load: imports nothing above the TOML reader, so the
config loader can ask for it before anything else of the wing is loaded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from callcenter.pbx.node_keys import dial_string, env_name, env_secret, port
from callcenter.tomlreader import TableReader

RECORDINGS_DIR = "/var/spool/asterisk/callcenter"  # the node's view of the recordings root
# Behind [pbx.proxy]: a phone through the outbound-only `kamailio` endpoint pjsip.conf then has
PROXY_DIAL = "PJSIP/{extension}@kamailio"


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
        return env_secret(self.secret_env, "AMI secret", node)

    def dial(self, extension: str) -> str:
        return self.agent_dial.format(extension=extension)

    def with_agent_dial(self, agent_dial: str) -> AsteriskSettings:
        return replace(self, agent_dial=agent_dial)


KEYS = tuple(AsteriskSettings.__dataclass_fields__)


_DIAL = dial_string("extension", "PJSIP/{extension}")
_OUTBOUND = dial_string("number", "PJSIP/{number}@carrier-out")


def parse(r: TableReader, t: Mapping[str, Any], key: str) -> AsteriskSettings:
    """This node's Asterisk keys; mistakes go to `r` under `key` (pbx.nodes[i])."""
    d = AsteriskSettings()
    return AsteriskSettings(
        ami_port=r.get(t, key, "ami_port", int, d.ami_port, check=port),
        ami_user=r.get(t, key, "ami_user", str, d.ami_user),
        secret_env=r.get(t, key, "secret_env", str, d.secret_env, check=env_name),
        agent_dial=r.get(t, key, "agent_dial", str, d.agent_dial, check=_DIAL),
        outbound_dial=r.get(t, key, "outbound_dial", str, d.outbound_dial, check=_OUTBOUND),
    )


_TARGET = re.compile(r"^[A-Za-z0-9_.+-]+,[^,\s]+,[^,\s]+$")


def overflow_target(target: str) -> str | None:
    """A queue's overflow target in Asterisk's form: a dialplan location
    "context,exten,priority" (Goto's arguments), e.g. "cc-entry,12345,1"."""
    if _TARGET.match(target):
        return None
    return 'on an Asterisk node a dialplan location "context,exten,priority"'


def overflow_location(target: str) -> str:
    """Where cc-overflow sends a caller: a number of numbers.toml is its entry
    (cc-entry,<did>,1), anything else the location as written."""
    return f"cc-entry,{target},1" if target.isdigit() else target
