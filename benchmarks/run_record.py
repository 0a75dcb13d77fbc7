"""What every benchmark prints around its figures: the date, the machine and the command first, and at the end
how busy other processes kept the CPUs meanwhile (a figure taken beside other work is not a figure of the machine).
"""

from __future__ import annotations

import atexit
import datetime
import os
import platform
import shlex
import subprocess
import sys

BUSY = 0.2  # other processes' share of the CPUs above which the run's timings are flagged


def machine_line() -> str:
    """CPU model and core count, as recorded in BENCHMARKS.md."""
    model = platform.processor() or "unknown cpu"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{model}, {os.cpu_count()} logical cores"


def record_run() -> None:
    """Print the header line now and, when the process ends, the other processes' CPU share during the run (a
    warning above ``BUSY``: ``handpose.autotune.contention`` measures it from /proc/stat)."""
    from handpose.autotune.contention import start_meter

    command = " ".join(shlex.quote(a) for a in ["python", *sys.argv])
    print(f"# {datetime.date.today()} on {machine_line()}, python {platform.python_version()}: {command}",
          flush=True)
    share = start_meter(with_children=True)  # its worker processes and scripts are its own work

    def report() -> None:
        busy = share()
        if busy is None:
            return
        note = (f" -- WARNING: other processes kept {busy:.0%} of the CPUs busy, timings are not the machine's"
                if busy > BUSY else "")
        print(f"# other processes used {busy:.0%} of the CPUs during this run{note}", flush=True)

    atexit.register(report)
