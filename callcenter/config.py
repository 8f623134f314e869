"""Declarative configuration (config/*.toml): each file is a typed model (pydantic,
callcenter/config_models.py), validated on load.

Every mistake is reported with its file, its key (a dotted path such as `number[3].skill`)
and what is allowed; a load reports all mistakes at once: each file's own (types, ranges,
unknown keys, skills that do not exist) and then the checks across keys and files
(duplicates, the default DID in numbers.toml, a priority rule's list). The files' JSON
Schemas come from the same models (`callcenter config schema`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, WithJsonSchema, create_model
from pydantic.dataclasses import dataclass as model

from acd.model import (
    MAX_PROFICIENCY,
    MIN_PROFICIENCY,
    AgentSpec,
    NamedQueue,
    QueuePolicy,
    WideningRule,
)
from acd.states import STRATEGY_ALIASES, Strategy, strategy_named
from callcenter.call_priority import PriorityRule
from callcenter.config_models import (
    STRICT,
    Bool,
    Checked,
    FieldTag,
    FileModel,
    Float,
    Int,
    Known,
    NonNegative,
    OneOrMore,
    Positive,
    Report,
    Str,
    one_of,
    problem,
)
from callcenter.ivr_file import menus
from callcenter.outbound.settings import OutboundFile, OutboundSettings
from callcenter.pbx.node_keys import Port
from callcenter.pbx.registry import DEFAULT_KIND, KINDS, Kind, NodeSettings
from callcenter.tomlreader import ConfigError, ConfigErrors
from ivr.model import IvrConfig

__all__ = ["FILE_MODELS", "Config", "ConfigError", "ConfigErrors", "load_config"]

REQUIRED_FILES = ("center.toml", "numbers.toml", "skills.toml", "agents.toml")
NO_PBX = "at least one [[pbx.nodes]] is required to run the engine (the PBX whose calls it takes)"
EMERGENCY_LINES = ("110", "119", "120", "122")
DIGITS = re.compile(r"^[0-9]+$")


# --- the rules of single values ----------------------------------------------------------------


def _digits(v: str) -> str | None:
    return None if DIGITS.match(v) else f"must be digits only, got {v!r}"


def _within(lo: int, hi: int, message: str) -> Checked:
    return Checked(lambda v: None if lo <= v <= hi else message, minimum=lo, maximum=hi)


def _at_least(lo: int, message: str) -> Checked:
    return Checked(lambda v: None if v >= lo else message, minimum=lo)


def _strategy(v: str) -> str | None:
    if strategy_named(v) is not None:
        return None
    ours = ", ".join(s.value for s in Strategy)
    theirs = ", ".join(STRATEGY_ALIASES)
    return f"must be one of {ours} (or app_queue / mod_callcenter: {theirs}), got {v!r}"


def _host_port(value: str) -> str | None:
    if not value:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return "must be host:port (e.g. 127.0.0.1:9092)"
    return None


def _sip_user(value: str) -> str | None:
    ok = re.fullmatch(r"[A-Za-z0-9_.+-]{1,64}", value)
    return None if ok else "must be a SIP user name (letters, digits, _ . + -)"


def _env_name(value: str) -> str | None:
    ok = re.fullmatch(r"[A-Z_][A-Z0-9_]*", value)
    return None if ok else "must be an environment variable name (A-Z, 0-9, _)"


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


def _trunk_match(value: Any) -> Any:
    """A trunk's `match`: one address or a list of them, each an IP address, a network
    (address/prefix) or an address with its port (192.0.2.1:5060, [2001:db8::1]:5060);
    joined with commas as PJSIP's `match` takes them."""
    if not isinstance(value, str | list | tuple):
        raise problem(f"must be a string or an array of strings, got {type(value).__name__}")
    entries = [value] if isinstance(value, str) else list(value)
    if not entries:
        raise problem("must name at least one source address")
    for entry in entries:
        if not isinstance(entry, str) or not _is_source_address(entry.strip()):
            raise problem(
                f"{entry!r} is not an IP address, a network (address/prefix) or an address:port"
            )
    return ", ".join(e.strip() for e in entries if e.strip())


def _proficiency(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int) or not MIN_PROFICIENCY <= v <= MAX_PROFICIENCY:
        raise problem(
            f"proficiency must be an integer {MIN_PROFICIENCY}-{MAX_PROFICIENCY}, got {v!r}"
        )
    return v


