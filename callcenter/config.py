"""Declarative configuration (config/*.toml), validated on load.

Every mistake is reported with its file, its key (a dotted path such as `number[3].skill`)
and what is allowed; a load reports all mistakes at once.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from acd.model import (
    MAX_PROFICIENCY,
    MIN_PROFICIENCY,
    AgentSpec,
    NamedQueue,
    QueuePolicy,
    WideningRule,
)
from acd.states import STRATEGY_ALIASES, Strategy, strategy_named
from callcenter.call_priority import PRIORITY_RULES, PriorityRule
from callcenter.outbound.settings import OutboundSettings, parse_outbound
from callcenter.pbx.registry import DEFAULT_KIND, KINDS, NodeSettings
from callcenter.tomlreader import Check, ConfigError, ConfigErrors, TableReader
from ivr.loader import IvrConfigError, parse_menus
from ivr.model import IvrConfig

__all__ = ["Check", "Config", "ConfigError", "ConfigErrors", "TableReader", "load_config"]

# Files this loader reads; later features add theirs here. Others in the folder are ignored.
KNOWN_FILES = (
    "center.toml",
    "numbers.toml",
    "skills.toml",
    "agents.toml",
    "queue.toml",
    "trunks.toml",
    "outbound.toml",
)
REQUIRED_FILES = ("center.toml", "numbers.toml", "skills.toml", "agents.toml")
NO_PBX = "at least one [[pbx.nodes]] is required to run the engine (the PBX whose calls it takes)"
EMERGENCY_LINES = ("110", "119", "120", "122")
DIGITS = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class CenterConfig:
    name: str = "12345政务服务便民热线"
    timezone: str = "Asia/Shanghai"
    default_did: str = "12345"


@dataclass(frozen=True)
class EngineConfig:
    fallback_after: float = 20.0
    heartbeat_interval: float = 1.0
    # after a start or a reconnect, the longest routing waits for the queue to be restored
    # from every PBX node (a node that does not answer within it is routed without)
    restore_wait: float = 10.0
    fallback: str = "queue"
    # A node whose control link stays down this long is taken for dead: its calls are ended
    # (reason "node_lost") and their agents freed. A shorter cut keeps its calls, as a
    # restart of the engine or a blip of the network does. Behind a SIP proxy that stops
    # sending calls to a dead node within seconds (pbx.proxy), 15 s loses nothing that was
    # not lost already.
    node_dead_after: float = 15.0


@dataclass(frozen=True)
class ProxyConfig:
    """The SIP proxy in front of several media nodes (`[pbx.proxy]` in center.toml): callers'
    calls are spread over the nodes, agents' phones register on it and every node reaches an
    agent through it. It sends OPTIONS to each node every `probe_interval` seconds and takes a
    node out only after `failures` probes in a row failed (one missed answer on a loaded node
    must not throw it out); a call the chosen node does not answer within `node_timeout`
    seconds, or answers with 5xx, goes to the next node. `control_port`: its control
    interface (JSON-RPC over HTTP on `control_host`), which `callcenter pbx drain` uses."""

    host: str = "127.0.0.1"
    sip_port: int = 5060
    control_host: str = "127.0.0.1"
    control_port: int = 5061
    probe_interval: int = 1
    failures: int = 3
    node_timeout: float = 2.0

    @property
    def control_url(self) -> str:
        return f"http://{self.control_host}:{self.control_port}/RPC"


@dataclass(frozen=True)
class HaConfig:
    """An active and a standby engine (`[ha]` in center.toml): the active one holds a
    PostgreSQL advisory lock named `lock` on a live connection (callcenter/ha.py)."""

    enabled: bool = False
    lock: str = "callcenter-engine"
    poll_interval: float = 0.5  # how often a standby tries the lock
    check_interval: float = 0.5  # how often the active one checks its lock's connection
    check_timeout: float = 1.0  # a check not answered within this: the lock counts as lost


@dataclass(frozen=True)
class StorageConfig:
    url: str = "sqlite:///var/callcenter.db"
    queue_log: str = "var/queue_log"


@dataclass(frozen=True)
class RecordingsConfig:
    """Where recordings live as the engine sees them, and how long they are kept.
    Each PBX node writes into its own view of the same storage (`PbxNode.recordings_dir`)."""

    root: str = "recordings"
    enabled: bool = True
    retention_days: int = 180


@dataclass(frozen=True)
class AsrConfig:
    """Speech recognition: a Vosk model directory ("" = no transcription) and how many
    worker processes decode recordings."""

    model_dir: str = ""
    workers: int = 1
    max_attempts: int = 3
    # host:port of the engine's live-audio listener (TCP and/or UDP, as each node's kind
    # carries it), as the PBX reaches it ("" = no live transcription).
    live_address: str = ""
    live_streams: int = 8


PHONE_KINDS = ("softphone", "browser")
# what a browser phone may speak (Asterisk format names)
WEBRTC_CODECS = ("opus", "alaw", "ulaw")


@dataclass(frozen=True)
class WebrtcConfig:
    """The browser phone (center.toml [webrtc]): where the agent workspace's SIP stack
    connects (`ws_url`, secure WebSocket), and the media server's TLS listener that carries
    it (`bind`, `cert_file`, `key_file`, written into the rendered http.conf). Required as
    soon as one agent has `phone = "browser"`; the sandbox makes its own certificate.
    `codecs`: what the browser endpoints offer, in order (Opus needs Asterisk's
    codec_opus_open_source and res_format_attr_opus modules; G.711 needs nothing).
    `candidate_networks`: the networks (CIDR) whose ICE candidates the browser phone offers;
    empty: all of the agent's addresses (e.g. ["10.20.0.0/16"] keeps a VPN's address out)."""

    ws_url: str = ""
    bind: str = "0.0.0.0:8089"
    cert_file: str = ""
    key_file: str = ""
    codecs: tuple[str, ...] = ("opus", "alaw", "ulaw")
    candidate_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhoneSecrets:
    """Where the SIP passwords of agents' and supervisors' phones are kept (center.toml
    [phones]): a file (TOML, "extension" = "password", mode 0600) and/or environment
    variables named <env_prefix><extension>. callcenter/phone_secrets.py reads them."""

    secrets_file: str = ""
    env_prefix: str = ""


@dataclass(frozen=True)
class PbxNode:
    """One media server. `kind` names its wing (callcenter/pbx/registry.py), whose own keys
    (its control link, how it dials a phone) are read into `settings`."""

    name: str
    kind: str = DEFAULT_KIND
    host: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 20000
    # The recordings root as this node sees it (a shared mount of [recordings].root).
    recordings_dir: str = KINDS[DEFAULT_KIND].recordings_dir
    settings: NodeSettings = KINDS[DEFAULT_KIND].default

    def secret(self) -> str:
        """The secret of the node's control link; ConfigError naming where it is missing."""
        return self.settings.secret(self.name)


