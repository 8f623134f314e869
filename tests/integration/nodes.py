"""Two sandbox media nodes behind a sandbox Kamailio, one engine driving both (issue 17): two
Asterisks (`PAIR`), or an Asterisk and a FreeSWITCH in one center (`MIXED`, issue 16).

Everything is real: the nodes are the sandbox roots' Asterisk and FreeSWITCH, started through
their kind's wing (`callcenter pbx up --nodes 2` does the same), the proxy is the Asterisk
root's Kamailio (dispatcher over the nodes, registrar for the agents' phones), the engine is
`callcenter serve` in its own process with one control link per node (AMI, ESL), agents and
callers are pjsua2 processes. The agents' phones register on the proxy; every caller dials
12345 at the proxy, which picks a node; each node rings agents through the proxy (its kind's
default dial behind [pbx.proxy]).

Ports (tests/integration/ports.py; slot 0's figures), clear of the session's Center: nodes' SIP
25700/25710, control link (AMI or ESL) 25701/25711, RTP 25800-25899 and 25900-25999, proxy SIP
25720 and control 25721, engine HTTP 25730, agents' phones 25400-25409 (RTP 29000-29399),
callers 25420-25439 (RTP 29600-29999). PAIR and MIXED share them: each lives in its own test
module's fixture, and a module's nodes are gone before the next module starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from callcenter.config import Config, PbxNode, load_config
from callcenter.paths import REPO
from callcenter.pbx.asterisk.sandbox import Instance, ensure_root
from callcenter.pbx.freeswitch import sandbox as fs_sandbox
from callcenter.pbx.kamailio.proxy import ProxySandbox, ensure_installed, node_states
from callcenter.pbx.registry import Sandbox, wing
from callcenter.simulation import Softphone, agent_phones, write_tone
from tests.integration.harness import QUEUE, Engine, query, wait_until
from tests.integration.ports import BANDS, CONTROL, SLOT


@dataclass(frozen=True)
class Layout:
    """A pair of nodes behind the proxy: their kinds, names and ports, the proxy's, the
    engine's HTTP port and the phones' ports (slot offset included)."""

    kinds: tuple[str, str]
    names: tuple[str, str]
    proxy_name: str
    sip: tuple[int, int]
    control: tuple[int, int]  # each node's control link: AMI or ESL
    rtp: tuple[tuple[int, int], tuple[int, int]]
    proxy_sip: int
    proxy_control: int
    http: int
    agent_sip: int
    agent_rtp: int
    caller_sip: int
    caller_rtp: int
    callers: int  # callers at once (each its SIP port and 20 RTP ports)
    secret_env: tuple[str, str] = ("CALLCENTER_IT_NODE_A_SECRET", "CALLCENTER_IT_NODE_B_SECRET")


def _suffix(name: str) -> str:
    return name if SLOT == 0 else f"{name}{SLOT}"


PAIR = Layout(
    kinds=("asterisk", "asterisk"),
    names=(_suffix("ka"), _suffix("kb")),
    proxy_name=_suffix("kproxy"),
    sip=(CONTROL + 700, CONTROL + 710),
    control=(CONTROL + 701, CONTROL + 711),
    rtp=((CONTROL + 800, CONTROL + 899), (CONTROL + 900, CONTROL + 999)),
    proxy_sip=CONTROL + 720,
    proxy_control=CONTROL + 721,
    http=CONTROL + 730,
    agent_sip=CONTROL + 400,
    agent_rtp=BANDS["phones"].start,
    caller_sip=CONTROL + 420,
    caller_rtp=BANDS["phones"].start + 600,
    callers=20,
)
# the same ports as PAIR (never up at the same time: each is one test module's fixture)
MIXED = replace(
    PAIR,
    kinds=("asterisk", "freeswitch"),
    names=(_suffix("ma"), _suffix("mf")),
    proxy_name=_suffix("mproxy"),
    secret_env=("CALLCENTER_IT_MIXED_A_SECRET", "CALLCENTER_IT_MIXED_B_SECRET"),
)

# the Asterisk pair's names and ports, as test_nodes_on_kamailio and tools/bench_nodes.py
# know them
NODE_NAMES = PAIR.names
PROXY_NAME = PAIR.proxy_name
SIP = PAIR.sip
PROXY_SIP = PAIR.proxy_sip
# and the rest of its ports, as tests/unit/test_sandbox_ports.py checks them
AMI = PAIR.control
RTP = PAIR.rtp
PROXY_CONTROL = PAIR.proxy_control
HTTP = PAIR.http
AGENT_SIP, AGENT_RTP = PAIR.agent_sip, PAIR.agent_rtp
CALLER_SIP, CALLER_RTP = PAIR.caller_sip, PAIR.caller_rtp
NODE_DEAD_AFTER = 5  # engine.node_dead_after in this config
LOW, HIGH = "12345", "12349"  # 12349 joins with priority 5
ARRIVAL_SLACK = 1.0  # seconds a node's arrival stamp may be behind this machine's clock

AGENTS = """
[[agent]]
id = "1001"
name = "张敏"
extension = "1001"
skills = { general = 5 }
login_on_start = true