def _ws_url(v: str) -> str | None:
    if re.fullmatch(r"wss://[^/\s:]+(:[0-9]{1,5})?/\S*", v):
        return None
    return "must be a secure WebSocket URL, e.g. wss://pbx.example.org:8089/ws"


def _absolute(v: str) -> str | None:
    return None if Path(v).is_absolute() else "must be an absolute path (on the media server)"


def _codecs(v: tuple[str, ...]) -> str | None:
    if v and all(c in WEBRTC_CODECS for c in v) and len(set(v)) == len(v):
        return None
    return f'must list distinct codecs of {", ".join(WEBRTC_CODECS)}, e.g. ["opus", "alaw"]'


def _networks(v: tuple[str, ...]) -> str | None:
    for n in v:
        try:
            ipaddress.ip_network(n)
        except ValueError:
            return f'must list networks, e.g. ["10.20.0.0/16"]: {n!r} is not one'
    return None


Digits = Annotated[Str, Checked(_digits, pattern="^[0-9]+$")]
SkillId = Annotated[Str, Known("skills", "skill")]
ProficiencyLevel = Annotated[
    int,
    BeforeValidator(_proficiency),
    WithJsonSchema({"type": "integer", "minimum": MIN_PROFICIENCY, "maximum": MAX_PROFICIENCY}),
]
OneToFive = Annotated[Int, _within(1, 5, "must be 1-5")]
HostPort = Annotated[Str, Checked(_host_port)]
EnvName = Annotated[Str, Checked(_env_name, pattern="^[A-Z_][A-Z0-9_]*$")]
StrategyName = Annotated[Str, Checked(_strategy)]

PHONE_KINDS = ("softphone", "browser")
# what a browser phone may speak (Asterisk format names)
WEBRTC_CODECS = ("opus", "alaw", "ulaw")


# --- center.toml -------------------------------------------------------------------------------


@model(frozen=True, config=STRICT)
class CenterConfig:
    name: Str = "12345政务服务便民热线"
    timezone: Str = "Asia/Shanghai"
    default_did: Digits = "12345"  # in numbers.toml


@model(frozen=True, config=STRICT)
class EngineConfig:
    fallback_after: Positive = 20.0
    heartbeat_interval: Positive = 1.0  # shorter than fallback_after
    # after a start or a reconnect, the longest routing waits for the queue to be restored
    # from every PBX node (a node that does not answer within it is routed without)
    restore_wait: Positive = 10.0
    fallback: Annotated[Str, one_of("queue")] = "queue"
    # A node whose control link stays down this long is taken for dead: its calls are ended
    # (reason "node_lost") and their agents freed. A shorter cut keeps its calls, as a
    # restart of the engine or a blip of the network does. Behind a SIP proxy that stops
    # sending calls to a dead node within seconds (pbx.proxy), 15 s loses nothing that was
    # not lost already.
    node_dead_after: Positive = 15.0


@model(frozen=True, config=STRICT)
class ProxyConfig:
    """The SIP proxy in front of several media nodes (`[pbx.proxy]` in center.toml): callers'
    calls are spread over the nodes, agents' phones register on it and every node reaches an
    agent through it. It sends OPTIONS to each node every `probe_interval` seconds and takes a
    node out only after `failures` probes in a row failed (one missed answer on a loaded node
    must not throw it out); a call the chosen node does not answer within `node_timeout`
    seconds, or answers with 5xx, goes to the next node. `control_port`: its control
    interface (JSON-RPC over HTTP on `control_host`), which `callcenter pbx drain` uses."""

    host: Str = "127.0.0.1"
    sip_port: Port = 5060
    control_host: Str = "127.0.0.1"
    control_port: Port = 5061  # differs from sip_port on the same host
    probe_interval: Annotated[Int, _within(1, 60, "must be whole seconds from 1 to 60")] = 1
    failures: Annotated[Int, _within(1, 20, "must be from 1 to 20")] = 3
    node_timeout: Positive = 2.0

    @property
    def control_url(self) -> str:
        return f"http://{self.control_host}:{self.control_port}/RPC"


@model(frozen=True, config=STRICT)
class HaConfig:
    """An active and a standby engine (`[ha]` in center.toml): the active one holds a
    PostgreSQL advisory lock named `lock` on a live connection (callcenter/ha.py)."""

    enabled: Bool = False
    lock: Annotated[
        Str, Checked(lambda v: None if v.strip() else "must name the lock (any non-empty text)")
    ] = "callcenter-engine"
    poll_interval: Positive = 0.5  # how often a standby tries the lock
    check_interval: Positive = 0.5  # how often the active one checks its lock's connection
    check_timeout: Positive = 1.0  # a check not answered within this: the lock counts as lost