NODE_KEYS = ("name", "kind", "host", "sip_port", "rtp_start", "rtp_end", "recordings_dir")


@dataclass(frozen=True)
class NumberEntry:
    did: str
    label: str
    skill: str
    region: str = ""
    priority: int = 0
    entry: str = "direct"


@dataclass(frozen=True)
class SkillEntry:
    id: str
    name: str


@dataclass(frozen=True)
class AgentEntry:
    id: str
    name: str
    extension: str
    skills: Mapping[str, int]
    max_concurrent: int = 1
    login_on_start: bool = False
    # "softphone" (a SIP phone on the desk) or "browser" (the agent workspace's own phone,
    # WebRTC over secure WebSocket); the ACD treats both alike
    phone: str = "softphone"

    @property
    def browser_phone(self) -> bool:
        return self.phone == "browser"

    def spec(self) -> AgentSpec:
        return AgentSpec(self.id, dict(self.skills), self.name, self.max_concurrent)


@dataclass(frozen=True)
class SupervisorEntry:
    """A supervisor (班长) with a SIP phone for listening in, whispering and barging."""

    id: str
    name: str
    extension: str


@dataclass(frozen=True)
class Trunk:
    name: str
    direction: str
    match: str = ""  # the carrier's source addresses, comma-separated as PJSIP `match` takes them
    # Optional digest authentication on top of the address: the carrier answers a challenge
    # with this user name and the password in environment variable `secret_env`.
    auth_user: str = ""
    secret_env: str = ""
    # An upstream proxy the operator trusts: its X-CC-Priority-Boost / X-CC-Skill headers count
    trust_headers: bool = False

    def secret(self) -> str:
        value = os.environ.get(self.secret_env, "")
        if not value:
            raise ConfigError(
                "trunks.toml",
                "trunk.secret_env",
                f"environment variable {self.secret_env} "
                f"(password of trunk {self.name}) is not set",
            )
        return value


@dataclass(frozen=True)
class EmergencyLine:
    line: str
    label: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Config:
    center: CenterConfig
    engine: EngineConfig
    storage: StorageConfig
    recordings: RecordingsConfig
    asr: AsrConfig
    ivr: IvrConfig | None
    nodes: tuple[PbxNode, ...]
    numbers: tuple[NumberEntry, ...]
    skills: tuple[SkillEntry, ...]
    agents: tuple[AgentEntry, ...]
    queue: QueuePolicy
    priority_rules: tuple[PriorityRule, ...]
    lists: Mapping[str, frozenset[str]]
    trunks: tuple[Trunk, ...]
    emergency: tuple[EmergencyLine, ...]
    source_dir: Path
    outbound: OutboundSettings = OutboundSettings()
    supervisors: tuple[SupervisorEntry, ...] = ()
    phone_secrets: PhoneSecrets = PhoneSecrets()
    webrtc: WebrtcConfig = WebrtcConfig()
    ha: HaConfig = HaConfig()
    proxy: ProxyConfig | None = None  # [pbx.proxy]: a SIP proxy in front of the nodes
    _by_did: Mapping[str, NumberEntry] = field(default_factory=dict, repr=False)

    def is_known_did(self, did: str) -> bool:
        return did in self._by_did

    def number_for(self, did: str) -> NumberEntry:
        """The entry of a DID; an unknown DID gets the default entry (the caller logs it)."""
        return self._by_did.get(did) or self._by_did[self.center.default_did]

    def named_queue(self, skill: str) -> NamedQueue | None:
        """The named queue ([[queue.queues]]) whose rules hold for callers of this skill."""
        return next((q for q in self.queue.queues if skill in q.skills), None)


# --- reading ---------------------------------------------------------------------------------


def _non_negative(v: float) -> str | None:
    return None if v >= 0 else "must be zero or more"


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be more than zero"


