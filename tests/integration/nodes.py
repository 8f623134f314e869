"""Two sandbox Asterisks behind a sandbox Kamailio, one engine driving both (issue 17).

Everything is real: the nodes are the sandbox root's Asterisk, the proxy is its Kamailio
(dispatcher over the nodes, registrar for the agents' phones), the engine is `callcenter serve`
in its own process with one AMI link per node, agents and callers are pjsua2 processes. The
agents' phones register on the proxy; every caller dials 12345 at the proxy, which picks a
node. Ports (slot offset added): nodes' SIP 25700/25710, AMI 25701/25711, RTP 25800-25899 and
25900-25999, proxy SIP 25720 and control 25721, engine HTTP 25730, agents' phones 25400-25409
(RTP 29000-29399), callers 25420-25439 (RTP 29600-29999); clear of the session's Center.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.config import Config, PbxNode, load_config
from callcenter.paths import REPO
from callcenter.pbx.asterisk.sandbox import Instance, ensure_root
from callcenter.pbx.kamailio.proxy import ProxySandbox, ensure_installed, node_states
from callcenter.simulation import Softphone, agent_phones, write_tone
from tests.integration.harness import QUEUE, Engine, query, wait_until
from tests.integration.ports import BANDS, CONTROL, SLOT

NODE_NAMES = ("ka", "kb") if SLOT == 0 else (f"ka{SLOT}", f"kb{SLOT}")
PROXY_NAME = "kproxy" if SLOT == 0 else f"kproxy{SLOT}"
SIP = (CONTROL + 700, CONTROL + 710)
AMI = (CONTROL + 701, CONTROL + 711)
RTP = ((CONTROL + 800, CONTROL + 899), (CONTROL + 900, CONTROL + 999))
PROXY_SIP = CONTROL + 720
PROXY_CONTROL = CONTROL + 721
HTTP = CONTROL + 730
AGENT_SIP, AGENT_RTP = CONTROL + 400, BANDS["phones"].start
CALLER_SIP, CALLER_RTP = CONTROL + 420, BANDS["phones"].start + 600
SECRET_ENV = ("CALLCENTER_IT_NODE_A_SECRET", "CALLCENTER_IT_NODE_B_SECRET")
NODE_DEAD_AFTER = 5  # engine.node_dead_after in this config
LOW, HIGH = "12345", "12349"  # 12349 joins with priority 5

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


def center_toml(workdir: Path) -> str:
    nodes = "".join(
        f"""
[[pbx.nodes]]
name = "{name}"
kind = "asterisk"
host = "127.0.0.1"
ami_port = {AMI[i]}
secret_env = "{SECRET_ENV[i]}"
sip_port = {SIP[i]}
rtp_start = {RTP[i][0]}
rtp_end = {RTP[i][1]}
agent_dial = "PJSIP/{{extension}}@kamailio"
"""
        for i, name in enumerate(NODE_NAMES)
    )
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
sip_port = {PROXY_SIP}
control_port = {PROXY_CONTROL}
probe_interval = 1
failures = 3
"""


def make_config(workdir: Path) -> Config:
    """The shipped config with two nodes behind the proxy, two agents, the harness's queue."""
    config_dir = workdir / "config"
    shutil.copytree(REPO / "config", config_dir)
    (config_dir / "center.toml").write_text(center_toml(workdir), encoding="utf-8")
    (config_dir / "agents.toml").write_text(AGENTS, encoding="utf-8")
    (config_dir / "queue.toml").write_text(QUEUE, encoding="utf-8")
    quality = config_dir / "quality.toml"  # no background governance under test
    quality.write_text(
        quality.read_text(encoding="utf-8").replace("enabled = true", "enabled = false", 1),
        encoding="utf-8",
    )
    return load_config(config_dir)


