"""What every wing's node settings share (callcenter/pbx/<kind>/settings.py): the control
link's secret read from an environment variable, and the types of the keys all kinds have
(a port, a dial string with its placeholder, an environment variable's name). Imports nothing
above the config models: the config loader reads node settings before anything else of a wing."""

from __future__ import annotations

import os
from typing import Annotated

from callcenter.config_models import Checked, Int, Str
from callcenter.tomlreader import ConfigError


def env_secret(variable: str, what: str, node: str) -> str:
    """The secret in environment variable `variable` (`what`: e.g. "AMI secret"); a
    ConfigError naming the variable and the node if it is unset or empty."""
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(
            "center.toml",
            "pbx.nodes.secret_env",
            f"environment variable {variable} ({what} of node {node}) is not set",
        )
    return value


def port(v: int) -> str | None:
    return None if 1 <= v <= 65535 else "must be a port from 1 to 65535"


def env_name(v: str) -> str | None:
    return None if v.replace("_", "").isalnum() else "must be an environment variable's name"


def dial_string(placeholder: str, example: str) -> Checked:
    """A dial string that must hold `{placeholder}`, e.g. {extension} or {number}."""

    def check(v: str) -> str | None:
        if "{" + placeholder + "}" in v and "/" in v:
            return None
        return f"must be a dial string with {{{placeholder}}}, e.g. {example}"

    return Checked(check, examples=[example])


Port = Annotated[Int, Checked(port, minimum=1, maximum=65535)]
EnvName = Annotated[Str, Checked(env_name, pattern="^[A-Za-z0-9_]+$")]
