"""An Asterisk node's own keys in center.toml `[[pbx.nodes]]` (the AMI link and the dial
string of a phone), read at config load: imports nothing above the config models, so the
config loader can ask for it before anything else of the wing is loaded."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated

from pydantic.dataclasses import dataclass

from callcenter.config_models import STRICT, Str
from callcenter.pbx.node_keys import EnvName, Port, dial_string, env_secret

RECORDINGS_DIR = "/var/spool/asterisk/callcenter"  # the node's view of the recordings root
# Behind [pbx.proxy]: a phone through the outbound-only `kamailio` endpoint pjsip.conf then has
PROXY_DIAL = "PJSIP/{extension}@kamailio"


@dataclass(frozen=True, config=STRICT)
class AsteriskSettings:
    """`ami_port`/`ami_user`: the manager interface the driver logs in to; `secret_env`: the
    environment variable holding its secret (never the secret itself); `agent_dial`: how a
    phone is dialled from its extension (agents, supervisors listening in); `outbound_dial`:
    how a citizen's number is (callbacks, surveys)."""

    ami_port: Port = 5038
    ami_user: Str = "callcenter"
    secret_env: EnvName = "CALLCENTER_AMI_SECRET"
    agent_dial: Annotated[Str, dial_string("extension", "PJSIP/{extension}")] = "PJSIP/{extension}"
    # a citizen's number (the carrier trunk)
    outbound_dial: Annotated[Str, dial_string("number", "PJSIP/{number}@carrier-out")] = (
        "PJSIP/{number}@carrier-out"
    )

    def secret(self, node: str) -> str:
        """The AMI secret from the environment; ConfigError naming the variable if unset."""
        return env_secret(self.secret_env, "AMI secret", node)

    def dial(self, extension: str) -> str:
        return self.agent_dial.format(extension=extension)

    def with_agent_dial(self, agent_dial: str) -> AsteriskSettings:
        return replace(self, agent_dial=agent_dial)


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
