"""`make bench` with --quick passes --quick to every benchmark script (benchmarks/run_all.py): each must take it
(bench_predict.py did not, and the run ended with a failure). Checked on the scripts' own argument parsers,
without running them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _flags(script: Path) -> set[str]:
    """Every option string given to an ``add_argument`` call in ``script``."""
    flags = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            flags |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return flags


def test_every_benchmark_that_run_all_runs_takes_quick() -> None:
    scripts = sorted(BENCHMARKS.glob("bench_*.py"))  # what run_all.py runs
    assert len(scripts) >= 10
    missing = [s.name for s in scripts if "--quick" not in _flags(s)]
    assert not missing, f"benchmarks without --quick: {missing}"


def _calls(script: Path, name: str) -> bool:
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == name for n in ast.walk(ast.parse(
        script.read_text())))


def test_every_benchmark_prints_its_date_machine_command_and_the_cpus_other_use() -> None:
    """A figure in BENCHMARKS.md carries its command, machine and date; one taken beside other work is flagged
    (benchmarks/run_record.py)."""
    scripts = sorted(BENCHMARKS.glob("bench_*.py")) + [BENCHMARKS / "run_all.py"]
    missing = [s.name for s in scripts if not _calls(s, "record_run")]
    assert not missing, f"benchmarks that do not print their run record: {missing}"


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="the CPU share is read from /proc/stat")
def test_the_run_record_names_the_command_and_the_cpu_share_others_used() -> None:
    import subprocess
    import sys

    code = ("import sys, time; sys.argv = ['bench_x.py', '--quick']; from run_record import record_run; "
            "record_run(); end = time.time() + 0.6\nwhile time.time() < end: pass")
    out = subprocess.run([sys.executable, "-c", code], cwd=BENCHMARKS, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("# ") and lines[0].endswith(": python bench_x.py --quick") and "cores" in lines[0]
    assert lines[-1].startswith("# other processes used ") and "of the CPUs during this run" in lines[-1]
