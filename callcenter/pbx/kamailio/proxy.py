"""Kamailio in front of the media nodes: its config rendered from center.toml ([pbx.proxy],
[[pbx.nodes]], the agents' phones), its control interface (JSON-RPC over HTTP: the nodes'
states, draining a node, the calls up on each node), and the sandbox instance that runs it
chrooted in the sandbox root beside the Asterisk instances (loopback only)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.config import Config, PbxNode, ProxyConfig
from callcenter.paths import REPO
from callcenter.pbx.asterisk.dialplan import environment
from callcenter.pbx.asterisk.sandbox import root_dir
from callcenter.pbx.base import PbxError, SandboxError

TEMPLATES = REPO / "dialplans" / "kamailio"
KAMAILIO = "/usr/sbin/kamailio"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
SET = 1  # the dispatcher set of the media nodes
# dispatcher.list FLAGS: first letter A(ctive), I(nactive), D(isabled), T(rying)
STATES = {"A": "up", "I": "down", "D": "drained", "T": "probing"}


class ProxyError(PbxError):
    """The proxy's control interface refused or did not answer."""

    error_id = "pbx.proxy"


def node_uri(node: PbxNode) -> str:
    return f"sip:{node.host}:{node.sip_port}"


def render(
    proxy: ProxyConfig, nodes: tuple[PbxNode, ...], passwords: Mapping[str, str], inner: str
) -> dict[str, str]:
    """kamailio.cfg and dispatcher.list; `inner`: the folder the files are in, as Kamailio
    sees it; `passwords`: phone extension -> SIP password (agents register on the proxy)."""
    nobody = [ext for ext, pw in passwords.items() if not pw]
    if nobody:
        raise SandboxError(f"kamailio.cfg: no SIP password for phone {', '.join(nobody)}")
    env = environment(TEMPLATES)
    cfg = env.get_template("kamailio.cfg.j2").render(
        host=proxy.host,
        sip_port=proxy.sip_port,
        control_host=proxy.control_host,
        control_port=proxy.control_port,
        probe_interval=proxy.probe_interval,
        failures=proxy.failures,
        node_timeout_ms=int(proxy.node_timeout * 1000),
        dir=inner,
        modules=MODULES,
        phones=[{"user": u, "password": p} for u, p in sorted(passwords.items())],
    )
    listing = "".join(f"{SET} {node_uri(n)} 0 0 name={n.name}\n" for n in nodes)
    return {"kamailio.cfg": cfg, "dispatcher.list": "# set uri flags priority attrs\n" + listing}


# --- the control interface ------------------------------------------------------------------


