"""The documents hold to the code: every link of README.md, MODEL_CARD.md and BENCHMARKS.md reaches a file and
heading that exist, every flag of a ``handpose COMMAND ...`` they show is a flag of that command, every
``python benchmarks/NAME.py ...`` / ``scripts/NAME ...`` they show names a script that exists and only its flags (and,
for a shell script, settings it reads), every ``make TARGET VAR=...`` names a target and a variable of the Makefile,
every BENCHMARKS.md section they name by its title is there, and every ``module.name`` / ``Class.field`` of
handpose's they name in code spans exists."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import os
import re
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

from handpose.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "MODEL_CARD.md", "BENCHMARKS.md")
# the classes the documents name by themselves (``RefineConfig.detector_weight``), with their modules
CLASSES = {"RefineConfig": "handpose.inference.refine", "TrackingConfig": "handpose.inference.tracking",
           "DataConfig": "handpose.config", "TrainConfig": "handpose.config", "ModelConfig": "handpose.config",
           "DetectorConfig": "handpose.config", "Predictor": "handpose.inference.predictor",
           "Prediction": "handpose.inference.predictor", "Sample": "handpose.data.sample"}
FILE_SUFFIXES = {"json", "onnx", "safetensors", "pt", "py", "sh", "md", "jpg", "png", "mp4", "npy", "txt"}


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings(text: str) -> list[str]:
    return re.findall(r"^#+ (.*)$", text, re.M)


def broken_links(doc: str, text: str) -> list[str]:
    """``[...](target)`` links of ``text`` (a document in ROOT) whose file or ``#anchor`` does not exist."""
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        name, _, anchor = target.partition("#")
        if name and not (ROOT / name).exists():
            broken.append(f"{doc}: {target}")
        elif anchor:
            other = (ROOT / name).read_text(encoding="utf-8") if name else text
            if anchor not in {_anchor(h) for h in _headings(other)}:
                broken.append(f"{doc}: {target}")
    return broken


def unknown_flags(doc: str, text: str) -> list[str]:
    """``COMMAND --flag`` for each flag shown after ``handpose COMMAND`` (in a code span or block, lines joined)
    that the command's parser does not know."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    unknown = []
    joined = re.sub(r"\\?\s*\n\s*", " ", text)  # a command wrapped over lines (with or without a backslash)
    for m in re.finditer(r"handpose (\w+)([^`]*)", joined):
        command = sub.choices.get(m.group(1))
        if command is None:
            continue  # prose: "handpose renders", ...
        words = re.split(r" (?:handpose|python|torchrun|tensorboard|make) |[;|()]| then ", m.group(2))[0]
        unknown += [f"{doc}: {m.group(1)} {flag}" for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", words)
                    if flag not in command._option_string_actions]
    return unknown


FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)  # a code block, indented ones included
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
# a script's command: settings before it (VAR=value), the script (a bare ``bench_NAME.py`` or ``run_all.py`` is run from
# benchmarks/, after ``cd benchmarks``), then its words up to the next command or comment
SCRIPT = re.compile(r"((?:[A-Z_]+=(?:\"[^\"]*\"|\S+) +)*)(?:python3? +)?((?:benchmarks|scripts)/[\w.-]+\.(?:py|sh)|"
                    r"(?<=python )(?:bench_\w+|run_all)\.py)([^\n]*)")
MAKE = re.compile(r"(?:^|[;&(]|time) *make +((?:[\w-]+(?:=(?:\"[^\"]*\"|\S+))? *)+)", re.M)


def code_lines(text: str) -> list[str]:
    """The lines of ``text``'s code blocks (a line continued by a backslash joined to the next) and its code spans (a
    span wrapped over lines joined with spaces)."""
    lines = [line for block in FENCE.findall(text) for line in re.sub(r"\\\s*\n\s*", " ", block).splitlines()]
    return lines + [re.sub(r"\s*\n\s*", " ", span) for span in re.findall(r"`([^`]+)`", FENCE.sub("", text))]


def _command_words(rest: str) -> str:
    """The words of one command: up to the next command of the line (``&&``, ``|``, ``;``, ``then``) or a comment."""
    return re.split(r" (?:\|\||&&|[|;]|then) | #|;", rest)[0]


class _ParserBuiltError(Exception):
    """Raised in place of a script's ``parse_args``: the script has built its parser and goes no further."""


