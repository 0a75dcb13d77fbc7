"""``handpose train --workers N`` with workers started by spawn, as on macOS and Windows (run for real here): the
run trains, its weights equal a forked run's, and a warning from a worker comes out in the command's log format."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUN_WITH = """
import multiprocessing, sys
if __name__ == "__main__":
    multiprocessing.set_start_method(sys.argv[1], force=True)
    from handpose.cli import main
    sys.exit(main(sys.argv[2:]))
"""
TINY = ["--preset", "tiny", "--input-size", "64", "--batch-size", "4", "--val-every", "0", "--device", "cpu",
        "--threads", "1", "--no-amp", "--no-channels-last", "--max-steps", "3", "--log-every", "1", "--workers", "1"]


def _train(method: str, data: Path, out: Path, script: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, str(script), method, "train", "--data", str(data), "--out", str(out),
                           *TINY], capture_output=True, text=True, env=env, timeout=180)


@pytest.mark.slow
def test_spawned_training_workers_match_forked_ones_and_log_as_the_command(synth_data: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    data = tmp_path / "data"
    shutil.copytree(synth_data, data)
    for jpg in sorted(data.rglob("*.jpg"))[::2]:  # every other image is broken: a worker meets one at once
        jpg.write_bytes(b"not an image")
    script = tmp_path / "run_with.py"
    script.write_text(RUN_WITH)
    runs = {m: _train(m, data, tmp_path / m, script) for m in ("spawn", "fork")}
    for method, run in runs.items():
        assert run.returncode == 0, f"{method}: {run.stderr}"
    skipped = [line for line in runs["spawn"].stderr.splitlines() if "skipping bad image" in line]
    assert skipped and all(re.match(r"\d\d:\d\d:\d\d WARNING handpose\.data\.replacement: ", s) for s in skipped)
    a, b = (load_file(str(tmp_path / m / "model.safetensors")) for m in ("spawn", "fork"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)  # the same batches, whatever the start method