def _port(v: int) -> str | None:
    return None if 1 <= v <= 65535 else "must be a port from 1 to 65535"


def _digits(v: str) -> str | None:
    return None if DIGITS.match(v) else f"must be digits only, got {v!r}"


def _trunk_match(value: Any) -> str | None:
    """A trunk's `match`: one address or a list of them, each an IP address, a network
    (address/prefix) or an address with its port (192.0.2.1:5060, [2001:db8::1]:5060)."""
    entries = value if isinstance(value, list) else [value]
    if not entries:
        return "must name at least one source address"
    for entry in entries:
        if not isinstance(entry, str) or not _is_source_address(entry.strip()):
            return f"{entry!r} is not an IP address, a network (address/prefix) or an address:port"
    return None


def _sip_user(value: str) -> str | None:
    ok = re.fullmatch(r"[A-Za-z0-9_.+-]{1,64}", value)
    return None if ok else "must be a SIP user name (letters, digits, _ . + -)"


def _env_name(value: str) -> str | None:
    ok = re.fullmatch(r"[A-Z_][A-Z0-9_]*", value)
    return None if ok else "must be an environment variable name (A-Z, 0-9, _)"


def _joined_match(value: str | list[str]) -> str:
    entries = value if isinstance(value, list) else [value]
    return ", ".join(e.strip() for e in entries if e.strip())


def _is_source_address(text: str) -> bool:
    host, port = text, ""
    if text.startswith("["):  # [IPv6]:port
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
    elif text.count(":") == 1:  # IPv4:port
        host, port = text.split(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return False
    try:
        if "/" in host:
            ipaddress.ip_network(host, strict=False)
            return not port  # a network has no port
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _strategy(v: str) -> str | None:
    if strategy_named(v) is not None:
        return None
    ours = ", ".join(s.value for s in Strategy)
    theirs = ", ".join(STRATEGY_ALIASES)
    return f"must be one of {ours} (or app_queue / mod_callcenter: {theirs}), got {v!r}"


def _one_of(choices: tuple[str, ...]) -> Check:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}, got {v!r}"


def _host_port(value: str) -> str | None:
    if not value:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return "must be host:port (e.g. 127.0.0.1:9092)"
    return None


def _proxy(r: TableReader, pbx: Mapping[str, Any], nodes: list[PbxNode]) -> ProxyConfig | None:
    """`[pbx.proxy]`, when there is one (None: the nodes take their calls directly)."""
    if "proxy" not in pbx:
        return None
    key = "pbx.proxy"
    t = r.table(pbx.get("proxy"), key, tuple(ProxyConfig.__dataclass_fields__))
    d = ProxyConfig()
    proxy = ProxyConfig(
        host=r.get(t, key, "host", str, d.host),
        sip_port=r.get(t, key, "sip_port", int, d.sip_port, check=_port),
        control_host=r.get(t, key, "control_host", str, d.control_host),
        control_port=r.get(t, key, "control_port", int, d.control_port, check=_port),
        probe_interval=r.get(
            t,
            key,
            "probe_interval",
            int,
            d.probe_interval,
            check=lambda v: None if 1 <= v <= 60 else "must be whole seconds from 1 to 60",
        ),
        failures=r.get(
            t,
            key,
            "failures",
            int,
            d.failures,
            check=lambda v: None if 1 <= v <= 20 else "must be from 1 to 20",
        ),
        node_timeout=r.get(t, key, "node_timeout", float, d.node_timeout, check=_positive),
    )
    if proxy.control_port == proxy.sip_port and proxy.control_host == proxy.host:
        r.error(f"{key}.control_port", "must differ from pbx.proxy.sip_port")
    for i, node in enumerate(nodes):
        if (node.host, node.sip_port) == (proxy.host, proxy.sip_port):
            r.error(f"pbx.nodes[{i}].sip_port", "is the proxy's own address (pbx.proxy.sip_port)")
    return proxy


def _behind_proxy(r: TableReader, nodes: list[PbxNode], dial_set: list[bool]) -> list[PbxNode]:
    """The nodes behind [pbx.proxy], where the agents' phones register: a node that does not
    set `agent_dial` dials them through the proxy (its kind's way, whatever the kind), and one
    that sets its kind's dial of a phone registered on the node itself is a mistake (no phone
    registers there)."""
    behind: list[PbxNode] = []
    for i, (node, own) in enumerate(zip(nodes, dial_set, strict=True)):
        kind = KINDS[node.kind]
        if not own:
            node = replace(node, settings=node.settings.with_agent_dial(kind.proxy_dial))
        elif (
            node.settings is not kind.default
            and node.settings.agent_dial == kind.default.agent_dial
        ):
            r.error(
                f"pbx.nodes[{i}].agent_dial",
                f"{node.settings.agent_dial!r} dials a phone registered on node {node.name}, "
                "but behind [pbx.proxy] the phones register on the proxy: dial them through "
                f"it ({kind.proxy_dial!r}, the default there) or leave agent_dial out",
            )
        behind.append(node)
    return behind


