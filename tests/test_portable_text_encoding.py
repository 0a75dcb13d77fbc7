"""``handpose predict`` of an image named outside the ANSI code page, as Windows runs it: text files opened without an
encoding are written in that code page there (cp1252), and standard output redirected to a file or a pipe is
encoded in it too. Simulated on Linux for real: ``-X warn_default_encoding`` shows every text file opened in the
locale's encoding, ``PYTHONIOENCODING=cp1252`` gives standard output Windows' code page."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.commands.predict_files import MANIFEST

SRC = Path(__file__).resolve().parents[1] / "src"
NAME = "\u624b"  # a Chinese character, absent from cp1252


def _predict(tmp_path: Path, *python_flags: str, **env: str) -> subprocess.CompletedProcess:
    image = tmp_path / f"{NAME}.jpg"
    cv2.imwrite(str(image), np.full((96, 96, 3), 120, np.uint8))
    run_env = {**os.environ, "PYTHONPATH": str(SRC), "HANDPOSE_CACHE": str(tmp_path / "cache"), **env}
    return subprocess.run([sys.executable, *python_flags, "-m", "handpose", "predict", str(image), "--out",
                           str(tmp_path / "out"), "--threads", "1", "--maps", "none"],
                          capture_output=True, text=True, encoding="utf-8", env=run_env, timeout=180)


@pytest.mark.slow
def test_predict_opens_no_text_file_in_the_locales_encoding(tmp_path: Path) -> None:
    done = _predict(tmp_path, "-X", "warn_default_encoding", "-W", "default::EncodingWarning")
    assert done.returncode == 0, done.stderr
    ours = [line for line in done.stderr.splitlines() if "EncodingWarning" in line and str(SRC) in line]
    assert ours == []
    listed = (tmp_path / "out" / MANIFEST).read_text(encoding="utf-8").split()
    assert f"{NAME}.json" in listed and f"{NAME}_overlay.png" in listed


@pytest.mark.slow
def test_predict_output_in_a_code_page_without_the_name(tmp_path: Path) -> None:
    done = _predict(tmp_path, PYTHONIOENCODING="cp1252")
    assert done.returncode == 0, done.stderr
    assert f"\\u{ord(NAME):04x}.jpg: " in done.stdout  # the name, escaped, and the run went on to its summary
    assert " in 1 image;" in done.stdout
    assert (tmp_path / "out" / f"{NAME}.json").is_file()


def test_main_in_process_escapes_and_gives_the_callers_streams_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """``handpose.cli.main([...])`` called from a program whose standard streams are strict cp1252 (Windows' redirected
    output): the name is escaped while it runs, and the caller's streams raise again after it returns, as they did."""
    from handpose.cli import main

    streams = {name: io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="strict") for name in ("out", "err")}
    monkeypatch.setattr(sys, "stdout", streams["out"])
    monkeypatch.setattr(sys, "stderr", streams["err"])
    code = main(["eval", "--weights", f"/nonexistent/{NAME}.safetensors", "--data", "/nonexistent"])
    assert code == 2
    streams["err"].flush()
    assert f"/nonexistent/\\u{ord(NAME):04x}.safetensors" in streams["err"].buffer.getvalue().decode("cp1252")
    assert streams["out"].errors == streams["err"].errors == "strict"