def rpc(proxy: ProxyConfig, method: str, *params: Any, timeout: float = 5.0) -> Any:
    """One JSON-RPC call to the proxy's control interface; ProxyError when it fails."""
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1})
    request = urllib.request.Request(
        proxy.control_url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            reply = json.loads(r.read())
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise ProxyError(f"the proxy's control interface {proxy.control_url}: {exc}") from exc
    if "error" in reply:
        raise ProxyError(f"{method}: {reply['error'].get('message', reply['error'])}")
    return reply.get("result")


def node_states(proxy: ProxyConfig, nodes: tuple[PbxNode, ...]) -> dict[str, str]:
    """Node name -> up / down / drained / probing, as the proxy's dispatcher has it."""
    by_uri = {node_uri(n): n.name for n in nodes}
    found: dict[str, str] = {}
    result = rpc(proxy, "dispatcher.list")
    for record in result.get("RECORDS", []):
        for target in record.get("SET", {}).get("TARGETS", []):
            dest = target.get("DEST", {})
            name = by_uri.get(dest.get("URI", ""))
            if name is not None:
                found[name] = STATES.get(str(dest.get("FLAGS", "?"))[:1], "unknown")
    return found


def calls_on(proxy: ProxyConfig, node: PbxNode) -> int:
    """The callers' calls up on a node that came through the proxy (its dialog profile)."""
    return int(rpc(proxy, "dlg.profile_get_size", "node", node_uri(node)))


def drain(proxy: ProxyConfig, node: PbxNode) -> None:
    """No new call goes to the node (disabled in the dispatcher: not probed, not chosen)."""
    rpc(proxy, "dispatcher.set_state", "dx", SET, node_uri(node))


def undrain(proxy: ProxyConfig, node: PbxNode) -> None:
    """The node takes calls again once a probe finds it up."""
    rpc(proxy, "dispatcher.set_state", "ap", SET, node_uri(node))


# --- the package in the sandbox root ---------------------------------------------------------

PACKAGE = "kamailio"


def ensure_installed(root: Path | None = None) -> Path:
    """Kamailio in the sandbox root: a root built before the proxy was part of it gets the
    Debian package now (apt-get in the root; about 3 s with the root's package lists, which
    are refreshed when the mirror no longer has that version). Idempotent."""
    root = root or root_dir()
    if (root / KAMAILIO.lstrip("/")).exists():
        return root
    install = ["chroot", str(root), "env", "DEBIAN_FRONTEND=noninteractive", "apt-get",
               "install", "-y", "--no-install-recommends", PACKAGE]  # fmt: skip
    proc = subprocess.run(install, capture_output=True, text=True)
    if proc.returncode != 0:
        update = ["chroot", str(root), "apt-get", "-o", "Acquire::Check-Valid-Until=false",
                  "update"]  # fmt: skip
        subprocess.run(update, capture_output=True, text=True)
        proc = subprocess.run(install, capture_output=True, text=True)
    if proc.returncode != 0 or not (root / KAMAILIO.lstrip("/")).exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        raise SandboxError(f"could not install {PACKAGE} into the sandbox root {root}: {tail[0]}")
    return root


# --- the sandbox instance --------------------------------------------------------------------


@dataclass(frozen=True)
class ProxySandbox:
    """A private Kamailio in the sandbox root, under /srv/cc/<name>."""

    proxy: ProxyConfig
    nodes: tuple[PbxNode, ...]
    name: str = "proxy"
    root: Path = field(default_factory=root_dir)

    @property
    def inner(self) -> str:
        return f"/srv/cc/{self.name}"

    @property
    def dir(self) -> Path:
        return self.root / "srv" / "cc" / self.name

    @property
    def log(self) -> Path:
        return self.dir / "kamailio.log"

    def agent_password(self, extension: str) -> str:
        """A phone's SIP password on this proxy: made once, kept in a 0600 file."""
        path = self.dir / "secrets.json"
        data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        key = f"agent:{extension}"
        if key not in data:
            data[key] = secrets.token_urlsafe(12)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
        return data[key]

    def render(self, config: Config) -> None:
        extensions = [a.extension for a in config.agents if not a.browser_phone]
        extensions += [s.extension for s in config.supervisors]
        passwords = {ext: self.agent_password(ext) for ext in extensions}
        self.dir.mkdir(parents=True, exist_ok=True)
        for name, text in render(self.proxy, self.nodes, passwords, self.inner).items():
            path = self.dir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)

    def pid(self) -> int | None:
        try:
            pid = int((self.dir / "kamailio.pid").read_text().strip())
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        if state == "Z":  # ended, and this process started it: reap it
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 20.0) -> None:
        """Start Kamailio (if not running) and wait until its control interface answers."""
        if not self.running():
            ensure_installed(self.root)
            check = subprocess.run(
                ["chroot", str(self.root), KAMAILIO, "-c", "-f", f"{self.inner}/kamailio.cfg"],
                capture_output=True,
                text=True,
            )
            if check.returncode != 0:
                raise SandboxError(f"kamailio.cfg does not load: {check.stderr.strip()[-800:]}")
            log = self.log.open("ab")
            # -DD: no fork (the pid is this process's), -E: log to stderr (the log file)
            script = (
                f"exec chroot {shlex.quote(str(self.root))} {KAMAILIO} -DD -E "
                f"-f {self.inner}/kamailio.cfg"
            )
            proc = subprocess.Popen(
                ["sh", "-c", script], stdout=log, stderr=log, start_new_session=True
            )
            log.close()
            (self.dir / "kamailio.pid").write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise SandboxError(f"kamailio {self.name} exited; see {self.log}")
            try:
                rpc(self.proxy, "core.version", timeout=1.0)
                return
            except ProxyError:
                time.sleep(0.1)
        raise SandboxError(f"kamailio {self.name} did not answer within {timeout:.0f} s")

    def reload(self) -> None:
        """Read dispatcher.list again (the nodes)."""
        rpc(self.proxy, "dispatcher.reload")

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            time.sleep(0.05)
        if self.running():
            os.kill(pid, signal.SIGKILL)
        (self.dir / "kamailio.pid").unlink(missing_ok=True)