@model(frozen=True, config=STRICT)
class StorageConfig:
    url: Str = "sqlite:///var/callcenter.db"
    queue_log: Str = "var/queue_log"


@model(frozen=True, config=STRICT)
class RecordingsConfig:
    """Where recordings live as the engine sees them, and how long they are kept.
    Each PBX node writes into its own view of the same storage (`PbxNode.recordings_dir`)."""

    root: Str = "recordings"
    enabled: Bool = True
    retention_days: Annotated[Int, _at_least(1, "must be at least 1 day")] = 180


@model(frozen=True, config=STRICT)
class AsrConfig:
    """Speech recognition: a Vosk model directory ("" = no transcription) and how many
    worker processes decode recordings."""

    model_dir: Str = ""
    workers: Annotated[Int, _within(1, 64, "must be 1-64")] = 1
    max_attempts: Annotated[Int, _at_least(1, "must be >= 1")] = 3
    # host:port of the engine's live-audio listener (TCP and/or UDP, as each node's kind
    # carries it), as the PBX reaches it ("" = no live transcription).
    live_address: HostPort = ""
    live_streams: Annotated[Int, _at_least(1, "must be >= 1")] = 8


@model(frozen=True, config=STRICT)
class WebrtcConfig:
    """The browser phone (center.toml [webrtc]): where the agent workspace's SIP stack
    connects (`ws_url`, secure WebSocket), and the media server's TLS listener that carries
    it (`bind`, `cert_file`, `key_file`, written into the rendered http.conf). Required as
    soon as one agent has `phone = "browser"`; the sandbox makes its own certificate.
    `codecs`: what the browser endpoints offer, in order (Opus needs Asterisk's
    codec_opus_open_source and res_format_attr_opus modules; G.711 needs nothing).
    `candidate_networks`: the networks (CIDR) whose ICE candidates the browser phone offers;
    empty: all of the agent's addresses (e.g. ["10.20.0.0/16"] keeps a VPN's address out)."""

    ws_url: Annotated[Str, Checked(_ws_url)] = ""
    bind: HostPort = "0.0.0.0:8089"
    cert_file: Annotated[Str, Checked(_absolute)] = ""
    key_file: Annotated[Str, Checked(_absolute)] = ""
    codecs: Annotated[tuple[Str, ...], Checked(_codecs, uniqueItems=True)] = (
        "opus",
        "alaw",
        "ulaw",
    )
    candidate_networks: Annotated[tuple[Str, ...], Checked(_networks)] = ()


@model(frozen=True, config=STRICT)
class PhoneSecrets:
    """Where the SIP passwords of agents' and supervisors' phones are kept (center.toml
    [phones]): a file (TOML, "extension" = "password", mode 0600) and/or environment
    variables named <env_prefix><extension>. callcenter/phone_secrets.py reads them."""

    secrets_file: Str = ""
    env_prefix: Annotated[
        Str,
        Checked(lambda v: None if re.match(r"^[A-Z_][A-Z0-9_]*$", v) else "must be like CC_SIP_"),
    ] = ""


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


class NodeKeys(FileModel):
    """The keys every `[[pbx.nodes]]` has, whatever its kind; each kind adds its wing's."""

    name: Str
    kind: Str = DEFAULT_KIND
    host: Str = "127.0.0.1"
    sip_port: Port = 5060
    rtp_start: Port = 10000  # lower than rtp_end
    rtp_end: Port = 20000
    recordings_dir: Annotated[
        Str, Checked(lambda v: None if v.startswith("/") else "must be an absolute path")
    ] = ""

    def node(self) -> PbxNode:
        kind = KINDS[self.kind]
        own = {n: getattr(self, n) for n in kind.settings.__pydantic_fields__}  # type: ignore[attr-defined]
        return PbxNode(
            name=self.name,
            kind=self.kind,
            host=self.host,
            sip_port=self.sip_port,
            rtp_start=self.rtp_start,
            rtp_end=self.rtp_end,
            recordings_dir=self.recordings_dir or kind.recordings_dir,
            settings=kind.settings(**own),
        )


