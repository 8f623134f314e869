"""The sandbox PBX: a real Asterisk 22 in a cached Debian-unstable root, on loopback ports.

`ensure_root()` builds the root once (tools/sandbox/build-root.sh). An instance lives inside
the root under /srv/cc/<name>: its own etc, run, log, spool, db and RTP range, so several
run side by side (the demo, tests, the app_queue baseline). Asterisk runs chrooted in a
private mount namespace where /etc/resolv.conf is a loopback-only file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.config import Config
from callcenter.paths import REPO
from callcenter.pbx.asterisk.dialplan import QueueSpec, RenderParams, environment, render
from callcenter.pbx.base import SandboxError
from callcenter.pbx.sandboxes import (
    build_root,
    cached_root,
    self_signed_certificate,
    write_hold_music,
)
from callcenter.prompts import build_prompts, prompt_texts

SANDBOX_TEMPLATES = REPO / "tools" / "sandbox" / "asterisk"
BUILD_SCRIPT = REPO / "tools" / "sandbox" / "build-root.sh"
ASTERISK = "/usr/sbin/asterisk"

MODULES = [
    "res_sorcery_config.so",
    "res_sorcery_memory.so",
    "res_sorcery_astdb.so",
    "res_pjproject.so",
    "res_pjsip.so",
    "res_pjsip_session.so",
    "res_pjsip_pubsub.so",
    "chan_pjsip.so",
    "res_pjsip_authenticator_digest.so",
    "res_pjsip_endpoint_identifier_ip.so",
    "res_pjsip_endpoint_identifier_user.so",
    "res_pjsip_endpoint_identifier_anonymous.so",
    "res_pjsip_registrar.so",
    "res_pjsip_sdp_rtp.so",
    "res_pjsip_caller_id.so",
    "res_pjsip_header_funcs.so",  # PJSIP_HEADER: a trusted trunk's X-CC-* headers (cc-join)
    "res_pjsip_dtmf_info.so",
    "res_pjsip_refer.so",
    "res_pjsip_logger.so",
    "res_pjsip_outbound_authenticator_digest.so",
    "res_rtp_asterisk.so",
    "res_timing_timerfd.so",
    "codec_alaw.so",
    "codec_ulaw.so",
    "codec_a_mu.so",
    "codec_resample.so",
    "format_wav.so",
    "format_pcm.so",
    "format_sln.so",
    "format_gsm.so",
    "codec_gsm.so",
    "app_dial.so",
    "app_playback.so",
    "app_echo.so",
    "app_mixmonitor.so",
    "app_queue.so",
    "app_userevent.so",
    "app_stack.so",
    "app_read.so",
    "app_senddtmf.so",
    "app_chanspy.so",
    "app_confbridge.so",
    "app_verbose.so",
    "app_exec.so",
    "app_transfer.so",
    "app_blind_transfer.so",
    "app_record.so",
    "app_playtones.so",
    "res_musiconhold.so",
    "res_audiosocket.so",
    "app_audiosocket.so",
    "chan_audiosocket.so",
    "func_channel.so",
    "func_math.so",
    "func_strings.so",
    "func_logic.so",
    "func_global.so",
    "func_db.so",  # cc-done keeps ended calls in AstDB for the engine's reconciliation
    "func_cut.so",
    "func_callerid.so",
    "func_timeout.so",
    "func_uuid.so",
    "func_shell.so",
    "func_sprintf.so",
    "func_hangupcause.so",
    "pbx_config.so",
    "bridge_simple.so",
    "bridge_softmix.so",
    "bridge_native_rtp.so",
    "bridge_holding.so",
    "bridge_builtin_features.so",
    "res_speech.so",
    "res_agi.so",
    "indications.so",
    # the agents' browser phones: SIP over secure WebSocket (the HTTP server's TLS listener)
    # and DTLS-SRTP media
    "res_crypto.so",
    "res_http_websocket.so",
    "res_pjsip_transport_websocket.so",
    "res_srtp.so",
    # Opus for the browser phones (Debian's asterisk-modules), transcoded against G.711
    "res_format_attr_opus.so",
    "codec_opus_open_source.so",
]


ROOT_MARKER = ".callcenter-root-ok"


def root_dir() -> Path:
    return cached_root("CALLCENTER_PBX_ROOT", "pbx-root")


def root_ready(root: Path | None = None) -> bool:
    return ((root or root_dir()) / ROOT_MARKER).is_file()


def ensure_root(root: Path | None = None) -> Path:
    """Build the root once; raise SandboxError with one clear line when it cannot."""
    return build_root(root or root_dir(), ROOT_MARKER, BUILD_SCRIPT, "PBX")


@dataclass(frozen=True)
class Instance:
    """One private Asterisk on loopback."""

    name: str = "a"
    host: str = "127.0.0.1"
    sip_port: int = 15060
    ami_port: int = 15038
    rtp_start: int = 20000
    rtp_end: int = 20999
    emergency_port: int = 15099
    carrier_port: int = 15098
    extra_queues: tuple[QueueSpec, ...] = ()
    # Written to extensions_local.conf (included at the end of extensions.conf).
    local_dialplan: str = ""
    # Recordings: Asterisk writes under `recordings_dir` (inside the root); when
    # `recordings_host` is set, that host directory is bind-mounted there (the shared storage
    # a production node would mount), so the engine finds the files under its own root.
    recordings_dir: str = "/var/spool/asterisk/callcenter"
    recordings_host: Path | None = None
    # The browser phones' secure WebSocket (wss://host:wss_port/ws) with a certificate the
    # instance makes itself; 0: no HTTP server at all (Asterisk's plain HTTP listener takes
    # wss_port + 1, on loopback). The browsers are on this machine: ICE offers them 127.0.0.1
    # only (loopback_ice_candidates, rendered into rtp.conf).
    wss_port: int = 0
    root: Path = field(default_factory=root_dir)

    @property
    def inner(self) -> str:
        """The instance directory as Asterisk sees it (inside the chroot)."""
        return f"/srv/cc/{self.name}"

    @property
    def dir(self) -> Path:
        return self.root / "srv" / "cc" / self.name

    @property
    def conf(self) -> str:
        return f"{self.inner}/etc/asterisk.conf"

    def secrets(self) -> dict[str, str]:
        """AMI secret and agent passwords: generated once per instance, kept in 0600 file."""
        path = self.dir / "secrets.json"
        if path.exists():
            data: dict[str, str] = json.loads(path.read_text())
            return data
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"ami": secrets.token_urlsafe(18)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        return data

    def control_secret(self) -> str:
        """The AMI secret the engine's driver logs in with."""
        return self.secrets()["ami"]

    def agent_password(self, extension: str) -> str:
        data = self.secrets()
        key = f"agent:{extension}"
        if key not in data:
            data[key] = secrets.token_urlsafe(12)
            path = self.dir / "secrets.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
        return data[key]

    # --- rendering -------------------------------------------------------------------------

    def render(self, config: Config, extra_extensions: tuple[str, ...] = ()) -> None:
        """Write every config file of the instance (idempotent)."""
        for sub in ("etc", "run", "log", "spool", "lib", "db", "moh", "recordings"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        extensions = [a.extension for a in config.agents]
        extensions += [x.extension for x in config.supervisors] + list(extra_extensions)
        passwords = {ext: self.agent_password(ext) for ext in extensions}
        params = RenderParams(
            host=self.host,
            sip_port=self.sip_port,
            ami_port=self.ami_port,
            ami_user="callcenter",
            ami_secret=self.secrets()["ami"],
            emergency_port=self.emergency_port,
            carrier_port=self.carrier_port,
            agent_passwords=passwords,
            trunk_secrets={t.name: t.secret() for t in config.trunks if t.auth_user},
            extra_queues=self.extra_queues,
            recordings_dir=self.recordings_dir,
            prompts_dir=f"{self.inner}/prompts",
        )
        if self.wss_port:
            cert, key = self.tls_certificate()
            params = dataclasses.replace(
                params,
                tls_bind=f"{self.host}:{self.wss_port}",
                tls_cert=cert,
                tls_key=key,
                http_port=self.wss_port + 1,
            )
        build_prompts(prompt_texts(config.ivr), self.dir / "prompts", config.source_dir / "prompts")
        files = render(config, params)
        env = environment(SANDBOX_TEMPLATES)
        ctx = {
            "name": self.name,
            "dir": self.inner,
            "modules": MODULES,
            "rtp_start": self.rtp_start,
            "rtp_end": self.rtp_end,
            # browser phones: ICE offers loopback (see loopback_ice_candidates)
            "ice": loopback_ice_candidates() if self.wss_port else None,
        }
        for template in sorted(p.name for p in SANDBOX_TEMPLATES.glob("*.j2")):
            files[template[:-3]] = env.get_template(template).render(ctx)
        files["extensions_local.conf"] = "; site-local dialplan\n" + self.local_dialplan
        if not self.wss_port:
            files["http.conf"] = "[general]\nenabled = no\n"
        for quiet in (
            "cel.conf",
            "features.conf",
            "acl.conf",
            "udptl.conf",
            "pjproject.conf",
            "ccss.conf",
            "queuerules.conf",
            "confbridge.conf",
        ):
            files.setdefault(quiet, "[general]\n")
        stock = self.root / "etc" / "asterisk" / "indications.conf"
        if stock.exists():
            files.setdefault("indications.conf", stock.read_text())
        etc = self.dir / "etc"
        for name, text in files.items():
            _write_if_changed(etc / name, text)
        (self.dir / "resolv.conf").write_text(
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
        )
        moh = self.dir / "moh" / "hold.wav"
        if not moh.exists():
            write_hold_music(moh)

    @property
    def ws_url(self) -> str:
        """Where a browser phone connects (the instance's own certificate: a test browser
        must accept it)."""
        return f"wss://{self.host}:{self.wss_port}/ws"

    def tls_certificate(self) -> tuple[str, str]:
        """A self-signed certificate and key for the secure WebSocket, made once (openssl)
        in the instance directory; returned as Asterisk sees them (inside the root)."""
        self_signed_certificate(self.dir / "keys", self.host)
        return f"{self.inner}/keys/wss.crt", f"{self.inner}/keys/wss.key"

    # --- process ---------------------------------------------------------------------------

    def pid(self) -> int | None:
        path = self.dir / "run" / "asterisk.pid"
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 30.0) -> None:
        """Start Asterisk (if not running) and wait until it is fully booted."""
        if not self.running():
            for stale in ("asterisk.ctl", "asterisk.pid"):
                (self.dir / "run" / stale).unlink(missing_ok=True)
            resolv = self.dir / "resolv.conf"
            mounts = f"mount --bind {shlex.quote(str(resolv))} {self.root}/etc/resolv.conf && "
            if self.recordings_host is not None:
                inside = self.root_path(self.recordings_dir)
                inside.mkdir(parents=True, exist_ok=True)
                self.recordings_host.mkdir(parents=True, exist_ok=True)
                mounts += (
                    f"mount --bind {shlex.quote(str(self.recordings_host))} "
                    f"{shlex.quote(str(inside))} && "
                )
            script = mounts + f"exec chroot {self.root} {ASTERISK} -C {self.conf}"
            proc = subprocess.run(
                ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise SandboxError(
                    f"asterisk did not start ({proc.returncode}): {proc.stderr.strip()}"
                )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.cli("core waitfullybooted", check=False, timeout=timeout)
            if "fully booted" in out.lower():
                return
            time.sleep(0.1)
        raise SandboxError(
            f"asterisk {self.name} did not boot within {timeout:.0f} s; see {self.log}"
        )

    @property
    def log(self) -> Path:
        return self.dir / "log" / "messages.log"

    def stop(self, timeout: float = 15.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        self.cli("core stop now", check=False, timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            time.sleep(0.05)
        if self.running():
            os.kill(pid, signal.SIGKILL)
            while self.running():
                time.sleep(0.05)

    def cli(self, command: str, check: bool = True, timeout: float = 15.0) -> str:
        proc = subprocess.run(
            ["chroot", str(self.root), ASTERISK, "-C", self.conf, "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise SandboxError(f"asterisk -rx {command!r} failed: {proc.stderr.strip()}")
        return proc.stdout

    def reload(self) -> None:
        self.cli("dialplan reload")
        self.cli("module reload res_pjsip.so")
        self.cli("queue reload all")

    def sipp(self) -> str:
        return str(self.root / "usr" / "bin" / "sipp")

    def root_path(self, inner: str) -> Path:
        """A path inside the chroot, seen from the host."""
        return self.root / inner.lstrip("/")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass(frozen=True)
class IceCandidates:
    """rtp.conf's ICE host candidates for a sandbox whose browser phones are on loopback.

    Asterisk gathers its ICE host candidates from the machine's interfaces and never offers a
    127.x address, so a browser on the same machine would be sent to a non-loopback address.
    The sandbox takes one of the machine's own addresses, `mapped`, and advertises it as
    127.0.0.1 ([ice_host_candidates]); every other address, IPv6 ones too, is denied
    (`denied`, rtp.conf ice_deny), so 127.0.0.1
    is the only candidate a browser phone is offered. Production renders no rtp.conf: there
    Asterisk offers the operator's addresses as they are."""

    mapped: str
    denied: tuple[str, ...] = ()


def host_addresses() -> list[str]:
    """The addresses (IPv4 first, then IPv6) of this machine's interfaces that are up,
    loopback ones left out: what Asterisk's ICE gathering finds (`ip -o addr show up`)."""
    ip = shutil.which("ip")
    if ip is None:
        raise SandboxError("iproute2 (`ip`) is not installed: the sandbox cannot list addresses")
    proc = subprocess.run([ip, "-o", "addr", "show", "up"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SandboxError(f"ip addr failed: {proc.stderr.strip()}")
    v4: list[str] = []
    v6: list[str] = []
    for line in proc.stdout.splitlines():
        fields = line.split()
        for family, found in (("inet", v4), ("inet6", v6)):
            if family in fields:
                address = fields[fields.index(family) + 1].split("/")[0]
                if not ipaddress.ip_address(address).is_loopback and address not in found:
                    found.append(address)
    return v4 + v6


# An address from the benchmarking range (RFC 2544) that a machine without any non-loopback
# address gives its loopback interface, so that Asterisk has a host candidate to map.
SPARE_ADDRESS = "198.18.0.1"


def loopback_ice_candidates(addresses: list[str] | None = None) -> IceCandidates:
    """The mapping that makes a sandbox's browser phones meet Asterisk on 127.0.0.1: the
    machine's first non-loopback IPv4 address advertised as 127.0.0.1, the others denied. A
    machine (or network namespace) with none has nothing Asterisk could map: the sandbox puts
    SPARE_ADDRESS on `lo` (a /32 reachable from this machine only) and maps that."""
    addresses = host_addresses() if addresses is None else addresses
    v4 = [a for a in addresses if ":" not in a]
    mapped = v4[0] if v4 else SPARE_ADDRESS
    denied = tuple(f"{a}/128" if ":" in a else f"{a}/32" for a in addresses if a != mapped)
    if not v4:
        ip = shutil.which("ip") or "ip"
        proc = subprocess.run(
            [ip, "addr", "add", f"{SPARE_ADDRESS}/32", "dev", "lo"], capture_output=True, text=True
        )
        if proc.returncode != 0 and "File exists" not in proc.stderr:
            raise SandboxError(
                f"this machine has no non-loopback address and {SPARE_ADDRESS}/32 could not be "
                f"added to lo for the browser phones' ICE: {proc.stderr.strip()}"
            )
    return IceCandidates(mapped=mapped, denied=denied)


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    path.write_text(text)