def load_config(directory: str | Path, need_pbx: bool = False) -> Config:
    """The center's config from a folder; every mistake names its file and key (ConfigErrors).
    center.toml is required; `need_pbx` (the engine: serve, demo, pbx, config check) also
    requires a `[[pbx.nodes]]` in it, which data and report commands do without."""
    src = Path(directory)
    r = TableReader()
    if not src.is_dir():
        raise ConfigError(str(src), "", "config directory not found")
    data: dict[str, dict[str, Any]] = {}
    for name in KNOWN_FILES:
        path = src / name
        r.file = f"{src.name}/{name}"
        if not path.exists():
            if name in REQUIRED_FILES:
                r.error("", "required file is missing")
            data[name] = {}
            continue
        try:
            data[name] = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            r.error("", f"TOML syntax error: {exc}")
            data[name] = {}
        except UnicodeDecodeError as exc:
            r.error("", f"not UTF-8 text: {exc}")
            data[name] = {}

    def at(name: str) -> dict[str, Any]:
        r.file = f"{src.name}/{name}"
        return data[name]

    # skills first: the other files refer to them
    skills_file = at("skills.toml")
    r.table(skills_file, "", ("skill",))
    skills: list[SkillEntry] = []
    for i, t in enumerate(r.tables(skills_file.get("skill"), "skill")):
        key = f"skill[{i}]"
        r.table(t, key, ("id", "name"))
        sid = r.get(t, key, "id", str, required=True)
        if sid is None:
            continue
        if any(s.id == sid for s in skills):
            r.error(f"{key}.id", f"duplicate skill {sid!r}")
        skills.append(SkillEntry(sid, r.get(t, key, "name", str, sid)))
    skill_ids = tuple(s.id for s in skills)

    def known_skill(v: str) -> str | None:
        return None if v in skill_ids else f"unknown skill {v!r} (known: {', '.join(skill_ids)})"

    center_file = at("center.toml")
    r.table(
        center_file,
        "",
        ("center", "engine", "storage", "recordings", "asr", "pbx", "phones", "webrtc", "ha"),
    )
    ph = r.table(center_file.get("phones"), "phones", ("secrets_file", "env_prefix"))
    phone_secrets = PhoneSecrets(
        secrets_file=r.get(ph, "phones", "secrets_file", str, ""),
        env_prefix=r.get(
            ph,
            "phones",
            "env_prefix",
            str,
            "",
            check=lambda v: None if re.match(r"^[A-Z_][A-Z0-9_]*$", v) else "must be like CC_SIP_",
        ),
    )
    c = r.table(center_file.get("center"), "center", ("name", "timezone", "default_did"))
    center = CenterConfig(
        name=r.get(c, "center", "name", str, CenterConfig.name),
        timezone=r.get(c, "center", "timezone", str, CenterConfig.timezone),
        default_did=r.get(c, "center", "default_did", str, CenterConfig.default_did, check=_digits),
    )
    e = r.table(
        center_file.get("engine"),
        "engine",
        ("fallback_after", "heartbeat_interval", "restore_wait", "fallback", "node_dead_after"),
    )
    engine = EngineConfig(
        fallback_after=r.get(e, "engine", "fallback_after", float, 20.0, check=_positive),
        heartbeat_interval=r.get(e, "engine", "heartbeat_interval", float, 1.0, check=_positive),
        restore_wait=r.get(e, "engine", "restore_wait", float, 10.0, check=_positive),
        fallback=r.get(e, "engine", "fallback", str, "queue", check=_one_of(("queue",))),
        node_dead_after=r.get(e, "engine", "node_dead_after", float, 15.0, check=_positive),
    )
    if engine.heartbeat_interval >= engine.fallback_after:
        r.error("engine.heartbeat_interval", "must be shorter than engine.fallback_after")
    s = r.table(center_file.get("storage"), "storage", ("url", "queue_log"))
    storage = StorageConfig(
        url=r.get(s, "storage", "url", str, StorageConfig.url),
        queue_log=r.get(s, "storage", "queue_log", str, StorageConfig.queue_log),
    )
    h = r.table(center_file.get("ha"), "ha", tuple(HaConfig.__dataclass_fields__))
    ha = HaConfig(
        enabled=r.get(h, "ha", "enabled", bool, False),
        lock=r.get(
            h,
            "ha",
            "lock",
            str,
            HaConfig.lock,
            check=lambda v: None if v.strip() else "must name the lock (any non-empty text)",
        ),
        poll_interval=r.get(h, "ha", "poll_interval", float, 0.5, check=_positive),
        check_interval=r.get(h, "ha", "check_interval", float, 0.5, check=_positive),
        check_timeout=r.get(h, "ha", "check_timeout", float, 1.0, check=_positive),
    )
    rec = r.table(
        center_file.get("recordings"), "recordings", tuple(RecordingsConfig.__dataclass_fields__)
    )
    recordings = RecordingsConfig(
        root=r.get(rec, "recordings", "root", str, RecordingsConfig.root),
        enabled=r.get(rec, "recordings", "enabled", bool, True),
        retention_days=r.get(
            rec,
            "recordings",
            "retention_days",
            int,
            RecordingsConfig.retention_days,
            check=lambda v: None if v >= 1 else "must be at least 1 day",
        ),
    )
    a = r.table(center_file.get("asr"), "asr", tuple(AsrConfig.__dataclass_fields__))
    asr = AsrConfig(
        model_dir=r.get(a, "asr", "model_dir", str, ""),
        workers=r.get(
            a, "asr", "workers", int, 1, check=lambda v: None if 1 <= v <= 64 else "must be 1-64"
        ),
        max_attempts=r.get(
            a, "asr", "max_attempts", int, 3, check=lambda v: None if v >= 1 else "must be >= 1"
        ),
        live_address=r.get(a, "asr", "live_address", str, "", check=_host_port),
        live_streams=r.get(
            a, "asr", "live_streams", int, 8, check=lambda v: None if v >= 1 else "must be >= 1"
        ),
    )
    pbx = r.table(center_file.get("pbx"), "pbx", ("nodes", "proxy"))
    nodes: list[PbxNode] = []
    dial_set: list[bool] = []  # whether each node sets its own agent_dial
    for i, t in enumerate(r.tables(pbx.get("nodes"), "pbx.nodes")):
        key = f"pbx.nodes[{i}]"
        # A kind without a wing is one error here (a bad kind reads as the default kind),
        # not one more per key of the wing it meant.
        known = t.get("kind", DEFAULT_KIND) in KINDS
        kind = r.get(t, key, "kind", str, DEFAULT_KIND, check=_one_of(tuple(KINDS)))
        wing = KINDS[kind]
        r.table(t, key, NODE_KEYS + (wing.keys if known else tuple(t)))
        node = PbxNode(
            name=r.get(t, key, "name", str, f"node{i}", required=True),
            kind=kind,
            host=r.get(t, key, "host", str, "127.0.0.1"),
            sip_port=r.get(t, key, "sip_port", int, 5060, check=_port),
            rtp_start=r.get(t, key, "rtp_start", int, 10000, check=_port),
            rtp_end=r.get(t, key, "rtp_end", int, 20000, check=_port),
            recordings_dir=r.get(
                t,
                key,
                "recordings_dir",
                str,
                wing.recordings_dir,
                check=lambda v: None if v.startswith("/") else "must be an absolute path",
            ),
            settings=wing.parse(r, t, key) if known else wing.default,
        )
        if any(n.name == node.name for n in nodes):
            r.error(f"{key}.name", f"duplicate node name {node.name!r}")
        if node.rtp_start >= node.rtp_end:
            r.error(f"{key}.rtp_start", "must be lower than rtp_end")
        nodes.append(node)
        dial_set.append("agent_dial" in t)
    proxy = _proxy(r, pbx, nodes)
    if proxy is not None:
        nodes = _behind_proxy(r, nodes, dial_set)
    if need_pbx and not nodes and (src / "center.toml").exists():
        r.file = f"{src.name}/center.toml"
        r.error("pbx.nodes", NO_PBX)

    numbers_file = at("numbers.toml")
    r.table(numbers_file, "", ("number",))
    numbers: list[NumberEntry] = []
    for i, t in enumerate(r.tables(numbers_file.get("number"), "number")):
        key = f"number[{i}]"
        r.table(t, key, tuple(NumberEntry.__dataclass_fields__))
        did = r.get(t, key, "did", str, None, required=True, check=_digits)
        skill = r.get(t, key, "skill", str, None, required=True, check=known_skill)
        if did is None or skill is None:
            continue
        if any(n.did == did for n in numbers):
            r.error(f"{key}.did", f"duplicate DID {did!r}")
        numbers.append(
            NumberEntry(
                did=did,
                label=r.get(t, key, "label", str, did),
                skill=skill,
                region=r.get(t, key, "region", str, ""),
                priority=r.get(t, key, "priority", int, 0),
                entry=r.get(t, key, "entry", str, "direct", check=_one_of(("direct", "menu"))),
            )
        )
    by_did = {n.did: n for n in numbers}
    if not numbers_file.get("number"):
        r.error("number", "at least one [[number]] is required (the main line, e.g. 12345)")
    elif numbers and center.default_did not in by_did:
        r.file = f"{src.name}/center.toml"
        r.error("center.default_did", f"{center.default_did!r} is not in numbers.toml")

    agents_file = at("agents.toml")
    r.table(agents_file, "", ("agent", "supervisor"))
    agents: list[AgentEntry] = []
    for i, t in enumerate(r.tables(agents_file.get("agent"), "agent")):
        key = f"agent[{i}]"
        r.table(t, key, tuple(AgentEntry.__dataclass_fields__))
        aid = r.get(t, key, "id", str, None, required=True)
        ext = r.get(t, key, "extension", str, None, required=True, check=_digits)
        raw_skills = r.get(t, key, "skills", dict, {}, required=True)
        agent_skills: dict[str, int] = {}
        for sname, prof in raw_skills.items():
            skey = f"{key}.skills.{sname}"
            if known_skill(sname):
                r.error(skey, known_skill(sname) or "")
            elif (
                isinstance(prof, bool)
                or not isinstance(prof, int)
                or not (MIN_PROFICIENCY <= prof <= MAX_PROFICIENCY)
            ):
                r.error(
                    skey,
                    f"proficiency must be an integer {MIN_PROFICIENCY}-{MAX_PROFICIENCY}, "
                    f"got {prof!r}",
                )
            else:
                agent_skills[sname] = prof
        if aid is None or ext is None:
            continue
        if any(a.id == aid for a in agents):
            r.error(f"{key}.id", f"duplicate agent id {aid!r}")
        if any(a.extension == ext for a in agents):
            r.error(f"{key}.extension", f"duplicate extension {ext!r}")
        agents.append(
            AgentEntry(
                id=aid,
                name=r.get(t, key, "name", str, aid),
                extension=ext,
                skills=agent_skills,
                max_concurrent=r.get(
                    t,
                    key,
                    "max_concurrent",
                    int,
                    1,
                    check=lambda v: None if v >= 1 else "must be 1 or more",
                ),
                login_on_start=r.get(t, key, "login_on_start", bool, False),
                phone=r.get(t, key, "phone", str, "softphone", check=_one_of(PHONE_KINDS)),
            )
        )
    webrtc = _webrtc(center_file.get("webrtc"), agents, r, f"{src.name}/center.toml")

    supervisors: list[SupervisorEntry] = []
    for i, t in enumerate(r.tables(agents_file.get("supervisor"), "supervisor")):
        key = f"supervisor[{i}]"
        r.table(t, key, tuple(SupervisorEntry.__dataclass_fields__))
        sid = r.get(t, key, "id", str, None, required=True)
        ext = r.get(t, key, "extension", str, None, required=True, check=_digits)
        if sid is None or ext is None:
            continue
        if any(a.extension == ext for a in agents) or any(x.extension == ext for x in supervisors):
            r.error(f"{key}.extension", f"duplicate extension {ext!r}")
        supervisors.append(SupervisorEntry(sid, r.get(t, key, "name", str, sid), ext))

    queue_file = at("queue.toml")
    r.table(queue_file, "", ("queue", "lists"))
    q = r.table(
        queue_file.get("queue"),
        "queue",
        (
            "strategy",
            "offer_timeout",
            "wrapup",
            "max_no_answer",
            "no_answer_backoff",
            "refusal_backoff",
            "auto_pause_expires",
            "auto_pause_share_alert",
            "max_wait",
            "overflow_target",
            "leave_when_no_agents",
            "random_seed",
            "min_proficiency",
            "widening",
            "priority",
            "queues",
            "ring_progressively_delay",
        ),
    )
    widening: list[WideningRule] = []
    for i, t in enumerate(r.tables(q.get("widening"), "queue.widening")):
        key = f"queue.widening[{i}]"
        r.table(t, key, ("after", "add_skills", "min_proficiency"))
        add = r.get(t, key, "add_skills", list, [])
        for j, sname in enumerate(add):
            if not isinstance(sname, str) or known_skill(sname):
                r.error(f"{key}.add_skills[{j}]", known_skill(str(sname)) or "must be a string")
        widening.append(
            WideningRule(
                after=r.get(t, key, "after", float, 1.0, required=True, check=_positive),
                add_skills=tuple(x for x in add if isinstance(x, str) and x in skill_ids),
                min_proficiency=r.get(
                    t,
                    key,
                    "min_proficiency",
                    int,
                    None,
                    check=lambda v: None if 1 <= v <= 5 else "must be 1-5",
                ),
            )
        )
    max_wait = r.get(q, "queue", "max_wait", float, 0.0, check=_non_negative)
    strategy = strategy_named(r.get(q, "queue", "strategy", str, "longest_idle", check=_strategy))
    target_check = _overflow_target_check(nodes, by_did)
    policy = QueuePolicy(
        strategy=strategy or Strategy.LONGEST_IDLE,
        offer_timeout=r.get(q, "queue", "offer_timeout", float, 15.0, check=_positive),
        wrapup=r.get(q, "queue", "wrapup", float, 5.0, check=_non_negative),
        max_no_answer=r.get(q, "queue", "max_no_answer", int, 3, check=_non_negative),
        no_answer_backoff=r.get(q, "queue", "no_answer_backoff", float, 10.0, check=_non_negative),
        refusal_backoff=r.get(q, "queue", "refusal_backoff", float, 5.0, check=_non_negative),
        auto_pause_expires=r.get(q, "queue", "auto_pause_expires", float, 0.0, check=_non_negative)
        or None,
        auto_pause_share_alert=r.get(
            q,
            "queue",
            "auto_pause_share_alert",
            float,
            None,
            check=lambda v: None if 0 <= v <= 1 else "must be a share from 0 to 1 (e.g. 0.5)",
        ),
        max_wait=max_wait or None,
        overflow_target=r.get(q, "queue", "overflow_target", str, "", check=target_check),
        widening=tuple(widening),
        min_proficiency=r.get(
            q,
            "queue",
            "min_proficiency",
            int,
            1,
            check=lambda v: None if 1 <= v <= 5 else "must be 1-5",
        ),
        leave_when_no_agents=r.get(q, "queue", "leave_when_no_agents", bool, False),
        random_seed=r.get(q, "queue", "random_seed", int, 0),
        ring_progressively_delay=r.get(
            q, "queue", "ring_progressively_delay", float, 5.0, check=_positive
        ),
    )
    policy = replace(policy, queues=_named_queues(q, policy, skill_ids, r, target_check))
    raw_lists = queue_file.get("lists")
    lists_table = r.table(
        raw_lists, "lists", tuple(raw_lists) if isinstance(raw_lists, dict) else ()
    )
    lists: dict[str, frozenset[str]] = {}
    for lname, members in lists_table.items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            r.error(f"lists.{lname}", "must be an array of phone-number strings")
            continue
        lists[lname] = frozenset(members)
    rules: list[PriorityRule] = []
    for i, t in enumerate(r.tables(q.get("priority"), "queue.priority")):
        key = f"queue.priority[{i}]"
        r.table(t, key, tuple(PriorityRule.__dataclass_fields__))
        rule = PriorityRule(
            rule=r.get(t, key, "rule", str, "did", required=True, check=_one_of(PRIORITY_RULES)),
            boost=r.get(t, key, "boost", int, 0, required=True),
            within_hours=r.get(t, key, "within_hours", float, 24.0, check=_positive),
            min_calls=r.get(t, key, "min_calls", int, 1, check=_non_negative),
            list=r.get(t, key, "list", str, ""),
            did=r.get(t, key, "did", str, ""),
        )
        if rule.rule == "caller_list" and rule.list not in lists:
            r.error(f"{key}.list", f"list {rule.list!r} is not defined in [lists]")
        if rule.rule == "did" and rule.did not in by_did:
            r.error(f"{key}.did", f"DID {rule.did!r} is not in numbers.toml")
        rules.append(rule)

    trunks_file = at("trunks.toml")
    r.table(trunks_file, "", ("trunk", "emergency"))
    trunks: list[Trunk] = []
    for i, t in enumerate(r.tables(trunks_file.get("trunk"), "trunk")):
        key = f"trunk[{i}]"
        r.table(t, key, ("name", "direction", "match", "auth_user", "secret_env", "trust_headers"))
        trunks.append(
            Trunk(
                name=r.get(t, key, "name", str, f"trunk{i}", required=True),
                direction=r.get(
                    t, key, "direction", str, "inbound", check=_one_of(("inbound", "outbound"))
                ),
                match=_joined_match(r.get(t, key, "match", (str, list), "", check=_trunk_match)),
                auth_user=r.get(t, key, "auth_user", str, "", check=_sip_user),
                secret_env=r.get(t, key, "secret_env", str, "", check=_env_name),
                trust_headers=r.get(t, key, "trust_headers", bool, False),
            )
        )
        for present, missing in (("auth_user", "secret_env"), ("secret_env", "auth_user")):
            if present in t and missing not in t:
                r.error(f"{key}.{missing}", f"is required with {present} (digest auth needs both)")
        if trunks[-1].trust_headers and trunks[-1].direction != "inbound":
            r.error(f"{key}.trust_headers", "only an inbound trunk sends calls with headers")
        if trunks[-1].direction == "inbound" and "match" not in t:
            r.error(
                f"{key}.match",
                "is required for an inbound trunk: the carrier's source addresses "
                '(e.g. "203.0.113.5", "203.0.113.0/28" or "203.0.113.5:5060")',
            )
    emergency: list[EmergencyLine] = []
    for i, t in enumerate(r.tables(trunks_file.get("emergency"), "emergency")):
        key = f"emergency[{i}]"
        r.table(t, key, ("line", "label", "targets"))
        line = r.get(t, key, "line", str, None, required=True, check=_one_of(EMERGENCY_LINES))
        targets = r.get(
            t,
            key,
            "targets",
            list,
            [],
            required=True,
            check=lambda v: (
                None
                if v and all(isinstance(x, str) for x in v)
                else "must be a non-empty array of dial strings"
            ),
        )
        if line is not None and targets:
            emergency.append(EmergencyLine(line, r.get(t, key, "label", str, line), tuple(targets)))

    outbound = parse_outbound(at("outbound.toml"), r, center.timezone)
    ivr_menus = _ivr(src, {sk.id for sk in skills}, r)
    if r.errors:
        raise ConfigErrors(r.errors)
    return Config(
        center=center,
        engine=engine,
        storage=storage,
        recordings=recordings,
        asr=asr,
        ivr=ivr_menus,
        nodes=tuple(nodes),
        numbers=tuple(numbers),
        skills=tuple(skills),
        agents=tuple(agents),
        queue=policy,
        priority_rules=tuple(rules),
        lists=lists,
        trunks=tuple(trunks),
        emergency=tuple(emergency),
        source_dir=src,
        outbound=outbound,
        supervisors=tuple(supervisors),
        phone_secrets=phone_secrets,
        webrtc=webrtc,
        ha=ha,
        proxy=proxy,
        _by_did=by_did,
    )