def _node_model(name: str, kind: Kind) -> Any:
    """A node of one kind: the common keys and its wing's settings, side by side in the table."""
    own = kind.settings.__pydantic_fields__  # type: ignore[attr-defined]
    return create_model(
        f"{name.capitalize()}Node",
        __base__=NodeKeys,
        __module__=__name__,
        recordings_dir=(NodeKeys.model_fields["recordings_dir"].annotation, kind.recordings_dir),
        **{n: (f.annotation, f) for n, f in own.items()},
    )  # type: ignore[call-overload]


if TYPE_CHECKING:
    AnyNode = NodeKeys
else:  # one model per kind, told apart by `kind` (the default kind when left out)
    AnyNode = Annotated[
        Union[tuple(Annotated[_node_model(n, k), Tag(n)] for n, k in KINDS.items())],  # noqa: UP007
        Discriminator(FieldTag("kind", DEFAULT_KIND)),
    ]


class PbxTable(FileModel):
    nodes: tuple[AnyNode, ...] = ()  # the engine needs at least one
    proxy: ProxyConfig | None = None  # a SIP proxy in front of the nodes


class CenterFile(FileModel):
    """center.toml: the center, the engine, storage, the PBX nodes, phones and failover."""

    center: CenterConfig = CenterConfig()
    engine: EngineConfig = EngineConfig()
    storage: StorageConfig = StorageConfig()
    recordings: RecordingsConfig = RecordingsConfig()
    asr: AsrConfig = AsrConfig()
    pbx: PbxTable = PbxTable()
    phones: PhoneSecrets = PhoneSecrets()
    webrtc: WebrtcConfig = WebrtcConfig()  # required once an agent has a browser phone
    ha: HaConfig = HaConfig()


# --- numbers.toml, skills.toml, agents.toml ----------------------------------------------------


@model(frozen=True, config=STRICT)
class NumberEntry:
    did: Digits
    skill: SkillId
    label: Str = ""  # default: the DID
    region: Str = ""
    priority: Int = 0
    entry: Annotated[Str, one_of("direct", "menu")] = "direct"

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.did)


@model(frozen=True, config=STRICT)
class SkillEntry:
    id: Str
    name: Str = ""  # default: the id

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.id)


@model(frozen=True, config=STRICT)
class AgentEntry:
    id: Str
    extension: Digits
    skills: Mapping[SkillId, ProficiencyLevel]  # skill -> proficiency 1-5
    name: Str = ""  # default: the id
    max_concurrent: OneOrMore = 1
    login_on_start: Bool = False
    # "softphone" (a SIP phone on the desk) or "browser" (the agent workspace's own phone,
    # WebRTC over secure WebSocket); the ACD treats both alike
    phone: Annotated[Str, one_of(*PHONE_KINDS)] = "softphone"

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.id)

    @property
    def browser_phone(self) -> bool:
        return self.phone == "browser"

    def spec(self) -> AgentSpec:
        return AgentSpec(self.id, dict(self.skills), self.name, self.max_concurrent)


@model(frozen=True, config=STRICT)
class SupervisorEntry:
    """A supervisor (班长) with a SIP phone for listening in, whispering and barging."""

    id: Str
    extension: Digits
    name: Str = ""  # default: the id

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.id)


class NumbersFile(FileModel):
    """numbers.toml: the DIDs callers dial (at least one), each with its skill."""

    number: tuple[NumberEntry, ...] = ()


class SkillsFile(FileModel):
    """skills.toml: the skills numbers, agents and queues name."""

    skill: tuple[SkillEntry, ...] = ()


class AgentsFile(FileModel):
    """agents.toml: agents with their skills, and supervisors."""

    agent: tuple[AgentEntry, ...] = ()
    supervisor: tuple[SupervisorEntry, ...] = ()


# --- queue.toml --------------------------------------------------------------------------------


class Widening(FileModel):
    after: Positive
    add_skills: tuple[SkillId, ...] = ()
    min_proficiency: OneToFive | None = None

    def rule(self) -> WideningRule:
        return WideningRule(self.after, self.add_skills, self.min_proficiency)


class NamedQueueKeys(FileModel):
    """A named queue: its own rules for some skills; keys left out are [queue]'s."""

    name: Str
    skills: Annotated[
        tuple[SkillId, ...], Checked(lambda v: None if v else "must name at least one skill")
    ]
    strategy: StrategyName | None = None
    offer_timeout: Positive | None = None
    wrapup: NonNegative | None = None
    max_wait: NonNegative | None = None
    overflow_target: Str | None = None
    announce: Bool = True
    ring_progressively_delay: Positive | None = None