[[agent]]
id = "1002"
name = "李强"
extension = "1002"
skills = { general = 4 }
login_on_start = true
"""


def node_toml(layout: Layout, i: int) -> str:
    """One node of the layout, with its kind's control-link keys. No `agent_dial`: behind
    [pbx.proxy] each kind's default rings the phones through the proxy."""
    control = {"asterisk": "ami_port", "freeswitch": "esl_port"}[layout.kinds[i]]
    return f"""
[[pbx.nodes]]
name = "{layout.names[i]}"
kind = "{layout.kinds[i]}"
host = "127.0.0.1"
{control} = {layout.control[i]}
secret_env = "{layout.secret_env[i]}"
sip_port = {layout.sip[i]}
rtp_start = {layout.rtp[i][0]}
rtp_end = {layout.rtp[i][1]}
"""


def center_toml(workdir: Path, layout: Layout = PAIR) -> str:
    nodes = "".join(node_toml(layout, i) for i in range(2))
    return f"""
[center]
name = "12345 nodes"
timezone = "Asia/Shanghai"
default_did = "12345"

[engine]
fallback_after = 20
heartbeat_interval = 0.5
restore_wait = 5
node_dead_after = {NODE_DEAD_AFTER}

[recordings]
root = "{workdir / "recordings"}"
enabled = false
{nodes}
[pbx.proxy]
host = "127.0.0.1"
sip_port = {layout.proxy_sip}
control_port = {layout.proxy_control}
probe_interval = 1
failures = 3
"""


def make_config(workdir: Path, layout: Layout = PAIR) -> Config:
    """The shipped config with two nodes behind the proxy, two agents, the harness's queue."""
    config_dir = workdir / "config"
    shutil.copytree(REPO / "config", config_dir)
    (config_dir / "center.toml").write_text(center_toml(workdir, layout), encoding="utf-8")
    (config_dir / "agents.toml").write_text(AGENTS, encoding="utf-8")
    (config_dir / "queue.toml").write_text(QUEUE, encoding="utf-8")
    # the decision log beside the engine's other records (a test reads the offers there)
    (config_dir / "decisions.toml").write_text(
        f'[decisions]\nenabled = true\ndirectory = "{workdir / "decisions"}"\n',
        encoding="utf-8",
    )
    quality = config_dir / "quality.toml"  # no background governance under test
    quality.write_text(
        quality.read_text(encoding="utf-8").replace("enabled = true", "enabled = false", 1),
        encoding="utf-8",
    )
    return load_config(config_dir)


