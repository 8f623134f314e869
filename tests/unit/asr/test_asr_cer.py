"""tools/asr_cer.py: the CER function and the command on real decoded audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.asr_cer import cer, char_errors, levenshtein, main, normalize


def test_levenshtein() -> None:
    assert levenshtein("", "") == 0
    assert levenshtein("abc", "") == 3
    assert levenshtein("", "ab") == 2
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("今天天气很好", "今天天汽很好") == 1


def test_cer_ignores_spaces_and_punctuation() -> None:
    assert cer("今天天气很好。", "今天 天气 很好") == 0.0
    assert cer("您好，请问有什么可以帮您？", "您好 请问 有 什么 可以 帮 您") == 0.0
    assert normalize("ＡＢ，c d！") == "abcd"  # full-width folded, case-folded


def test_cer_counts_substitutions_insertions_deletions() -> None:
    assert cer("今天天气很好", "今天天汽很好") == pytest.approx(1 / 6)
    assert cer("今天天气很好", "今天天气") == pytest.approx(2 / 6)
    assert cer("天气", "今天天气很好") == pytest.approx(4 / 2)  # insertions can exceed 1
    assert char_errors("水管 坏了。", "水管坏") == (1, 4)


def test_cer_empty_reference() -> None:
    assert cer("", "") == 0.0
    assert cer("。", "") == 0.0
    assert cer("", "有") == 1.0


def test_command_on_a_small_reference_set(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shutil.which("espeak-ng"), "espeak-ng is required"
    from callcenter.asr.speech import CALLER_SENTENCES, build_leg

    for i, sentence in enumerate(CALLER_SENTENCES[:2]):
        build_leg([sentence], tmp_path / f"utt{i}.wav", tmp_path / "say", 8000, 0.5)
        (tmp_path / f"utt{i}.txt").write_text(sentence + "。\n", encoding="utf-8")
    assert main(["--model", str(model_dir), str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "utt0.wav" in out and "utt1.wav" in out
    assert "total CER:" in out and "real-time factor:" in out
    assert main(["--model", str(tmp_path / "no-model"), str(tmp_path)]) == 2
    assert main(["--model", str(model_dir), str(tmp_path), "--max-cer", "0"]) == 1
