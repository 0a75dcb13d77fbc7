"""`handpose eval` on a dataset folder: the memory its report takes, held and written.

Runs the public command in this process, ``handpose eval --weights MODEL --data DATA --split all --out OUT``, with
Python's allocations traced (``tracemalloc``) from the moment the evaluation starts, and prints:
  held by the result   what the evaluation's result still holds once it returns (the per-sample predictions)
  peak while writing   the highest traced memory while the report file is written, above what was traced
                       before the writing began (the report's text, or the pieces of it made one by one)
  peak over the run    the highest traced memory from the evaluation's start to the report's end
  VmHWM                the process's peak resident memory (Linux's /proc/self/status), the network's included
and the report file's size. DATA: a dataset on disk, e.g. ``handpose synth --out DATA --count 3000 --size 128``;
without --data, --count hands are rendered so (at 128 px, seed 3) into a temporary folder first.
Usage: python benchmarks/bench_eval_memory.py [--data DATA | --count 3000] [--weights pretrained:lite] [--out OUT]
       [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from run_record import record_run

import handpose.evaluate as evaluation
from handpose.cli import main as handpose

MB = 1024 * 1024


def vm_hwm_mb() -> float:
    """This process's peak resident memory in MB (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (this benchmark reads Linux's /proc)")


def measured_eval(weights: str, data: Path, out: Path) -> dict[str, float]:
    """One ``handpose eval`` run with the evaluation's and the report's memory traced."""
    figures: dict[str, float] = {}
    real_evaluate, real_write = evaluation.evaluate, evaluation.write_report

    def traced_evaluate(*args: Any, **kwargs: Any) -> dict[str, Any]:
        tracemalloc.start()
        figures["start"] = tracemalloc.get_traced_memory()[0]
        result = real_evaluate(*args, **kwargs)
        figures["after_eval"] = tracemalloc.get_traced_memory()[0]
        return result

    def traced_write(*args: Any, **kwargs: Any) -> Path:
        before, run_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        path = real_write(*args, **kwargs)
        figures["write_peak"] = tracemalloc.get_traced_memory()[1] - before
        figures["run_peak"] = max(run_peak, tracemalloc.get_traced_memory()[1]) - figures["start"]
        return path

    evaluation.evaluate, evaluation.write_report = traced_evaluate, traced_write
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            code = handpose(["eval", "--weights", weights, "--data", str(data), "--split", "all", "--out", str(out),
                             "--overwrite"])
    finally:
        evaluation.evaluate, evaluation.write_report = real_evaluate, real_write
        tracemalloc.stop()
    if code != 0:
        raise RuntimeError(f"handpose eval failed with exit code {code}")
    figures["held"] = figures["after_eval"] - figures["start"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="the dataset to evaluate on (every sample: --split all; "
                        "default: --count renders made first)")
    parser.add_argument("--count", type=int, default=3000, help="hands rendered without --data (default 3000)")
    parser.add_argument("--weights", default="pretrained:lite", help="model file (default pretrained:lite)")
    parser.add_argument("--out", default=None, help="report folder (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="200 renders without --data (make bench --quick)")
    args = parser.parse_args()
    if args.quick:
        args.count = min(args.count, 200)
    if args.data is None and args.count < 1:
        parser.error(f"--count must be at least 1, got {args.count}")
    record_run()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-eval-memory-") as tmp:
        out = Path(args.out or Path(tmp) / "report")
        data = args.data
        if data is None:
            from handpose.synth import write_dataset

            data = Path(tmp) / "renders"
            write_dataset(data, count=args.count, seed=3, size=128)
        f = measured_eval(args.weights, Path(data), out)
        report = out / evaluation.REPORT_NAME
        hands = int(json.loads(report.read_text())["metrics"]["num_samples"])
        size = report.stat().st_size
        print(f"handpose eval of {args.weights} on {hands} hands of {data}; traced Python allocations in MB")
        print(f"  held by the result   {f['held'] / MB:8.1f}   ({f['held'] / max(1, hands) / 1024:.2f} kB a hand)")
        print(f"  peak while writing   {f['write_peak'] / MB:8.1f}")
        print(f"  peak over the run    {f['run_peak'] / MB:8.1f}")
        print(f"  VmHWM                {vm_hwm_mb():8.1f}")
        print(f"  report file          {size / MB:8.1f}   ({size / max(1, hands) / 1024:.2f} kB a hand)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