class QueueKeys(FileModel):
    strategy: StrategyName = "longest_idle"
    offer_timeout: Positive = 15.0
    wrapup: NonNegative = 5.0
    max_no_answer: Annotated[
        Int, Checked(lambda v: None if v >= 0 else "must be zero or more", minimum=0)
    ] = 3
    no_answer_backoff: NonNegative = 10.0
    refusal_backoff: NonNegative = 5.0
    auto_pause_expires: NonNegative = 0.0  # 0: a person resumes the agent
    auto_pause_share_alert: (
        Annotated[
            Float,
            Checked(
                lambda v: None if 0 <= v <= 1 else "must be a share from 0 to 1 (e.g. 0.5)",
                minimum=0,
                maximum=1,
            ),
        ]
        | None
    ) = None
    max_wait: NonNegative = 0.0  # 0: no limit
    overflow_target: Str = ""
    leave_when_no_agents: Bool = False
    random_seed: Int = 0
    min_proficiency: OneToFive = 1
    widening: tuple[Widening, ...] = ()
    priority: tuple[PriorityRule, ...] = ()
    queues: tuple[NamedQueueKeys, ...] = ()
    ring_progressively_delay: Positive = 5.0

    def policy(self) -> QueuePolicy:
        return QueuePolicy(
            strategy=strategy_named(self.strategy) or Strategy.LONGEST_IDLE,
            offer_timeout=self.offer_timeout,
            wrapup=self.wrapup,
            max_no_answer=self.max_no_answer,
            no_answer_backoff=self.no_answer_backoff,
            refusal_backoff=self.refusal_backoff,
            auto_pause_expires=self.auto_pause_expires or None,
            auto_pause_share_alert=self.auto_pause_share_alert,
            max_wait=self.max_wait or None,
            overflow_target=self.overflow_target,
            widening=tuple(w.rule() for w in self.widening),
            min_proficiency=self.min_proficiency,
            leave_when_no_agents=self.leave_when_no_agents,
            random_seed=self.random_seed,
            ring_progressively_delay=self.ring_progressively_delay,
        )


class QueueFile(FileModel):
    """queue.toml: the routing policy, widening, priority rules, named queues and the
    caller lists the rules name."""

    queue: QueueKeys = QueueKeys()
    lists: Mapping[Str, tuple[Str, ...]] = Field(default_factory=dict)  # phone numbers


# --- trunks.toml -------------------------------------------------------------------------------

Match = Annotated[
    str,
    BeforeValidator(_trunk_match),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


@model(frozen=True, config=STRICT)
class Trunk:
    name: Str
    direction: Annotated[Str, one_of("inbound", "outbound")] = "inbound"
    # the carrier's source addresses, comma-separated as PJSIP `match` takes them (required
    # for an inbound trunk; in the file a string or an array of them)
    match: Match = ""
    # Optional digest authentication on top of the address: the carrier answers a challenge
    # with this user name and the password in environment variable `secret_env`.
    auth_user: Annotated[Str, Checked(_sip_user)] = ""
    secret_env: EnvName = ""
    # An upstream proxy the operator trusts: its X-CC-Priority-Boost / X-CC-Skill headers count
    trust_headers: Bool = False

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


@model(frozen=True, config=STRICT)
class EmergencyLine:
    line: Annotated[Str, one_of(*EMERGENCY_LINES)]
    targets: Annotated[
        tuple[Str, ...],
        Checked(lambda v: None if v else "must be a non-empty array of dial strings", minItems=1),
    ]
    label: Str = ""  # default: the line

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.line)


class TrunksFile(FileModel):
    """trunks.toml: the carriers' trunks and the emergency lines (110/119/120/122)."""

    trunk: tuple[Trunk, ...] = ()
    emergency: tuple[EmergencyLine, ...] = ()


# The files load_config reads, with their models (JSON Schema: `callcenter config schema`);
# ivr.toml is read by the IVR's own loader. Others in the folder are other features'.
FILE_MODELS: dict[str, type[FileModel]] = {
    "center.toml": CenterFile,
    "numbers.toml": NumbersFile,
    "skills.toml": SkillsFile,
    "agents.toml": AgentsFile,
    "queue.toml": QueueFile,
    "trunks.toml": TrunksFile,
    "outbound.toml": OutboundFile,
}


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


# --- loading ---------------------------------------------------------------------------------


def _read(src: Path, report: Report) -> dict[str, Any]:
    """Each known file's tables ({} for a missing optional one); a required file missing or
    a file that is not TOML is a mistake of its own."""
    data: dict[str, Any] = {}
    for name in FILE_MODELS:
        found = report.read(src / name, f"{src.name}/{name}", required=name in REQUIRED_FILES)
        data[name] = {} if found is None else found
    return data