NAMED_QUEUE_KEYS = (
    "name",
    "skills",
    "strategy",
    "offer_timeout",
    "wrapup",
    "max_wait",
    "overflow_target",
    "announce",
    "ring_progressively_delay",
)


def _overflow_target_check(
    nodes: Sequence[PbxNode], dids: Collection[str]
) -> Callable[[str], str | None]:
    """A queue's overflow target: "" (the timeout route), a number of numbers.toml (every
    PBX kind sends the caller to that number's entry), or a location in the own form of the
    kind of every node (Asterisk "context,exten,priority", FreeSWITCH "EXTENSION XML
    CONTEXT")."""

    def check(target: str) -> str | None:
        if not target or target in dids:
            return None
        problems = {
            problem
            for node in nodes
            if (problem := KINDS[node.kind].overflow_target(target)) is not None
        }
        if not problems:
            return None
        return f"{target!r} is neither a number of numbers.toml nor, " + "; nor, ".join(
            sorted(problems)
        )

    return check


def _named_queues(
    q: Mapping[str, Any],
    policy: QueuePolicy,
    skill_ids: tuple[str, ...],
    r: TableReader,
    target_check: Callable[[str], str | None],
) -> tuple[NamedQueue, ...]:
    """[[queue.queues]]: named queues with their own rules for some skills; unset keys are
    [queue]'s. A skill belongs to one named queue at most."""
    queues: list[NamedQueue] = []
    owner: dict[str, str] = {}
    for i, t in enumerate(r.tables(q.get("queues"), "queue.queues")):
        key = f"queue.queues[{i}]"
        r.table(t, key, NAMED_QUEUE_KEYS)
        name = r.get(t, key, "name", str, f"queue{i}", required=True)
        if any(x.name == name for x in queues):
            r.error(f"{key}.name", f"duplicate queue name {name!r}")
        skills = r.get(
            t,
            key,
            "skills",
            list,
            [],
            required=True,
            check=lambda v: None if v else "must name at least one skill",
        )
        mine: list[str] = []
        for j, skill in enumerate(skills):
            where = f"{key}.skills[{j}]"
            if not isinstance(skill, str) or skill not in skill_ids:
                r.error(
                    where,
                    f"unknown skill {skill!r} (known: {', '.join(skill_ids)})",
                )
            elif skill in owner:
                r.error(where, f"skill {skill!r} is already in queue {owner[skill]!r}")
            else:
                owner[skill] = name
                mine.append(skill)
        named = strategy_named(r.get(t, key, "strategy", str, "", check=_strategy))
        max_wait = r.get(t, key, "max_wait", float, None, check=_non_negative)
        queues.append(
            NamedQueue(
                name=name,
                skills=tuple(mine),
                strategy=named or policy.strategy,
                offer_timeout=r.get(
                    t, key, "offer_timeout", float, policy.offer_timeout, check=_positive
                ),
                wrapup=r.get(t, key, "wrapup", float, policy.wrapup, check=_non_negative),
                max_wait=policy.max_wait if max_wait is None else (max_wait or None),
                overflow_target=r.get(
                    t, key, "overflow_target", str, policy.overflow_target, check=target_check
                ),
                announce=r.get(t, key, "announce", bool, True),
                ring_progressively_delay=r.get(
                    t,
                    key,
                    "ring_progressively_delay",
                    float,
                    policy.ring_progressively_delay,
                    check=_positive,
                ),
            )
        )
    return tuple(queues)


