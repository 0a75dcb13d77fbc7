"""A resumed run's stored settings as earlier versions meant them: values ``settings_checks`` now refuses, and input
paths recorded as typed.

Before the range checks (2026-12-07) ``--threads 0`` left PyTorch's thread count alone (as leaving the flag out
does) and ``--val-limit 0`` validated on no sample (so no validation ran and no best weights were written). A run
started with either stored it in its checkpoints, and ``--resume`` then refused the run, naming a flag the user had
not given. Read as what it did instead: ``threads`` None, and ``val_limit`` None with ``val_every`` 0. Likewise
``--grad-clip -1`` did not clip (``grad_clip`` 0), ``--lr-step-size 0`` decayed every third of the run (``None``),
and a setting out of range that the run never used (``--lr-gamma`` / ``--lr-step-size`` outside the step schedule,
``--min-lr-ratio`` outside the cosine one, ``--momentum`` with adam) is put back to its default. ``--val-limit -N``
validated on all held-out samples but the last N, which no setting does now: it resumes on all of them, with a
warning. Flags given with ``--resume`` apply after this, as for any stored setting.

Before 2026-12-06 ``--data``, ``--negatives`` and ``--init`` were stored as typed, so a relative one meant a path
under the folder the run was started in, and ``--resume`` from any other folder read whatever that name meant there
(or nothing). That folder is found again where the stored ``--out``, relative as typed, leads to the run folder.

Before 2026-12-07 runs recorded no ``split_rule``: their split is rule 1 (:func:`split_as_started`), under which a
detector's lone ``*_train.json`` held nothing out; resumed on today's rule it would validate on images it trained on.
Before 2026-12-06 the keypoint task's hash split took hand by hand (rule 0), where it now takes whole images: a run
on a dataset of several hands an image (COCO, scenes) resumed on the image split would validate on hands it trained
on. Its checkpoints are known by a key written since 2026-12-06 16:15 (``schedule_stretches``) that they lack; a
run started between 13:50 and 16:15 that day is read as rule 0 too.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handpose.config import TrainConfig, from_dict
from handpose.training.settings_checks import RULES

STRETCHES_KEY = "schedule_stretches"  # a checkpoint key written since 2026-12-06 16:15, after the split by image

# setting: (the field that decides whether the run used it, the values with which it did)
USED_WHEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "lr_gamma": ("schedule", ("step",)),
    "lr_step_size": ("schedule", ("step",)),
    "min_lr_ratio": ("schedule", ("cosine",)),
    "momentum": ("optimizer", ("sgd",)),
}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}

LOG = logging.getLogger(__name__)


def settings_as_started(stored: dict, run_dir: Path, checkpoint: Mapping[str, Any] | None = None) -> TrainConfig:
    """A checkpoint's ``train_config`` as the run that wrote it into ``run_dir`` meant it: its split rule
    (:func:`split_as_started`, from the whole ``checkpoint`` where given), its values (:func:`as_it_ran`) and its
    input paths (:func:`paths_as_started`)."""
    return paths_as_started(as_it_ran(from_dict(TrainConfig, split_as_started(stored, checkpoint))), run_dir)


def as_it_ran(stored: TrainConfig) -> TrainConfig:
    """``stored`` (a checkpoint's settings) with the values earlier versions took and today's checks refuse
    replaced by the settings that do what they did; each replacement is logged."""
    changes: dict[str, object] = {}
    if stored.threads == 0:
        changes["threads"] = None
        LOG.info("the run was started with --threads 0, which left PyTorch's thread count alone: resumed without "
                 "--threads, which does the same")
    if stored.val_limit == 0:
        changes.update(val_limit=None, val_every=0)
        LOG.info("the run was started with --val-limit 0, which validated on no sample: resumed with --val-every 0, "
                 "which does the same (give --val-every N with --resume to validate)")
    if stored.grad_clip < 0:
        changes["grad_clip"] = 0.0
        LOG.info("the run was started with --grad-clip %g, which clipped nothing: resumed with --grad-clip 0, which "
                 "does the same", stored.grad_clip)
    if stored.lr_step_size == 0:
        changes["lr_step_size"] = None
        LOG.info("the run was started with --lr-step-size 0, which decayed every third of the run: resumed without "
                 "--lr-step-size, which does the same")
    for name, (decides, used_with) in USED_WHEN.items():
        flag, holds, _ = RULES[name]
        value = changes.get(name, getattr(stored, name))
        if value is not None and getattr(stored, decides) not in used_with and not holds(value):
            changes[name] = _DEFAULTS[name]
            LOG.info("the run was started with %s %g, which its %s %s did not use: resumed with its default",
                     flag, value, decides, getattr(stored, decides))
    if stored.val_limit is not None and stored.val_limit < 0:
        changes["val_limit"] = None
        LOG.warning("the run was started with --val-limit %d, which validated on all held-out samples but the last "
                    "%d; no setting does that now, so it resumes validating on all of them (give --val-limit N with "
                    "--resume for the first N): its best weights were chosen on slightly fewer samples",
                    stored.val_limit, -stored.val_limit)
    return dataclasses.replace(stored, **changes) if changes else stored


def split_as_started(stored: dict, checkpoint: Mapping[str, Any] | None = None) -> dict:
    """A checkpoint's stored ``train_config`` with the split rule it started with where it records none (every
    version before the rule was recorded, see the module): 0 where the whole ``checkpoint`` also lacks
    ``STRETCHES_KEY`` (written before 2026-12-06 16:15, the hand-by-hand split), else 1."""
    if not isinstance(stored, dict) or "split_rule" in stored:
        return stored
    return {**stored, "split_rule": 0 if checkpoint is not None and STRETCHES_KEY not in checkpoint else 1}


def paths_as_started(stored: TrainConfig, run_dir: Path) -> TrainConfig:
    """``stored`` with its relative input paths (``data``, ``negatives``, ``init``: recorded as typed by earlier
    versions) joined to the folder the run was started in, found from the stored relative ``out`` and ``run_dir``
    (the resolved run folder); unchanged where ``out`` is absolute or does not lead to ``run_dir``, and a path that
    is not there (a bare shipped model's name for ``init``) as it was."""
    names = [n for n in ("data", "negatives", "init") if _relative_path(getattr(stored, n))]
    out = os.path.normpath(stored.out)
    if not names or os.path.isabs(out) or ".." in Path(out).parts:
        return stored
    start = run_dir
    for part in reversed(Path(out).parts):
        if start.name != part:
            return stored
        start = start.parent
    changes = {n: str(start / getattr(stored, n)) for n in names if (start / getattr(stored, n)).exists()}
    for name, path in changes.items():
        LOG.info("the run recorded --%s %s as typed where it was started (%s): reading %s", name,
                 getattr(stored, name), start, path)
    return dataclasses.replace(stored, **changes) if changes else stored


def _relative_path(path: str | None) -> bool:
    """Whether ``path`` is a relative file path (not None, not ``pretrained:NAME`` or ``~/...``)."""
    from handpose import pretrained

    return (isinstance(path, str) and bool(path) and not os.path.isabs(path) and not path.startswith("~")
            and not path.startswith(pretrained.PREFIX))
