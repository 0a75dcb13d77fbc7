"""scripts/release.sh run again with the same OUT continues: a finished training is kept. It ran
`handpose train --resume` on it, which refuses a finished run, and `set -e` ended the script there, so a release
stopped in its detector training could not be continued."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "release.sh"

# a stand-in `handpose`: logs its command line; `train` writes a checkpoint and a completed summary.json, and
# `train --resume` refuses a completed run as handpose does
FAKE = r"""#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
cmd=$1; shift
out=""; resume=""
while [ $# -gt 0 ]; do
  case $1 in --out) out=$2 ;; --resume) resume=$2 ;; esac
  shift
done
if [ "$cmd" = train ]; then
  if [ -n "$resume" ]; then
    if grep -q '"stopped": "completed"' "$resume/summary.json"; then echo "the run is finished" >&2; exit 2; fi
    out=$resume
  fi
  mkdir -p "$out/checkpoints" && touch "$out/checkpoints/ckpt-00000010.pt" "$out/model.safetensors"
  printf '{\n "step": 10,\n "stopped": "completed"\n}\n' > "$out/summary.json"
fi
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash")
def test_a_second_run_keeps_the_finished_trainings(tmp_path: Path) -> None:
    fake = tmp_path / "handpose"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    log = tmp_path / "calls.txt"
    env = {**os.environ, "HANDPOSE": str(fake), "FAKE_LOG": str(log), "EXPORT": "0"}
    out = tmp_path / "release"
    for _ in range(2):
        done = subprocess.run(["bash", str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    trains = [line for line in log.read_text().splitlines() if line.startswith("train")]
    assert len(trains) == 2 and not any("--resume" in line for line in trains)  # each trained once, then kept
    assert "finished (its summary.json says completed), kept" in done.stdout