@functools.cache
def script_flags(path: str) -> frozenset[str] | None:
    """The option strings of ``path``'s (a Python file of the repository) argument parser, taken from the parser the
    script builds when run as ``__main__``, stopped at its ``parse_args``; None where the script has no parser."""
    if "parse_args" not in (ROOT / path).read_text(encoding="utf-8"):
        return None  # a helper module (corruptions.py): running it would do its work
    def built(parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> argparse.Namespace:
        raise _ParserBuiltError(parser)
    saved = sys.path[:], sys.argv[:], argparse.ArgumentParser.parse_args, dict(os.environ)  # bench_synth.py sets one
    sys.path[:0], sys.argv[:] = [str((ROOT / path).parent)], [path]
    argparse.ArgumentParser.parse_args = built  # type: ignore[method-assign]
    try:
        runpy.run_path(str(ROOT / path), run_name="__main__")
    except _ParserBuiltError as stop:
        return frozenset(stop.args[0]._option_string_actions)
    finally:
        sys.path[:], sys.argv[:], argparse.ArgumentParser.parse_args = saved[:3]  # type: ignore[method-assign]
        os.environ.clear()
        os.environ.update(saved[3])
    raise AssertionError(f"{path} ran to its end without parsing its arguments")


def stale_script_commands(doc: str, text: str) -> list[str]:
    """``benchmarks/...`` and ``scripts/...`` commands of ``text``'s code that name a script that is not there, a flag
    its parser does not know, or (a shell script) a setting (``VAR=value`` before it) it does not read; the flags of
    ``TRAIN_FLAGS="..."`` must be ``handpose train``'s."""
    train = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    stale = []
    for line in code_lines(text):
        for m in SCRIPT.finditer(line):
            settings, path, flags = m.group(1), m.group(2), FLAG.findall(_command_words(m.group(3)))
            path = path if "/" in path else f"benchmarks/{path}"
            if not (ROOT / path).is_file():
                stale.append(f"{doc}: {path} (no such script)")
            elif path.endswith(".sh"):
                source = (ROOT / path).read_text(encoding="utf-8")
                stale += [f"{doc}: {path} {var}=" for var in re.findall(r"([A-Z_]+)=", settings)
                          if not re.search(r"\$\{?" + var + r"\b", source)]
                extra = re.search(r"TRAIN_FLAGS=\"([^\"]*)\"", settings)
                stale += [f"{doc}: {path} TRAIN_FLAGS {flag}" for flag in FLAG.findall(extra.group(1) if extra else "")
                          if flag not in train._option_string_actions]
            else:
                known = script_flags(path) or frozenset()
                stale += [f"{doc}: {path} {flag}" for flag in flags if flag not in known]
    return stale


def stale_make_commands(doc: str, text: str) -> list[str]:
    """``make TARGET VAR=value`` in ``text``'s code whose target is not a Makefile rule or whose variable the Makefile
    does not use; the flags of ``DEMO_ARGS="..."`` must be ``handpose demo``'s."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    demo = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["demo"]
    stale = []
    for line in code_lines(text):
        for m in MAKE.finditer(line):
            for word in re.findall(r"[\w-]+(?:=(?:\"[^\"]*\"|\S+))?", m.group(1)):
                name, is_setting, value = word.partition("=")
                if not is_setting:
                    stale += [] if name in targets else [f"{doc}: make {name}"]
                elif "$(" + name + ")" not in makefile:
                    stale.append(f"{doc}: make {name}=")
                elif name == "DEMO_ARGS":
                    stale += [f"{doc}: make DEMO_ARGS {flag}" for flag in FLAG.findall(value)
                              if flag not in demo._option_string_actions]
    return stale


def missing_sections(doc: str, text: str) -> list[str]:
    """Titles named as (BENCHMARKS.md, "Title", "Other title" and "Third") that begin no BENCHMARKS.md heading."""
    headings = [re.sub(r"[`*]", "", h).strip().lower() for h in _headings((ROOT / "BENCHMARKS.md").read_text())]
    missing = []
    joined = re.sub(r"\s+", " ", text)
    for m in re.finditer(r"BENCHMARKS(?:\.md)?,? (?=\")", joined):
        rest = joined[m.end():]
        while q := re.match(r"\"([^\"]+)\"(,? (?:and |or )?)?", rest):
            if not any(h.startswith(q.group(1).lower()) for h in headings):
                missing.append(f"{doc}: {q.group(1)!r}")
            rest = rest[q.end():]
            if not q.group(2):
                break
    return missing


def _has(obj: Any, name: str) -> bool:
    """``obj.name`` exists, a dataclass field without a class-level default included."""
    return hasattr(obj, name) or (dataclasses.is_dataclass(obj) and name in {f.name for f in dataclasses.fields(obj)})


def _modules() -> list[str]:
    """Every module of the package, dotted (``handpose.inference.backends``), less ``__main__`` (importing it runs
    the command line)."""
    src = ROOT / "src"
    return [".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
            for p in sorted((src / "handpose").rglob("*.py")) if p.name != "__main__.py"]


def missing_names(doc: str, text: str, modules: list[str]) -> list[str]:
    """Code spans ``a.b.c`` that start with one of CLASSES or with the end of a handpose module's dotted name
    (``inference.backends.session_options``, ``contention.live_children_cpu_seconds``) and do not resolve; other
    dotted spans (``json.dumps``, ``np.cross``, file names) are not handpose's and are passed over."""
    missing = []
    for ref in sorted(set(re.findall(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)`", text))):
        parts = ref.split(".")
        if parts[-1] in FILE_SUFFIXES:
            continue  # a file: autotune.json, model.onnx
        if parts[0] in CLASSES:
            owner, rest = getattr(importlib.import_module(CLASSES[parts[0]]), parts[0]), parts[1:]
        else:
            found = [(m, i) for i in range(len(parts), 0, -1) for m in modules
                     if m == ".".join(parts[:i]) or m.endswith("." + ".".join(parts[:i]))]
            if not found:
                continue
            module, i = found[0]
            owner, rest = importlib.import_module(module), parts[i:]
        for name in rest:
            if not _has(owner, name):
                missing.append(f"{doc}: {ref}")
                break
            owner = getattr(owner, name, None)
    return missing


@pytest.mark.parametrize("doc", DOCS)
def test_every_handpose_name_exists(doc: str) -> None:
    assert not missing_names(doc, (ROOT / doc).read_text(encoding="utf-8"), _modules())


@pytest.mark.parametrize("doc", DOCS)
def test_every_link_reaches_a_file_and_heading(doc: str) -> None:
    assert not broken_links(doc, (ROOT / doc).read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", DOCS)
def test_every_flag_shown_is_a_flag_of_its_command(doc: str) -> None:
    assert not unknown_flags(doc, (ROOT / doc).read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", DOCS)
def test_every_script_command_shown_names_a_script_and_its_flags(doc: str) -> None:
    assert not stale_script_commands(doc, (ROOT / doc).read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", DOCS)
def test_every_make_command_shown_names_a_target_and_its_variables(doc: str) -> None:
    assert not stale_make_commands(doc, (ROOT / doc).read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", DOCS)
def test_every_benchmarks_section_named_exists(doc: str) -> None:
    assert not missing_sections(doc, (ROOT / doc).read_text(encoding="utf-8"))


def test_the_checks_find_drift() -> None:
    """Each check finds what it is for, so a wrong pattern cannot pass the documents on nothing."""
    text = ("# Top\n[a](#top) [b](#gone) [c](NO_SUCH_FILE.md) [d](https://example.com)\n"
            "`handpose train --max-steps 5 --no-such-flag` `handpose eval\n  --weights W --nor-this`\n"
            "```\nhandpose predict photo.jpg \\\n    --box 1,2,3,4 --boxx 1\nhandpose synth --out x --count 2\n```\n"
            '(BENCHMARKS.md, "Detection at two scales" and "No such section")\n')
    assert broken_links("t", text) == ["t: #gone", "t: NO_SUCH_FILE.md"]
    assert unknown_flags("t", text) == ["t: train --no-such-flag", "t: eval --nor-this", "t: predict --boxx"]
    assert missing_sections("t", text) == ["t: 'No such section'"]
    names = ("`RefineConfig.hand_threshold` `RefineConfig.no_field` `handpose.training.recipes` `json.dumps` "
             "`contention.live_children_cpu_seconds` `inference.backends.gone` `handpose.keypoints.NAMES` `a.json`")
    assert missing_names("t", names, _modules()) == ["t: RefineConfig.no_field", "t: inference.backends.gone"]


def test_the_script_and_make_checks_find_drift() -> None:
    """Each of the two checks finds what it is for, in a code block (indented, a line continued) and in code spans."""
    text = ("Run:\n  ```\n  python benchmarks/bench_refine.py --data D \\\n      --passes 2 --no-such-flag  # 3 s\n"
            "  python benchmarks/bench_gone.py --count 2\n"
            "  cd benchmarks && python bench_video.py --frames 1 --franes 2\n"
            "  make demo DEMO_ARGS=\"--real-data P --nor-this\"\n  ```\n"
            "`KP_STEPS=5 NO_SUCH=1 TRAIN_FLAGS=\"--amp --no-amp-flag\" scripts/release.sh runs/r` and\n"
            "`make bench-quick`, `make no-such-target TORCH_INDEX=x NOT_A_VAR=1`,\n"
            "`python scripts/onnx_hands.py d.onnx p.jpg --side 1 --sied 2` then\n"
            "`python benchmarks/run_all.py --quick | tail` and `scripts/ablation.sh OUT`\n")
    assert stale_script_commands("t", text) == [
        "t: benchmarks/bench_refine.py --no-such-flag", "t: benchmarks/bench_gone.py (no such script)",
        "t: benchmarks/bench_video.py --franes",
        "t: scripts/release.sh NO_SUCH=", "t: scripts/release.sh TRAIN_FLAGS --no-amp-flag",
        "t: scripts/onnx_hands.py --sied"]
    assert stale_make_commands("t", text) == ["t: make DEMO_ARGS --nor-this", "t: make no-such-target",
                                              "t: make NOT_A_VAR="]
