"""The documents hold to the code: every link of README.md, MODEL_CARD.md and BENCHMARKS.md reaches a file and
heading that exist, every flag of a ``handpose COMMAND ...`` they show is a flag of that command, every
BENCHMARKS.md section they name by its title is there, and every ``module.name`` / ``Class.field`` of handpose's
they name in code spans exists."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import re
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
