"""`make bench` with --quick passes --quick to every benchmark script (benchmarks/run_all.py): each must take it
(bench_predict.py did not, and the run ended with a failure). Checked on the scripts' own argument parsers,
without running them."""

from __future__ import annotations

import ast
from pathlib import Path

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
