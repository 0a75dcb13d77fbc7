"""Speed settings chosen by measurement (``--amp auto``, ``--channels-last auto``): see :mod:`.choice` for the
rule and the cache, :mod:`.trials` for the measurements, :mod:`.precision` for running code under a choice.

A package rather than one module because the rule (plain data and JSON, testable with fake timings) and the
measurements (models, tensors) are separate concerns; it sits beside ``training/`` and ``inference/`` because both
use it."""

from handpose.autotune.choice import Choice, Trial, TrialKey, candidates, choose, trial_key
from handpose.autotune.precision import precision
from handpose.autotune.trials import infer_measure, train_measure

__all__ = ["Choice", "Trial", "TrialKey", "candidates", "choose", "infer_measure", "precision", "train_measure",
           "trial_key"]