@dataclass
class Nodes:
    workdir: Path
    config: Config = field(init=False)
    instances: tuple[Instance, ...] = field(init=False)
    proxy: ProxySandbox = field(init=False)
    engine: Engine = field(init=False)
    phones: dict[str, Softphone] = field(init=False)
    _callers: list[Softphone] = field(default_factory=list)
    _free: list[int] = field(default_factory=lambda: list(range(20)))

    def __post_init__(self) -> None:
        self.config = make_config(self.workdir)
        config_dir = self.config.source_dir
        ensure_installed(ensure_root())
        self.instances = tuple(
            Instance(
                name=name,
                sip_port=SIP[i],
                ami_port=AMI[i],
                rtp_start=RTP[i][0],
                rtp_end=RTP[i][1],
                emergency_port=SIP[i] + 2,
                carrier_port=SIP[i] + 3,
            )
            for i, name in enumerate(NODE_NAMES)
        )
        assert self.config.proxy is not None
        self.proxy = ProxySandbox(self.config.proxy, self.config.nodes, name=PROXY_NAME)
        for i, instance in enumerate(self.instances):
            instance.stop()
            (instance.dir / "db" / "astdb.sqlite3").unlink(missing_ok=True)
            instance.render(self.config)
            os.environ[SECRET_ENV[i]] = instance.control_secret()
        self.proxy.stop()
        self.proxy.render(self.config)
        self.start_nodes()
        self.proxy.start()
        self.wait_nodes_up()
        tone = write_tone(self.workdir / "tone440.wav", 440.0)
        self.tone = str(tone)
        self.db_url = f"sqlite:///{self.workdir / 'engine.db'}"
        self.engine = Engine(
            config_dir,
            self.db_url,
            self.instances[0].control_secret(),
            self.workdir / "engine.log",
            http_port=HTTP,
        )
        self.phones = agent_phones(
            f"127.0.0.1:{PROXY_SIP}",
            [(a.extension, self.proxy.agent_password(a.extension)) for a in self.config.agents],
            port=AGENT_SIP,
            rtp_port=AGENT_RTP,
            play=tone,
            answer_delay=0.3,
        )

    # --- the nodes and the proxy ----------------------------------------------------------

    def node(self, i: int) -> PbxNode:
        return self.config.nodes[i]

    def start_nodes(self) -> None:
        for instance in self.instances:
            if not instance.running():
                instance.start()
                instance.reload()

    def states(self) -> dict[str, str]:
        assert self.config.proxy is not None
        return node_states(self.config.proxy, self.config.nodes)

    def wait_nodes_up(self) -> None:
        wait_until(
            lambda: all(s == "up" for s in self.states().values()) and len(self.states()) == 2,
            60,
            "the proxy to find both nodes up",
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
            f"127.0.0.1:{PROXY_SIP}",
            port=CALLER_SIP + index,
            accounts=[(number, "")],
            play=self.tone,
            rtp_port=CALLER_RTP + 20 * index,
        )
        self._callers.append(phone)
        phone.wait_for(lambda e: e.get("event") == "ready")
        return phone

    def release_callers(self) -> None:
        for phone in self._callers:
            with contextlib.suppress(Exception):
                phone.close()
        self._callers.clear()
        self._free = list(range(20))

    # --- the engine's records ---------------------------------------------------------------

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return query(self.db_url, sql, **params)

    def call_row(self, call_id: str) -> Any:
        found = self.rows("SELECT * FROM calls WHERE call_id = :c", c=call_id)
        return found[0] if found else None

    def new_call_id(self, number: str, since: float) -> str:
        """The call from `number` that joined at or after `since` (the same number may have
        called before in the session)."""
        index = self.engine.cipher().phone_index(number)

        def found() -> str | None:
            rows = self.rows(
                "SELECT call_id FROM calls WHERE caller_number_hash = :h AND joined_at >= :s"
                " ORDER BY joined_at DESC",
                h=index,
                s=since,
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
def nodes(workdir: Path) -> Iterator[Nodes]:
    n = Nodes(workdir)
    try:
        yield n
    finally:
        n.close()
