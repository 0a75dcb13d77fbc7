"""Speed settings chosen by measurement (``--amp auto``, ``--channels-last auto``): see :mod:`.choice` for the
rule and the cache, :mod:`.trials` for the measurements, :mod:`.precision` for running code under a choice.

A package rather than one module because the rule (plain data and JSON, testable with fake timings) and the
measurements (models, tensors) are separate concerns; it sits beside ``training/`` and ``inference/`` because both
use it."""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it; loaded on first use, so that importing a light part of the package
# (free_cores, for every command's --threads flag) does not load torch, and ``handpose --help`` stays fast. The
# ``precision`` context manager is imported from its module (``handpose.autotune.precision.precision``): loaded
# lazily, the package's ``precision`` is the submodule, which the import binds on it
_WHERE = {"Choice": "choice", "Trial": "choice", "TrialKey": "choice", "candidates": "choice", "choose": "choice",
          "trial_key": "choice", "infer_measure": "trials", "train_measure": "trials"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
