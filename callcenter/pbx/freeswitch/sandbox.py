"""The sandbox FreeSWITCH: a real FreeSWITCH 1.11 in a cached root, on loopback ports.

`ensure_root()` builds the root once (tools/sandbox/build_freeswitch.sh, from the release
tarballs named by CALLCENTER_FREESWITCH_SRC). An instance lives inside the root under
/srv/cc-fs/<name>: its own conf, log, db, run and MOH directories, so several run side by
side. FreeSWITCH runs chrooted in a private mount namespace where /etc/resolv.conf is a
loopback-only file, in the foreground as a child of the process that started it.

The rendered configuration is the smallest one a call center needs: one SIP profile on
loopback (callers need no authentication, agents register with generated passwords), the
event socket on loopback with a generated password and a loopback-only ACL, a local_stream
music-on-hold directory, and a dialplan that answers the hotline number, sets the call's
queue, priority and arrival time as channel variables, and parks the caller with music on
hold (CHANNEL_PARK is what the engine waits for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.sax.saxutils import quoteattr

from callcenter.config import Config
from callcenter.paths import REPO
from callcenter.pbx.base import SandboxError
from callcenter.pbx.freeswitch.dialplan import MODULES as CENTER_MODULES
from callcenter.pbx.freeswitch.dialplan import RenderParams, modules, render
from callcenter.pbx.freeswitch.esl import EslClient, EslError
from callcenter.pbx.sandboxes import (
    build_root,
    cached_root,
    self_signed_certificate,
    write_hold_music,
)
from callcenter.prompts import build_prompts, prompt_texts

BUILD_SCRIPT = REPO / "tools" / "sandbox" / "build_freeswitch.sh"
FREESWITCH = "/opt/freeswitch/bin/freeswitch"
MODULE_DIR = "opt/freeswitch/lib/freeswitch/mod"  # in the root
MARKER = ".callcenter-freeswitch-ok"
PROFILE = "cc"
SRC_ENV = "CALLCENTER_FREESWITCH_SRC"

# the bare sandbox's modules: the center's (dialplan.MODULES) without its ACD and conferences
MODULES = tuple(m for m in CENTER_MODULES if m not in ("mod_callcenter", "mod_conference"))


def root_dir() -> Path:
    return cached_root("CALLCENTER_FREESWITCH_ROOT", "freeswitch-root")


def root_ready(root: Path | None = None) -> bool:
    return ((root or root_dir()) / MARKER).is_file()


def ensure_root(root: Path | None = None) -> Path:
    """Build the root once; raise SandboxError with one clear line when it cannot (the
    script says what is missing, e.g. CALLCENTER_FREESWITCH_SRC not set)."""
    return build_root(root or root_dir(), MARKER, BUILD_SCRIPT, "FreeSWITCH")


@dataclass(frozen=True)
class Instance:
    """One private FreeSWITCH on loopback."""

    name: str = "fs"
    host: str = "127.0.0.1"
    sip_port: int = 25500
    esl_port: int = 25521
    rtp_start: int = 25600
    rtp_end: int = 25999
    hotline: str = "12345"  # the hotline number; longer numbers starting with it too
    queue: str = "general"  # the cc_queue channel variable the dialplan sets
    priority: int = 0  # the cc_priority channel variable
    agents: tuple[str, ...] = ()  # directory users (extensions), passwords generated
    root: Path = field(default_factory=root_dir)
    # A center's configuration rendered from config/ (render_config) instead of the minimal
    # one of config_xml(); recordings then go to `recordings_dir` inside the root, where the
    # host directory `recordings_host` is bind-mounted when set (the shared storage).
    own_config: bool = False
    recordings_dir: str = "/var/lib/freeswitch/recordings/callcenter"
    recordings_host: Path | None = None
    carrier_port: int = 0
    emergency_port: int = 0  # where the emergency trunks' gateways send (the 110 line)
    agent_dial: str = "user/{extension}"  # the node's (mod_callcenter's fallback agents)
    # The browser phones' secure WebSocket (wss://host:wss_port/, sofia's wss-binding) with a
    # certificate the instance makes itself (keys/wss.crt, wss.key); 0: center.toml [webrtc]
    # bind and certificate folder, as a deployment renders them.
    wss_port: int = 0
    # Site-local dialplan: extensions of cc-inbound, written to conf/cc-local/local.xml (the
    # rendered cc-inbound includes cc-local/*.xml first); own-config instances only.
    local_dialplan: str = ""

    @property
    def inner(self) -> str:
        """The instance directory as FreeSWITCH sees it (inside the chroot)."""
        return f"/srv/cc-fs/{self.name}"

    @property
    def dir(self) -> Path:
        return self.root / "srv" / "cc-fs" / self.name

    @property
    def log(self) -> Path:
        return self.dir / "log" / "freeswitch.log"

    @property
    def ws_url(self) -> str:
        """Where a browser phone connects (the instance's own certificate: a test browser
        must accept it)."""
        return f"wss://{self.host}:{self.wss_port}/ws"

    @property
    def domain(self) -> str:
        """The directory domain: agents register as <extension>@<host>."""
        return self.host

    # --- secrets ----------------------------------------------------------------------------

    def _secrets(self) -> dict[str, str]:
        path = self.dir / "secrets.json"
        data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        wanted = ["esl"] + [f"agent:{a}" for a in self.agents]
        if all(data.get(k) for k in wanted):
            return data
        for key in wanted:
            if not data.get(key):
                data[key] = secrets.token_urlsafe(18 if key == "esl" else 12)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        return data

    @property
    def esl_password(self) -> str:
        return self._secrets()["esl"]

    def control_secret(self) -> str:
        """The event socket's password (the engine's driver logs in with it)."""
        return self.esl_password

    def agent_password(self, extension: str) -> str:
        if extension not in self.agents:
            raise SandboxError(f"{extension} is not a directory user of FreeSWITCH {self.name}")
        return self._secrets()[f"agent:{extension}"]

    def esl(self, events: tuple[str, ...] = ("ALL",), timeout: float = 10.0) -> EslClient:
        """An (unconnected) event-socket client for this instance."""
        return EslClient(
            self.host, self.esl_port, self.esl_password, events=events, timeout=timeout
        )

    # --- rendering --------------------------------------------------------------------------

    def render(self) -> None:
        """Write the instance's configuration (idempotent)."""
        for sub in (
            "conf", "log", "db", "run", "tmp", "moh", "recordings", "storage", "sounds", "certs",
        ):  # fmt: skip
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        if not self.own_config:
            (self.dir / "conf" / "freeswitch.xml").write_text(self.config_xml())
        (self.dir / "resolv.conf").write_text(
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
        )
        moh = self.dir / "moh" / "hold.wav"
        if not moh.exists():
            write_hold_music(moh)

    def render_config(self, config: Config) -> None:
        """Write the center's FreeSWITCH configuration, rendered from `config` by the same
        templates as a deployment (dialplans/freeswitch/), with this instance's ports and
        generated secrets (its phones: every agent's and supervisor's extension). A module
        the configuration needs and the root lacks is a SandboxError naming it."""
        params = RenderParams(
            host=self.host,
            sip_port=self.sip_port,
            esl_host=self.host,
            esl_port=self.esl_port,
            esl_secret=self.esl_password,
            carrier_port=self.carrier_port or self.sip_port + 38,
            emergency_port=self.emergency_port or self.sip_port + 39,
            phone_passwords={ext: self.agent_password(ext) for ext in self.agents},
            rtp_start=self.rtp_start,
            rtp_end=self.rtp_end,
            switchname=f"cc-{self.name}",
            moh_dir=f"{self.inner}/moh",
            log_dir=f"{self.inner}/log",
            recordings_dir=self.recordings_dir,
            timezone=config.center.timezone,
            record=config.recordings.enabled,
            prompts_dir=f"{self.inner}/prompts",
            agent_dial=self.agent_dial,
            trunk_secrets={t.name: t.secret() for t in config.trunks if t.auth_user},
        )
        missing = [
            m for m in modules(config, params) if not (self.root / MODULE_DIR / f"{m}.so").exists()
        ]
        if missing:  # e.g. mod_opus for browser phones speaking Opus: not in the built root
            raise SandboxError(
                f"the sandbox FreeSWITCH root {self.root} has no {', '.join(missing)} "
                "(tools/sandbox/build_freeswitch.sh builds a minimal module set); for browser "
                'phones list G.711 only in center.toml [webrtc] codecs, e.g. ["alaw", "ulaw"]'
            )
        self.render()
        build_prompts(prompt_texts(config.ivr), self.dir / "prompts", config.source_dir / "prompts")
        if self.wss_port:
            cert, _ = self_signed_certificate(self.dir / "keys", self.host)
            # sofia-sip's WSS listener wants the chain beside them: here the certificate itself
            (self.dir / "keys" / "ca-bundle.crt").write_bytes(cert.read_bytes())
            params = replace(
                params,
                wss_bind=f"{self.host}:{self.wss_port}",
                tls_cert_dir=f"{self.inner}/keys",
            )
        files = render(config, params)
        for name, text in files.items():
            (self.dir / "conf" / name).write_text(text)
        local = self.dir / "conf" / "cc-local" / "local.xml"
        local.unlink(missing_ok=True)
        if self.local_dialplan:
            local.parent.mkdir(exist_ok=True)
            local.write_text(f"<include>\n{self.local_dialplan}</include>\n")

    def config_xml(self) -> str:
        s = self._secrets()
        d = self.inner
        a = quoteattr

        def params(pairs: dict[str, object]) -> str:
            return "".join(f"<param name={a(k)} value={a(str(v))}/>" for k, v in pairs.items())

        switch = params(
            {
                "switchname": f"cc-{self.name}",
                "max-sessions": 2000,
                "sessions-per-second": 200,
                "loglevel": "info",
                "dump-cores": "no",
                "rtp-start-port": self.rtp_start,
                "rtp-end-port": self.rtp_end,
            }
        )
        modules = "".join(f"<load module={a(m)}/>" for m in MODULES)
        esl = params(
            {
                "listen-ip": self.host,
                "listen-port": self.esl_port,
                "password": s["esl"],
                "apply-inbound-acl": "cc_esl",
                "nat-map": "false",
            }
        )
        sofia = params(
            {
                "context": "cc-inbound",
                "dialplan": "XML",
                "sip-ip": self.host,
                "rtp-ip": self.host,
                "sip-port": self.sip_port,
                "ext-sip-ip": self.host,
                "ext-rtp-ip": self.host,
                "inbound-codec-prefs": "PCMU,PCMA",
                "outbound-codec-prefs": "PCMU,PCMA",
                "dtmf-type": "rfc2833",
                "rfc2833-pt": 101,
                "auth-calls": "false",  # citizens call in unauthenticated
                "accept-blind-reg": "false",  # agents register with their password
                "challenge-realm": "auto_from",
                "manage-presence": "false",
                "rtp-timer-name": "soft",
                "nonce-ttl": 60,
                "log-auth-failures": "true",
            }
        )
        moh = params({"rate": 8000, "channels": 1, "interval": 20, "timer-name": "soft"})
        logfile = params({"logfile": f"{d}/log/freeswitch.log", "rollover": 10485760})
        users = "".join(
            f"<user id={a(ext)}><params><param name='password' value={a(s['agent:' + ext])}/>"
            f"</params></user>"
            for ext in self.agents
        )
        dial_string = (
            "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
            "${sofia_contact(*/${dialed_user}@${dialed_domain})}"
        )
        hotline = f"^({self.hotline}\\d*)$"
        actions = [
            ("set", f"cc_queue={self.queue}"),
            ("set", f"cc_priority={self.priority}"),
            ("set", "cc_arrival_us=${strmicroepoch()}"),
            ("set", "cc_did=$1"),
            ("set", "hold_music=local_stream://moh"),
            ("answer", ""),
            # music on hold while parked: park reads its queued events, so a broadcast plays
            ("broadcast", "local_stream://moh aleg"),
            ("park", ""),
        ]
        dialplan = "".join(
            f"<action application={a(app)} data={a(data)}/>" for app, data in actions
        )
        return f"""<?xml version="1.0"?>
<document type="freeswitch/xml">
<section name="configuration">
<configuration name="switch.conf"><settings>{switch}</settings></configuration>
<configuration name="modules.conf"><modules>{modules}</modules></configuration>
<configuration name="logfile.conf"><settings><param name="rotate-on-hup" value="true"/></settings>
<profiles><profile name="default"><settings>{logfile}</settings>
<mappings><map name="all" value="info,notice,warning,err,crit,alert"/></mappings>
</profile></profiles></configuration>
<configuration name="db.conf"><settings/></configuration>
<configuration name="acl.conf"><network-lists>
<list name="cc_esl" default="deny"><node type="allow" cidr={a(self.host + "/32")}/></list>
</network-lists></configuration>
<configuration name="event_socket.conf"><settings>{esl}</settings></configuration>
<configuration name="local_stream.conf">
<directory name="moh" path={a(d + "/moh")}>{moh}</directory>
</configuration>
<configuration name="sofia.conf"><global_settings><param name="log-level" value="0"/>
</global_settings><profiles><profile name={a(PROFILE)}>
<domains><domain name="all" alias="true" parse="false"/></domains>
<settings>{sofia}</settings></profile></profiles></configuration>
</section>
<section name="dialplan">
<context name="cc-inbound">
<extension name="hotline"><condition field="destination_number" expression={a(hotline)}>
{dialplan}
</condition></extension>
</context>
</section>
<section name="directory">
<domain name={a(self.domain)}>
<params><param name="dial-string" value={a(dial_string)}/></params>
<groups><group name="agents"><users>{users}</users></group></groups>
</domain>
</section>
</document>
"""

    # --- process ----------------------------------------------------------------------------

    def pid(self) -> int | None:
        try:
            pid = int((self.dir / "run" / "freeswitch.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 90.0) -> None:
        """Start FreeSWITCH (if not running) and wait until its event socket answers and the
        SIP profile runs (polled, never a fixed sleep). Call it outside an event loop."""
        if not root_ready(self.root):
            raise SandboxError(f"no FreeSWITCH root at {self.root} (ensure_root() builds it)")
        self.render()
        proc: subprocess.Popen[bytes] | None = None
        if not self.running():
            for port, what in ((self.sip_port, "SIP"), (self.esl_port, "ESL")):
                if not _port_free(self.host, port):
                    raise SandboxError(f"FreeSWITCH {self.name}: {what} port {port} is taken")
            (self.dir / "run" / "freeswitch.pid").unlink(missing_ok=True)
            d = self.inner
            dirs = {
                "-conf": "conf", "-log": "log", "-db": "db", "-run": "run", "-temp": "tmp",
                "-recordings": "recordings", "-storage": "storage", "-sounds": "sounds",
                "-certs": "certs",  # its own DTLS-SRTP certificate, made at the first start
            }  # fmt: skip
            args = [FREESWITCH, "-nf", "-nc", "-nonat"]
            for flag, sub in dirs.items():
                args += [flag, f"{d}/{sub}"]
            resolv = shlex.quote(str(self.dir / "resolv.conf"))
            mounts = ""
            if self.recordings_host is not None:
                inside = self.root / self.recordings_dir.lstrip("/")
                inside.mkdir(parents=True, exist_ok=True)
                self.recordings_host.mkdir(parents=True, exist_ok=True)
                mounts = (
                    f"mount --bind {shlex.quote(str(self.recordings_host))} "
                    f"{shlex.quote(str(inside))} && "
                )
            script = (
                mounts + f"mount --bind {resolv} {shlex.quote(str(self.root))}/etc/resolv.conf && "
                f"mount -t proc proc {shlex.quote(str(self.root))}/proc && "  # CPU statistics
                f"exec chroot {shlex.quote(str(self.root))} {shlex.join(args)}"
            )
            with open(self.dir / "log" / "console.log", "ab") as out:
                proc = subprocess.Popen(
                    ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                state = asyncio.run(self._probe())
            except EslError as exc:
                state = str(exc)
            if state == "ready":
                return
            last = state
            if proc is not None and proc.poll() is not None:
                last = f"it exited with {proc.returncode}; see {self.dir / 'log' / 'console.log'}"
                break
            time.sleep(0.2)
        raise SandboxError(
            f"FreeSWITCH {self.name} was not ready within {timeout:.0f} s ({last}); see {self.log}"
        )

    async def _probe(self) -> str:
        client = self.esl(events=("BACKGROUND_JOB",), timeout=5.0)
        async with client:
            core = await client.api("status", check=False)
            if "ready" not in core:
                return f"core not ready: {core[:80]!r}"
            sofia = await client.api("sofia status", check=False)
            if not re.search(rf"^\s*{PROFILE}\s+profile\s+\S+\s+RUNNING", sofia, re.M):
                return f"SIP profile {PROFILE} not running: {sofia[-200:]!r}"
            return "ready"

    def stop(self, timeout: float = 20.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        (self.dir / "run" / "freeswitch.pid").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (we may be its parent's child)."""
    with contextlib.suppress(ChildProcessError, ProcessLookupError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_free(host: str, port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            # as FreeSWITCH binds: a closed connection's TIME_WAIT does not make a port taken
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True
