"""README's first command on either kind: `callcenter demo --pbx KIND` starts the sandbox
media server of that kind, the engine, the agents' softphones and sipp citizens, and every
citizen is answered and recorded (the legs apart). The demo runs as a user runs it, in its own
process, on its own ports (the shipped center.toml's, SIP 15060 / 15500; not slot-relative:
they lie in slots 1 and 2, do not run it beside those sessions)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from callcenter.paths import REPO
from callcenter.pbx.registry import KINDS

pytestmark = pytest.mark.pbx

CALLS = 4


@pytest.fixture(autouse=True)
def agents_ready() -> None:
    """The demo brings its own PBX, engine and agents: not the session's center (this
    replaces the package's autouse fixture of that name for this module)."""


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_demo_answers_and_records_every_citizen(kind: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "demo", "--pbx", kind]
        + ["--calls", str(CALLS), "--rate", "1", "--talk", "1:2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,  # a generous deadline: the machine may be busy (sipp waits up to 150 s)
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    report = out[out.index("=== final report ===") :]
    assert re.search(rf"^callers joined\s+{CALLS}$", report, re.M), report
    assert re.search(rf"^answered\s+{CALLS}$", report, re.M), report
    assert re.search(r"^abandoned\s+0$", report, re.M), report
    recordings = REPO / "var" / "demo" / "recordings"
    calls = {p.name.removesuffix(".wav") for p in recordings.rglob("*.wav") if "-" in p.stem}
    mixed = [p for p in recordings.rglob("*.wav") if not p.stem.endswith(("-caller", "-agent"))]
    assert len(mixed) == CALLS, sorted(calls)
    for call in mixed:
        for leg in ("caller", "agent"):
            part = call.with_name(f"{call.stem}-{leg}.wav")
            assert part.exists() and part.stat().st_size > 44, part  # more than a WAV header
