"""What every kind's sandbox shares: where the built roots are cached and how they are built
once, and the hold music an instance plays (so a test can recognise it)."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import wave
from collections.abc import Mapping
from pathlib import Path

from callcenter.pbx.base import SandboxError


def cache_dir() -> Path:
    base = os.environ.get("CALLCENTER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "callcenter"
    )
    return Path(base)


def cached_root(env: str, folder: str) -> Path:
    """Where a kind's root lives: the folder the variable `env` names, else one in the cache."""
    return Path(os.environ.get(env, str(cache_dir() / folder)))


def build_root(root: Path, marker: str, script: Path, what: str) -> Path:
    """Build `root` once with `script ROOT` (which writes `marker` when the root is complete);
    raise SandboxError with one clear line when it cannot: the script's own reason (a line
    "callcenter: ..." on its stderr), else its exit status. Its progress goes on to stderr."""
    if (root / marker).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["bash", str(script), str(root)], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    reason = ""
    for line in proc.stderr:
        sys.stderr.write(line)
        if line.startswith("callcenter:"):
            reason = line.strip().removeprefix("callcenter: ")
    if proc.wait() != 0 or not (root / marker).is_file():
        raise SandboxError(
            f"the sandbox {what} root could not be built at {root}: "
            f"{reason or f'the build script exited with {proc.returncode}'}"
        )
    return root


def write_hold_music(path: Path, seconds: float = 12.0) -> None:
    """A quiet arpeggio (8 kHz, 16-bit mono), so the hold class has something to play."""
    rate = 8000
    notes = (392.0, 493.9, 587.3, 784.0, 587.3, 493.9)
    frames = bytearray()
    n = int(rate * seconds)
    for i in range(n):
        t = i / rate
        f = notes[int(t * 2) % len(notes)]
        phase = (t * 2) % 1.0
        envelope = min(1.0, phase * 20) * (1.0 - phase) ** 2
        frames += struct.pack("<h", int(4000 * envelope * math.sin(2 * math.pi * f * t)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def instance_password(instance_dir: Path, extension: str) -> str:
    """A phone's SIP password in a sandbox instance's `secrets.json` ("" when it has none)."""
    try:
        data = json.loads((instance_dir / "secrets.json").read_text())
    except (OSError, ValueError):
        return ""
    password = data.get(f"agent:{extension}", "") if isinstance(data, dict) else ""
    return password if isinstance(password, str) else ""


def write_rendered(files: Mapping[str, str], out: str, main: str) -> int:
    """`callcenter dialplan render`'s output: the `main` file on stdout without `out`, else
    every rendered file into the folder `out` (made if missing), each named as it is written."""
    if not out:
        sys.stdout.write(files[main])
        return 0
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text)
        print(f"wrote {target / name}")
    return 0


def self_signed_certificate(keys: Path, host: str) -> tuple[Path, Path]:
    """A self-signed certificate and key for a sandbox's secure WebSocket (the browser
    phones'), made once with openssl in `keys` as `wss.crt` and `wss.key` (the names
    FreeSWITCH reads from its certificate folder; Asterisk takes any). Never committed: each
    instance makes its own."""
    cert, key = keys / "wss.crt", keys / "wss.key"
    if cert.exists() and key.exists():
        return cert, key
    keys.mkdir(parents=True, exist_ok=True)
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SandboxError("openssl is not installed: the sandbox cannot make its WSS key")
    proc = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
         "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SandboxError(f"openssl could not make the WSS certificate: {proc.stderr}")
    key.chmod(0o600)
    return cert, key
