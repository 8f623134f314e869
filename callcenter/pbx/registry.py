"""PBX kinds: one row per kind, from a node's `kind` (center.toml `pbx.nodes[i].kind`) to its
wing, the package under callcenter/pbx/ that knows that PBX. Adding a kind is one folder
(settings, driver, dialplan rendering, sandbox) and one row in `KINDS`.

A row names the wing's node settings (a pydantic dataclass of the wing's own node keys, read
at config load, so the loader imports only them)
and the module holding the rest (driver factory, dialplan renderer and checker, sandbox),
imported on first use like a plugin entry point: the config loader sits below the drivers and
dialplans, which read the loaded config.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from callcenter.pbx.asterisk import settings as asterisk_settings
from callcenter.pbx.freeswitch import settings as freeswitch_settings
from callcenter.tomlreader import ConfigError

if TYPE_CHECKING:  # types only: the config module imports this one
    from callcenter.config import Config, PbxNode
    from callcenter.pbx.base import LiveAudioListener, PbxDriver


class NodeSettings(Protocol):
    """A wing's own node keys, as the config loader read them."""

    def secret(self, node: str) -> str:
        """The control link's secret (from where the settings say it is); ConfigError if unset."""
        ...

    @property
    def agent_dial(self) -> str:
        """How this node dials a phone, `{extension}` in it."""
        ...

    def dial(self, extension: str) -> str:
        """How this node dials a phone by its extension."""
        ...

    def with_agent_dial(self, agent_dial: str) -> NodeSettings:
        """These settings dialling phones with `agent_dial` instead."""
        ...


@dataclass(frozen=True)
class Kind:
    settings: Callable[..., NodeSettings]  # its node keys beside the common ones (a model)
    default: NodeSettings  # the settings of a node that sets none of its keys
    recordings_dir: str  # the recordings root as such a node sees it, unless set
    wing: str  # module with WING, the wing's runtime parts
    # how such a node dials a phone registered on the SIP proxy ([pbx.proxy]): its default
    # agent_dial behind the proxy, through what the wing renders from [pbx.proxy]
    proxy_dial: str
    # a queue's overflow target in this kind's own form: None, or what the form is
    # (a number of numbers.toml is taken by every kind, checked by the config loader)
    overflow_target: Callable[[str], str | None]


KINDS: dict[str, Kind] = {
    "asterisk": Kind(
        asterisk_settings.AsteriskSettings,
        asterisk_settings.AsteriskSettings(),
        asterisk_settings.RECORDINGS_DIR,
        "callcenter.pbx.asterisk.wing",
        asterisk_settings.PROXY_DIAL,
        asterisk_settings.overflow_target,
    ),
    "freeswitch": Kind(
        freeswitch_settings.FreeswitchSettings,
        freeswitch_settings.FreeswitchSettings(),
        freeswitch_settings.RECORDINGS_DIR,
        "callcenter.pbx.freeswitch.wing",
        freeswitch_settings.PROXY_DIAL,
        freeswitch_settings.overflow_target,
    ),
}
DEFAULT_KIND = next(iter(KINDS))


class Sandbox(Protocol):
    """A private PBX on loopback for the demo, the tests and the benchmarks."""

    @property
    def name(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def sip_port(self) -> int: ...
    @property
    def rtp_end(self) -> int: ...
    @property
    def root(self) -> Path:
        """The directory the sandbox PBX runs chrooted in (its tools, e.g. sipp, too)."""
        ...

    @property
    def dir(self) -> Path:
        """This instance's directory, as the host sees it."""
        ...

    @property
    def inner(self) -> str:
        """This instance's directory inside `root`."""
        ...

    def agent_password(self, extension: str) -> str: ...
    def pid(self) -> int | None:
        """The running PBX's process id (None: not running)."""
        ...

    def running(self) -> bool: ...
    def control_secret(self) -> str:
        """The secret the engine's driver logs in with."""
        ...

    def stop(self) -> None: ...


class Wing(Protocol):
    """The runtime parts of one PBX kind."""

    def driver(self, node: PbxNode, extensions: Mapping[str, str], secret: str) -> PbxDriver:
        """The node's driver; `extensions` maps agent id -> phone extension."""
        ...

    def live_audio(self) -> LiveAudioListener:
        """A new listener for the leg audio this PBX streams to the engine (stream_audio)."""
        ...

    def dialplan(self, config: Config, node: PbxNode | None, action: str, out: str) -> int:
        """`callcenter dialplan render|check`: render `node`'s dialplan or check it (None:
        a check of a config with no node)."""
        ...

    def sandbox_node(self, name: str) -> PbxNode:
        """A node of this kind on the sandbox's own loopback ports, for `callcenter demo --pbx`
        when center.toml's first node is of another kind."""
        ...

    def sandbox_ready(self) -> bool:
        """Whether the sandbox PBX is built (its cache), so starting one is quick."""
        ...

    def sandbox_instance(self, config: Config, node: PbxNode) -> Sandbox:
        """The sandbox instance of `node`, as it is (neither rendered nor started)."""
        ...

    def sandbox_up(self, config: Config, node: PbxNode) -> Sandbox:
        """Render and start (or reload) the sandbox instance of `node`."""
        ...

    def sandbox(self, config: Config, node: PbxNode, action: str, rest: list[str]) -> int:
        """`callcenter pbx up|down|status|cli` for `node`'s sandbox instance."""
        ...

    def sandbox_password(self, instance: str, extension: str) -> str:
        """A phone's SIP password in the named sandbox instance ("" when it has none)."""
        ...


def node_named(config: Config, name: str = "") -> PbxNode:
    """The config's node called `name` (the first node when `name` is "")."""
    nodes = [n for n in config.nodes if not name or n.name == name]
    if not nodes:
        raise ConfigError("center.toml", "pbx.nodes", f"no node named {name!r}")
    return nodes[0]


def sandbox_up(config: Config, node_name: str = "") -> Sandbox:
    """Start (or reload) the sandbox PBX of a node (default: the first), of its kind."""
    node = node_named(config, node_name)
    return wing(node.kind).sandbox_up(config, node)


def live_listener(kinds: Iterable[str]) -> LiveAudioListener:
    """The engine's listener for the leg audio of nodes of these kinds, each carried as its
    wing receives it, all at one address."""
    from callcenter.pbx.base import LiveAudioListeners

    distinct = list(dict.fromkeys(kinds))
    if len(distinct) == 1:
        return wing(distinct[0]).live_audio()
    return LiveAudioListeners([wing(kind).live_audio() for kind in distinct])


def wing(kind: str) -> Wing:
    """The wing of a kind the config loader accepted (KeyError for any other)."""
    module = importlib.import_module(KINDS[kind].wing)
    return cast("Wing", module.WING)
