"""Writes that fail for real: a file-size limit (``ulimit -f``, ``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored so the
write gets ``EFBIG``) set in a child process. The error names the file, the earlier file of that name stays whole,
and no temporary file is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

resource = pytest.importorskip("resource")  # POSIX
LIMIT = 20_000  # bytes a child may write into one file


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def run_limited(code: str) -> dict:
    """Run ``code`` (which sets ``result``, a json-able dict) in a child process under the file-size limit."""
    script = f"import json, sys\nresult = {{}}\n{code}\nprint(json.dumps(result))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          preexec_fn=_limited, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _caught(call: str) -> str:
    return f"""
try:
    {call}
except OSError as exc:
    import errno
    result = {{"type": type(exc).__name__, "message": str(exc), "efbig": exc.errno == errno.EFBIG}}
"""


def _no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name]


def test_a_file_over_the_size_limit_is_named_and_the_earlier_file_stays(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"earlier": true}\n')
    result = run_limited("from handpose.files import write_json\n"
                         + _caught(f"write_json({str(target)!r}, {{'values': list(range(20000))}})"))
    assert result.get("efbig"), result
    assert result["message"].startswith(f"{target}: could not be written (File too large)"), result
    assert "previous file, if any, is unchanged" in result["message"]
    assert json.loads(target.read_text()) == {"earlier": True}
    _no_temporaries(tmp_path)


def test_an_overlay_that_cannot_be_written_leaves_the_earlier_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "photo_overlay.png"
    earlier = b"an earlier predict's overlay"
    target.write_bytes(earlier)
    noise = "numpy.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=numpy.uint8)"
    result = run_limited("import numpy\nfrom handpose.viz import save_bgr\n"
                         + _caught(f"save_bgr({str(target)!r}, {noise})"))
    assert result.get("efbig") and result["message"].startswith(f"{target}: could not be written"), result
    assert target.read_bytes() == earlier
    _no_temporaries(tmp_path)


def test_a_pck_plot_that_cannot_be_written_leaves_the_earlier_one_whole(tmp_path: Path) -> None:
    from handpose.evaluate import CURVE_NAME

    target = tmp_path / CURVE_NAME
    earlier = b"an earlier evaluation's plot"
    target.write_bytes(earlier)
    curves = {"box": {"thresholds": [0.0, 0.1, 0.2], "pck": [0.0, 0.5, 0.9]},
              "pixels": {"thresholds": [0.0, 5.0, 10.0], "pck": [0.0, 0.4, 0.8]}}
    title = "x" * 40
    result = run_limited("from handpose.evaluate import plot_pck\n"
                         + _caught(f"plot_pck({curves!r}, {str(target)!r}, title={title!r})"))
    assert result.get("efbig") and result["message"].startswith(f"{target}: could not be written"), result
    assert target.read_bytes() == earlier
    _no_temporaries(tmp_path)
