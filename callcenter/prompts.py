"""IVR prompts: Mandarin audio built locally from the text in config.

Debian's espeak-ng lacks the full Chinese dictionary (with `-v cmn` it spells most characters
as letters and digits), so the text is first turned into tone-numbered pinyin with pypinyin,
which resolves polyphonic characters by phrase (银行 háng, 行走 xíng), and spoken with the
`cmn-latn-pinyin` voice. Digits are read the way a hotline reads them: a number of three or
more digits digit by digit with 幺 for 1 (12345 -> 幺二三四五), a single digit as itself
(按1 -> 按一). The result is written as 8 kHz 16-bit mono WAV, which Asterisk plays directly.
A deployment replaces any prompt with a recorded file of the same id in the overrides folder.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pypinyin import Style, lazy_pinyin

from callcenter.asr.audio import read_wav, resample, select_channel, write_wav
from callcenter.errors import CallcenterError
from ivr.announce import SYSTEM_PROMPTS
from ivr.model import IvrConfig

RATE = 8000
VOICE = "cmn-latn-pinyin"
_DIGITS = "零一二三四五六七八九"
_PHONE_DIGITS = "零幺二三四五六七八九"


class PromptError(CallcenterError):
    error_id = "ivr.prompt"


def spoken_digits(text: str) -> str:
    """Numbers as a hotline says them: long ones digit by digit (1 as 幺), short ones plainly."""

    def say(m: re.Match[str]) -> str:
        digits = m.group(0)
        table = _PHONE_DIGITS if len(digits) >= 3 else _DIGITS
        return "".join(table[int(d)] for d in digits)

    return re.sub(r"[0-9]+", say, text)


def to_pinyin(text: str) -> str:
    """Tone-numbered pinyin (neutral tone as 5), punctuation kept as pauses."""
    words = lazy_pinyin(spoken_digits(text), style=Style.TONE3, neutral_tone_with_five=True)
    out = []
    for word in words:
        out.append("," if re.fullmatch(r"[，,。.！!？?；;、：:\s]+", word) else word)
    return " ".join(out).replace(" ,", ",")


def espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise PromptError("espeak-ng is not installed (Debian package espeak-ng)")
    return found


def synthesize(text: str, out: Path, speed: int = 150) -> float:
    """Speak `text` into `out` (8 kHz WAV); returns the duration in seconds."""
    if not text.strip():
        raise PromptError("a prompt needs text")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        proc = subprocess.run(
            [espeak(), "-v", VOICE, "-s", str(speed), "-w", str(raw), to_pinyin(text)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0 or not raw.exists():
            raise PromptError(f"espeak-ng failed ({proc.returncode}): {proc.stderr.strip()}")
        audio = read_wav(raw)
        samples = resample(select_channel(audio), audio.rate, RATE)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out, samples, RATE)
    return len(samples) / RATE


def prompt_texts(ivr: IvrConfig | None, with_recorded: bool = True) -> dict[str, str]:
    """Every prompt the PBX plays: the engine's own (queue announcements, callback, survey)
    with their built-in text, then config/ivr.toml's [prompts], which may reword them.
    `with_recorded=False` leaves out prompts that name a recorded file."""
    texts = dict(SYSTEM_PROMPTS)
    for p in ivr.prompts.values() if ivr is not None else ():
        if p.file and not with_recorded:
            texts.pop(p.id, None)
        else:
            texts[p.id] = p.text
    return texts


@dataclass(frozen=True)
class Built:
    prompt_id: str
    path: Path
    how: str  # "synthesized", "unchanged", "recorded"


def build_prompts(
    prompts: Mapping[str, str], out_dir: Path, overrides: Path | None = None
) -> list[Built]:
    """Write `<id>.wav` for every prompt: a recorded override when one exists, else speech
    synthesized from the text (rebuilt only when the text changed)."""
    results: list[Built] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for prompt_id, text in sorted(prompts.items()):
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", prompt_id):
            raise PromptError(f"prompt id {prompt_id!r}: use letters, digits, _ and - only")
        target = out_dir / f"{prompt_id}.wav"
        recorded = overrides / f"{prompt_id}.wav" if overrides is not None else None
        if recorded is not None and recorded.exists():
            shutil.copyfile(recorded, target)
            results.append(Built(prompt_id, target, "recorded"))
            continue
        stamp = out_dir / f".{prompt_id}.sha256"
        digest = hashlib.sha256(f"{VOICE}\n{text}".encode()).hexdigest()
        if target.exists() and stamp.exists() and stamp.read_text() == digest:
            results.append(Built(prompt_id, target, "unchanged"))
            continue
        synthesize(text, target)
        stamp.write_text(digest)
        results.append(Built(prompt_id, target, "synthesized"))
    return results
