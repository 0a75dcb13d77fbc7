"""The house style of design.md that a parser can check over src/handpose: every module has a docstring, every
function and method signature has type hints on its arguments and its return. ``make test-fast`` relies on ruff's
ANN and D100/D104 rules (pyproject.toml) for the same; this test holds src/ to them under pytest alone."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # parsing the package's ~190 files takes about 0.5 s of CPU; ruff is the fast check

SRC = Path(__file__).resolve().parents[1] / "src" / "handpose"


@functools.cache
def _modules() -> list[tuple[Path, ast.Module]]:
    """Every module of the package, parsed once for all the tests."""
    return [(p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))) for p in sorted(SRC.rglob("*.py"))]


def _signature_gaps(tree: ast.Module) -> list[str]:
    """``name:line what`` for every argument or return without a hint; ``self`` / ``cls`` of a method are exempt."""
    gaps = []
    methods = {id(f) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for f in c.body}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        a = node.args
        args = [*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x is not None)]
        if id(node) in methods and args and args[0].arg in ("self", "cls"):
            args = args[1:]
        gaps += [f"{node.name}:{node.lineno} argument {x.arg}" for x in args if x.annotation is None]
        if node.returns is None:
            gaps.append(f"{node.name}:{node.lineno} return")
    return gaps


def test_the_scan_sees_the_package() -> None:
    assert len(_modules()) > 100  # a wrong SRC would pass every check below on nothing


def test_every_module_has_a_docstring() -> None:
    missing = [str(p.relative_to(SRC)) for p, tree in _modules() if not ast.get_docstring(tree)]
    assert not missing, f"modules without a docstring: {missing}"


def test_every_signature_has_type_hints() -> None:
    gaps = {str(p.relative_to(SRC)): g for p, tree in _modules() if (g := _signature_gaps(tree))}
    assert not gaps, f"signatures without type hints: {gaps}"


def test_the_signature_check_finds_a_missing_hint() -> None:
    tree = ast.parse("class A:\n    def __init__(self, x: int):\n        pass\n    def f(self, y) -> None:\n"
                     "        pass\n\ndef g(*args, z: int = 0, **kw) -> int:\n    return 0\n")
    expected = ["__init__:2 return", "f:4 argument y", "g:7 argument args", "g:7 argument kw"]
    assert sorted(_signature_gaps(tree)) == expected