def load_config(directory: str | Path, need_pbx: bool = False) -> Config:
    """The center's config from a folder; every mistake names its file and key (ConfigErrors).
    center.toml is required; `need_pbx` (the engine: serve, demo, pbx, config check) also
    requires a `[[pbx.nodes]]` in it, which data and report commands do without."""
    src = Path(directory)
    if not src.is_dir():
        raise ConfigError(str(src), "", "config directory not found")
    report = Report()
    data = _read(src, report)

    def file(name: str) -> str:
        return f"{src.name}/{name}"

    # skills first: the other files name them (a file's unknown skill is its own mistake)
    skills_file = report.validate(SkillsFile, data["skills.toml"], file("skills.toml"))
    context: dict[str, Any] = {"skills": _skill_ids(data["skills.toml"])}
    if skills_file is not None:
        _unique(report, file("skills.toml"), "skill", skills_file.skill, "id", "duplicate skill")

    def load(model: type[Any], name: str) -> Any:
        return report.validate(model, data[name], file(name), context)

    center_file: CenterFile | None = load(CenterFile, "center.toml")
    numbers_file: NumbersFile | None = load(NumbersFile, "numbers.toml")
    agents_file: AgentsFile | None = load(AgentsFile, "agents.toml")
    queue_file: QueueFile | None = load(QueueFile, "queue.toml")
    trunks_file: TrunksFile | None = load(TrunksFile, "trunks.toml")
    center = center_file or CenterFile()
    nodes = [n.node() for n in center.pbx.nodes]
    if center_file is not None:
        _check_center(report, file("center.toml"), center_file, nodes)
        if center_file.pbx.proxy is not None:
            nodes = _behind_proxy(report, file("center.toml"), center_file.pbx.nodes, nodes)
        if need_pbx and not nodes and (src / "center.toml").exists():
            report.error(file("center.toml"), "pbx.nodes", NO_PBX)
    by_did: dict[str, NumberEntry] = {}
    if numbers_file is not None:
        _unique(report, file("numbers.toml"), "number", numbers_file.number, "did", "duplicate DID")
        by_did = {n.did: n for n in numbers_file.number}
        default = center.center.default_did
        if not numbers_file.number:
            report.error(
                file("numbers.toml"),
                "number",
                "at least one [[number]] is required (the main line, e.g. 12345)",
            )
        elif center_file is not None and default not in by_did:
            report.error(
                file("center.toml"), "center.default_did", f"{default!r} is not in numbers.toml"
            )
    agents = agents_file or AgentsFile()
    if agents_file is not None:
        _check_agents(report, file("agents.toml"), agents_file)
        if center_file is not None:
            _check_webrtc(report, file("center.toml"), center_file.webrtc, agents_file.agent)
    queue = queue_file or QueueFile()
    if queue_file is not None:
        _check_queue(
            report, file("queue.toml"), queue_file, by_did if numbers_file else None, nodes
        )
    trunks = trunks_file or TrunksFile()
    if trunks_file is not None:
        _check_trunks(report, file("trunks.toml"), trunks_file)

    outbound_file: OutboundFile | None = load(OutboundFile, "outbound.toml")
    if outbound_file is not None:
        outbound_file.check(report, file("outbound.toml"))
    ivr_menus = _ivr(src, context["skills"], report)
    report.raise_if_any()
    policy = queue.queue.policy()
    assert skills_file is not None and numbers_file is not None
    return Config(
        center=center.center,
        engine=center.engine,
        storage=center.storage,
        recordings=center.recordings,
        asr=center.asr,
        ivr=ivr_menus,
        nodes=tuple(nodes),
        numbers=numbers_file.number,
        skills=skills_file.skill,
        agents=agents.agent,
        queue=replace(policy, queues=_named_queues(queue.queue, policy)),
        priority_rules=queue.queue.priority,
        lists={name: frozenset(members) for name, members in queue.lists.items()},
        trunks=trunks.trunk,
        emergency=trunks.emergency,
        source_dir=src,
        outbound=(outbound_file or OutboundFile()).settings(center.center.timezone),
        supervisors=agents.supervisor,
        phone_secrets=center.phones,
        webrtc=center.webrtc,
        ha=center.ha,
        proxy=center.pbx.proxy,
        _by_did=by_did,
    )