def _webrtc(raw: Any, agents: list[AgentEntry], r: TableReader, file: str) -> WebrtcConfig:
    """center.toml [webrtc]: checked always, required once an agent has a browser phone."""
    agents_file = r.file
    r.file = file
    w = r.table(raw, "webrtc", tuple(WebrtcConfig.__dataclass_fields__))
    browser = [a.id for a in agents if a.browser_phone]

    def ws_url(v: str) -> str | None:
        if re.fullmatch(r"wss://[^/\s:]+(:[0-9]{1,5})?/\S*", v):
            return None
        return "must be a secure WebSocket URL, e.g. wss://pbx.example.org:8089/ws"

    def path(v: str) -> str | None:
        return None if Path(v).is_absolute() else "must be an absolute path (on the media server)"

    def codecs(v: list[Any]) -> str | None:
        if v and all(c in WEBRTC_CODECS for c in v) and len(set(v)) == len(v):
            return None
        return f'must list distinct codecs of {", ".join(WEBRTC_CODECS)}, e.g. ["opus", "alaw"]'

    def networks(v: list[Any]) -> str | None:
        for n in v:
            try:
                ipaddress.ip_network(n)
            except (TypeError, ValueError):
                return f'must list networks, e.g. ["10.20.0.0/16"]: {n!r} is not one'
        return None

    webrtc = WebrtcConfig(
        ws_url=r.get(w, "webrtc", "ws_url", str, "", check=ws_url),
        bind=r.get(w, "webrtc", "bind", str, WebrtcConfig.bind, check=_host_port),
        cert_file=r.get(w, "webrtc", "cert_file", str, "", check=path),
        key_file=r.get(w, "webrtc", "key_file", str, "", check=path),
        codecs=tuple(r.get(w, "webrtc", "codecs", list, list(WebrtcConfig.codecs), check=codecs)),
        candidate_networks=tuple(
            r.get(w, "webrtc", "candidate_networks", list, [], check=networks)
        ),
    )
    if browser:
        for name in ("ws_url", "cert_file", "key_file"):
            if not getattr(webrtc, name):
                r.error(
                    f"webrtc.{name}",
                    f'is required: agents {", ".join(browser)} have phone = "browser"',
                )
    r.file = agents_file
    return webrtc


def _ivr(src: Path, skills: set[str], r: TableReader) -> IvrConfig | None:
    """config/ivr.toml (optional): menus for the pure IVR engine, errors merged into the
    config's own report."""
    path = src / "ivr.toml"
    if not path.exists():
        return None
    name = f"{src.name}/ivr.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return parse_menus(data, name, skills)
    except tomllib.TOMLDecodeError as exc:
        r.errors.append(ConfigError(name, "", f"TOML syntax error: {exc}"))
    except IvrConfigError as exc:
        r.errors += [ConfigError(file, key, message) for file, key, message in exc.errors]
    return None


def recordings_root(config: Config, workdir: Path) -> Path:
    """The recordings root as the engine sees it (relative roots are under `workdir`)."""
    root = Path(config.recordings.root)
    return root if root.is_absolute() else (workdir / root).resolve()
