"""Training beside a busy process: examples per second of ``handpose train`` at 1 thread, at every core's count
and at ``--threads auto`` (the cores other processes and the run's data workers leave free, read each second), on a
quiet machine and with ``--busy`` processes spinning (``--load python``: a pure Python loop, one core each;
``--load torch``: PyTorch matrix products on every core, as another training run).

Each case is one ``handpose train`` process (the lite recipe at 96 px, batch 16, float32 with channels-last fixed so
no speed trial runs, ``--workers 1``) on the same rendered hands, in interleaved rounds; the figure is the rate
its summary reports (the steps since the last log line, before the final one), so start-up is left out.
Usage: python benchmarks/bench_train_contention.py [--busy 1] [--load python|torch] [--steps 60] [--rounds 2]
       [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_contention import spinning
from run_record import record_run


def train_rate(data: Path, out: Path, threads: str, steps: int, workers: int) -> float:
    """Examples/s of one short ``handpose train`` run (its summary's rate over the steps after the first log)."""
    cmd = [sys.executable, "-m", "handpose", "-q", "train", "--data", str(data), "--out", str(out), "--overwrite",
           "--preset", "lite", "--max-steps", str(steps), "--log-every", str(steps // 3), "--val-every", "0",
           "--workers", str(workers), "--amp", "off", "--channels-last", "on", "--threads", threads, "--seed", "0"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return float(json.loads((out / "summary.json").read_text())["examples_per_sec"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=1, help="processes spinning in the loaded rows")
    parser.add_argument("--load", choices=("python", "torch"), default="python", help="what they run (docstring)")
    parser.add_argument("--steps", type=int, default=60, help="training steps per case (a multiple of 3)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="data-loading workers of each run")
    parser.add_argument("--quick", action="store_true", help="30 steps, 1 round (make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.steps, args.rounds = 30, 1
    from handpose.synth import write_dataset

    cores = os.cpu_count() or 1
    counts = [str(c) for c in sorted({1, cores})] + ["auto"]
    loads = ("quiet", f"{args.busy} busy")
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_dataset(Path(tmp) / "data", count=400, seed=0, size=96)
        for _ in range(args.rounds):
            for load in loads:
                with spinning(args.busy if load != "quiet" else 0, args.load):
                    for t in counts:
                        rates.setdefault((load, t), []).append(
                            train_rate(data.parent, Path(tmp) / f"run_{t}", t, args.steps, args.workers))
    print(f"{cores} cores; examples/s of handpose train (lite, 96 px, batch 16, fp32 + channels-last, "
          f"--workers {args.workers}), median of {args.rounds} round(s) of {args.steps} steps; loaded: {args.busy} "
          f"process(es) spinning ({args.load})")
    print(f"{'load':<12}" + "".join(f"{'--threads ' + t:>16}" for t in counts))
    for load in loads:
        print(f"{load:<12}" + "".join(f"{statistics.median(rates[(load, t)]):>16.1f}" for t in counts))


if __name__ == "__main__":
    main()