def _skill_ids(data: Any) -> tuple[str, ...]:
    """The skill ids skills.toml names, also when some of its entries are wrong (their own
    mistakes are said once, not again by every file naming one of its skills)."""
    rows = data.get("skill") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return ()
    ids = (row.get("id") for row in rows if isinstance(row, dict))
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str)))


def _unique(
    report: Report, file: str, table: str, rows: tuple[Any, ...], key: str, what: str
) -> None:
    seen: set[Any] = set()
    for i, row in enumerate(rows):
        value = getattr(row, key)
        if value in seen:
            report.error(file, f"{table}[{i}].{key}", f"{what} {value!r}")
        seen.add(value)


def _check_center(report: Report, file: str, c: CenterFile, nodes: list[PbxNode]) -> None:
    """center.toml's rules across keys: the heartbeat within the fallback, distinct node
    names, RTP ranges, and a proxy apart from the nodes."""
    if c.engine.heartbeat_interval >= c.engine.fallback_after:
        report.error(
            file, "engine.heartbeat_interval", "must be shorter than engine.fallback_after"
        )
    _unique(report, file, "pbx.nodes", tuple(nodes), "name", "duplicate node name")
    for i, node in enumerate(nodes):
        if node.rtp_start >= node.rtp_end:
            report.error(file, f"pbx.nodes[{i}].rtp_start", "must be lower than rtp_end")
    proxy = c.pbx.proxy
    if proxy is None:
        return
    if proxy.control_port == proxy.sip_port and proxy.control_host == proxy.host:
        report.error(file, "pbx.proxy.control_port", "must differ from pbx.proxy.sip_port")
    for i, node in enumerate(nodes):
        if (node.host, node.sip_port) == (proxy.host, proxy.sip_port):
            report.error(
                file, f"pbx.nodes[{i}].sip_port", "is the proxy's own address (pbx.proxy.sip_port)"
            )


def _behind_proxy(
    report: Report, file: str, keys: Sequence[NodeKeys], nodes: list[PbxNode]
) -> list[PbxNode]:
    """The nodes behind [pbx.proxy], where the agents' phones register: a node that does not
    set `agent_dial` dials them through the proxy (its kind's way, whatever the kind), and one
    that sets its kind's dial of a phone registered on the node itself is a mistake (no phone
    registers there)."""
    behind: list[PbxNode] = []
    for i, (table, node) in enumerate(zip(keys, nodes, strict=True)):
        kind = KINDS[node.kind]
        if "agent_dial" not in table.model_fields_set:
            node = replace(node, settings=node.settings.with_agent_dial(kind.proxy_dial))
        elif node.settings.agent_dial == kind.default.agent_dial:
            report.error(
                file,
                f"pbx.nodes[{i}].agent_dial",
                f"{node.settings.agent_dial!r} dials a phone registered on node {node.name}, "
                "but behind [pbx.proxy] the phones register on the proxy: dial them through "
                f"it ({kind.proxy_dial!r}, the default there) or leave agent_dial out",
            )
        behind.append(node)
    return behind


def _check_agents(report: Report, file: str, a: AgentsFile) -> None:
    """Distinct agent ids, and one extension per phone among agents and supervisors."""
    _unique(report, file, "agent", a.agent, "id", "duplicate agent id")
    _unique(report, file, "agent", a.agent, "extension", "duplicate extension")
    taken = {x.extension for x in a.agent}
    for i, s in enumerate(a.supervisor):
        if s.extension in taken:
            report.error(file, f"supervisor[{i}].extension", f"duplicate extension {s.extension!r}")
        taken.add(s.extension)


def _check_webrtc(
    report: Report, file: str, webrtc: WebrtcConfig, agents: tuple[AgentEntry, ...]
) -> None:
    """[webrtc] is required once an agent has a browser phone."""
    browser = [a.id for a in agents if a.browser_phone]
    if browser:
        for name in ("ws_url", "cert_file", "key_file"):
            if not getattr(webrtc, name):
                report.error(
                    file,
                    f"webrtc.{name}",
                    f'is required: agents {", ".join(browser)} have phone = "browser"',
                )


