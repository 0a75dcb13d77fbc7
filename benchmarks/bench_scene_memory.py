"""`handpose synth --scenes`: peak resident memory against the number of scenes, which must stay level.

Runs the public command in a child process per row (``synth --scenes --scene-size 160x120 --workers 1``, small
scenes so that the labels, not the pictures, are what could grow) at two counts, and reads each child's peak
resident memory (``ru_maxrss`` from ``os.wait4``). Rows:
  spooled    the command as it is: each chunk's labels go to a hidden line file, the json is written from it
  kept       the baseline, in the same run: the same command with every chunk's labels also kept in a list, as
             the renderer kept them until its end before they were spooled (less than it held then: it also
             made the whole document and its text at once)
The slope is (peak at the larger count - peak at the smaller) / (scenes between them), in kB a scene.
POSIX only (``os.wait4``). Usage: python benchmarks/bench_scene_memory.py [--counts 500,4000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from run_record import record_run

KEEP_LABELS = """
import sys
from handpose.synth import scenes_json
kept = []
real_add = scenes_json.SceneLabels.add
def add(self, chunk):
    kept.append(chunk)
    real_add(self, chunk)
scenes_json.SceneLabels.add = add
from handpose.cli import main
sys.exit(main(sys.argv[1:]))
"""
PLAIN = "import sys\nfrom handpose.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def peak_mb(code: str, args: list[str]) -> float:
    """Peak resident memory (MB) of one child ``python -c code args``; RuntimeError when it fails."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"handpose {' '.join(args)} failed: {err[-500:]}")
    return usage.ru_maxrss / 1024  # kB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="500,4000", help="two scene counts (default 500,4000)")
    parser.add_argument("--quick", action="store_true", help="100 and 400 scenes (make bench --quick)")
    args = parser.parse_args()
    small, large = (100, 400) if args.quick else (int(v) for v in args.counts.split(","))
    if not 0 < small < large:
        parser.error(f"--counts: two counts, the first smaller, got {args.counts!r}")
    record_run()
    print(f"{'row':<8} {'scenes':>7} {'peak MB':>8}   slope kB/scene")
    with tempfile.TemporaryDirectory() as tmp:
        for name, code in (("spooled", PLAIN), ("kept", KEEP_LABELS)):
            peaks = []
            for count in (small, large):
                out = Path(tmp) / f"{name}{count}"
                peaks.append(peak_mb(code, ["-q", "synth", "--scenes", "--count", str(count), "--scene-size",
                                            "160x120", "--workers", "1", "--seed", "3", "--out", str(out)]))
                print(f"{name:<8} {count:>7} {peaks[-1]:>8.1f}", flush=True)
            print(f"{name:<8} slope: {(peaks[1] - peaks[0]) * 1024 / (large - small):.2f} kB a scene")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
