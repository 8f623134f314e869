"""The engine runs without the optional extras (reports, asr, demo and the test tools): in a
fresh interpreter where importing any of their packages fails, the serve path imports and
`callcenter serve --help` answers. (pyproject.toml lists the extras.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
EXTRAS = ("matplotlib", "openpyxl", "vosk", "pjsua2", "playwright")

BLOCKER = f"""
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRAS!r}:
            raise ImportError("optional extra imported on the core path: " + name)
        return None
sys.meta_path.insert(0, Blocked())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_blocker_really_blocks() -> None:
    proc = run("import openpyxl")
    assert proc.returncode != 0 and "optional extra imported" in proc.stderr


def test_the_serve_path_imports_without_the_extras() -> None:
    proc = run("import callcenter.cli, callcenter.service, callcenter.api.http, callcenter.live")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_serve_help_works_without_the_extras() -> None:
    proc = run(
        "import sys; from callcenter.cli import main\n"
        "sys.argv = ['callcenter', 'serve', '--help']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    sys.exit(e.code)\n"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "usage: callcenter serve" in proc.stdout