def _check_queue(
    report: Report,
    file: str,
    q: QueueFile,
    by_did: Mapping[str, NumberEntry] | None,
    nodes: Sequence[PbxNode],
) -> None:
    """A priority rule's list and DID exist; a named queue's name and skills are its own;
    overflow targets are ones every node takes."""
    for key, target in [("queue.overflow_target", q.queue.overflow_target)] + [
        (f"queue.queues[{i}].overflow_target", named.overflow_target)
        for i, named in enumerate(q.queue.queues)
    ]:
        if target is not None and (message := _overflow_target(target, by_did, nodes)):
            report.error(file, key, message)
    for i, rule in enumerate(q.queue.priority):
        if rule.rule == "caller_list" and rule.list not in q.lists:
            report.error(
                file, f"queue.priority[{i}].list", f"list {rule.list!r} is not defined in [lists]"
            )
        if rule.rule == "did" and by_did is not None and rule.did not in by_did:
            report.error(
                file, f"queue.priority[{i}].did", f"DID {rule.did!r} is not in numbers.toml"
            )
    _unique(report, file, "queue.queues", q.queue.queues, "name", "duplicate queue name")
    owner: dict[str, str] = {}
    for i, named in enumerate(q.queue.queues):
        for j, skill in enumerate(named.skills):
            if skill in owner:
                report.error(
                    file,
                    f"queue.queues[{i}].skills[{j}]",
                    f"skill {skill!r} is already in queue {owner[skill]!r}",
                )
            else:
                owner[skill] = named.name


def _overflow_target(
    target: str, dids: Collection[str] | None, nodes: Sequence[PbxNode]
) -> str | None:
    """A queue's overflow target: "" (the timeout route), a number of numbers.toml (every
    PBX kind sends the caller to that number's entry), or a location in the own form of the
    kind of every node (Asterisk "context,exten,priority", FreeSWITCH "EXTENSION XML
    CONTEXT"). `dids` None: numbers.toml has mistakes of its own, so any number passes."""
    if not target or (target in dids if dids is not None else target.isdigit()):
        return None
    problems = {
        form for node in nodes if (form := KINDS[node.kind].overflow_target(target)) is not None
    }
    if not problems:
        return None
    return f"{target!r} is neither a number of numbers.toml nor, " + "; nor, ".join(
        sorted(problems)
    )


def _named_queues(q: QueueKeys, policy: QueuePolicy) -> tuple[NamedQueue, ...]:
    """[[queue.queues]]: named queues with their own rules for some skills; unset keys are
    [queue]'s. A skill belongs to one named queue at most (_check_queue)."""

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return tuple(
        NamedQueue(
            name=n.name,
            skills=n.skills,
            strategy=strategy_named(n.strategy or "") or policy.strategy,
            offer_timeout=pick(n.offer_timeout, policy.offer_timeout),
            wrapup=pick(n.wrapup, policy.wrapup),
            max_wait=policy.max_wait if n.max_wait is None else (n.max_wait or None),
            overflow_target=pick(n.overflow_target, policy.overflow_target),
            announce=n.announce,
            ring_progressively_delay=pick(
                n.ring_progressively_delay, policy.ring_progressively_delay
            ),
        )
        for n in q.queues
    )


def _check_trunks(report: Report, file: str, t: TrunksFile) -> None:
    """Digest auth needs its user and its secret; headers come from an inbound trunk; an
    inbound trunk names the carrier's addresses."""
    for i, trunk in enumerate(t.trunk):
        key = f"trunk[{i}]"
        for present, missing in (("auth_user", "secret_env"), ("secret_env", "auth_user")):
            if getattr(trunk, present) and not getattr(trunk, missing):
                report.error(
                    file, f"{key}.{missing}", f"is required with {present} (digest auth needs both)"
                )
        if trunk.trust_headers and trunk.direction != "inbound":
            report.error(
                file, f"{key}.trust_headers", "only an inbound trunk sends calls with headers"
            )
        if trunk.direction == "inbound" and not trunk.match:
            report.error(
                file,
                f"{key}.match",
                "is required for an inbound trunk: the carrier's source addresses "
                '(e.g. "203.0.113.5", "203.0.113.0/28" or "203.0.113.5:5060")',
            )


def _ivr(src: Path, skills: tuple[str, ...], report: Report) -> IvrConfig | None:
    """config/ivr.toml (optional): menus for the pure IVR engine, errors merged into the
    config's own report."""
    name = f"{src.name}/ivr.toml"
    data = report.read(src / "ivr.toml", name, required=False)
    return None if data is None else menus(data, name, skills, report)


def recordings_root(config: Config, workdir: Path) -> Path:
    """The recordings root as the engine sees it (relative roots are under `workdir`)."""
    root = Path(config.recordings.root)
    return root if root.is_absolute() else (workdir / root).resolve()