@dataclass
class Nodes:
    workdir: Path
    layout: Layout = PAIR
    config: Config = field(init=False)
    instances: tuple[Sandbox, ...] = field(init=False)
    proxy: ProxySandbox = field(init=False)
    engine: Engine = field(init=False)
    phones: dict[str, Softphone] = field(init=False)
    _callers: list[Softphone] = field(default_factory=list)
    _free: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self._free = list(range(self.layout.callers))
        self.config = make_config(self.workdir, self.layout)
        config_dir = self.config.source_dir
        ensure_installed(ensure_root())  # the Asterisk root, with Kamailio
        if "freeswitch" in self.layout.kinds:
            fs_sandbox.ensure_root()  # builds once; raises (never skips) when it cannot
        # each node through its kind's wing, as `callcenter pbx up --nodes 2` starts them
        self.instances = tuple(
            wing(node.kind).sandbox_instance(self.config, node) for node in self.config.nodes
        )
        assert self.config.proxy is not None
        self.proxy = ProxySandbox(self.config.proxy, self.config.nodes, name=self.layout.proxy_name)
        for i, instance in enumerate(self.instances):
            instance.stop()
            # no finished calls (AstDB, mod_db) a previous session left for the engine
            for old in (instance.dir / "db").glob("*"):
                if old.is_file():
                    old.unlink()
            os.environ[self.layout.secret_env[i]] = instance.control_secret()
        self.proxy.stop()
        self.proxy.render(self.config)
        self.start_nodes()
        self.proxy.start()
        self.wait_nodes_up()
        tone = write_tone(self.workdir / "tone440.wav", 440.0)
        self.tone = str(tone)
        self.agent_tone = str(write_tone(self.workdir / "tone700.wav", 700.0))
        self.heard = self.workdir / "heard"
        self.heard.mkdir(exist_ok=True)
        self.db_url = f"sqlite:///{self.workdir / 'engine.db'}"
        self.engine = Engine(
            config_dir,
            self.db_url,
            self.instances[0].control_secret(),
            self.workdir / "engine.log",
            http_port=self.layout.http,
            secret_env=self.layout.secret_env[0],
        )
        self.phones = agent_phones(
            f"127.0.0.1:{self.layout.proxy_sip}",
            [(a.extension, self.proxy.agent_password(a.extension)) for a in self.config.agents],
            port=self.layout.agent_sip,
            rtp_port=self.layout.agent_rtp,
            play=self.agent_tone,
            record_dir=str(self.heard),
            answer_delay=0.3,
        )

    # --- the nodes and the proxy ----------------------------------------------------------

    def node(self, i: int) -> PbxNode:
        return self.config.nodes[i]

    def asterisk(self, i: int) -> Instance:
        """Node i's sandbox, an Asterisk (its CLI)."""
        instance = self.instances[i]
        assert isinstance(instance, Instance), f"node {self.node(i).name} is not an Asterisk"
        return instance

    def start_nodes(self) -> None:
        """Start (render and start, through its kind's wing) every node that is not running."""
        for node, instance in zip(self.config.nodes, self.instances, strict=True):
            if not instance.running():
                wing(node.kind).sandbox_up(self.config, node)

    def states(self) -> dict[str, str]:
        assert self.config.proxy is not None
        return node_states(self.config.proxy, self.config.nodes)

    def wait_nodes_up(self) -> None:
        wait_until(
            lambda: all(s == "up" for s in self.states().values()) and len(self.states()) == 2,
            90,
            "the proxy to find both nodes up",
        )

    def make_ready(self) -> None:
        """Both nodes up at the proxy, the engine linked to both, both agents ready and idle
        (what every test of the nodes starts from)."""
        self.start_nodes()
        self.wait_nodes_up()
        wait_until(self.engine.linked, 90, "the engine linked to both nodes")
        for agent in ("1001", "1002"):
            self.phones[agent].answer_mode(agent, "answer", 0.3)
            self.engine.post(f"/api/agents/{agent}/resume")
        wait_until(
            lambda: all(a["state"] == "idle" for a in self.engine.agents().values()),
            30,
            "both agents idle",
        )

    def kill_node(self, i: int) -> None:
        pid = self.instances[i].pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not self.instances[i].running(), 10, "the node to be gone")

    # --- phones -----------------------------------------------------------------------------

    def caller(self, number: str) -> Softphone:
        """A citizen calling the proxy (which picks the node) from its own ports."""
        index = self._free.pop(0)
        phone = Softphone(
            f"127.0.0.1:{self.layout.proxy_sip}",
            port=self.layout.caller_sip + index,
            accounts=[(number, "")],
            play=self.tone,
            record_dir=str(self.heard),
            rtp_port=self.layout.caller_rtp + 20 * index,
        )
        self._callers.append(phone)
        phone.wait_for(lambda e: e.get("event") == "ready")
        return phone

    def release_callers(self) -> None:
        for phone in self._callers:
            with contextlib.suppress(Exception):
                phone.close()
        self._callers.clear()
        self._free = list(range(self.layout.callers))

    # --- the engine's records ---------------------------------------------------------------

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return query(self.db_url, sql, **params)

    def call_row(self, call_id: str) -> Any:
        found = self.rows("SELECT * FROM calls WHERE call_id = :c", c=call_id)
        return found[0] if found else None

    def new_call_id(self, number: str, since: float) -> str:
        """The call from `number` that joined at or after `since` (the same number may have
        called before in the session). The join time is the node's arrival stamp, by the
        node's clock: FreeSWITCH's runs on a cached timestamp that lagged this machine's by
        up to 40 ms under load (a caller the test placed after `since` was stamped before
        it), so a second's slack is allowed."""
        index = self.engine.cipher().phone_index(number)

        def found() -> str | None:
            rows = self.rows(
                "SELECT call_id FROM calls WHERE caller_number_hash = :h AND joined_at >= :s"
                " ORDER BY joined_at DESC",
                h=index,
                s=since - ARRIVAL_SLACK,
            )
            return rows[0][0] if rows else None

        call_id: str = wait_until(found, 30, f"the caller {number} in the call records")
        return call_id

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.engine.stop()
        self.release_callers()
        for phone in set(self.phones.values()):
            with contextlib.suppress(Exception):
                phone.close()
        self.proxy.stop()
        for instance in self.instances:
            instance.stop()


@contextlib.contextmanager
def nodes(workdir: Path, layout: Layout = PAIR) -> Iterator[Nodes]:
    n = Nodes(workdir, layout)
    try:
        yield n
    finally:
        n.close()
