"""A resumed run's stored settings that earlier versions took and ``settings_checks`` now refuses, read as they ran.

Before the range checks (2026-12-07) ``--threads 0`` left PyTorch's thread count alone (as leaving the flag out
does) and ``--val-limit 0`` validated on no sample (so no validation ran and no best weights were written). A run
started with either stored it in its checkpoints, and ``--resume`` then refused the run, naming a flag the user had
not given. Read as what it did instead: ``threads`` None, and ``val_limit`` None with ``val_every`` 0. Flags given
with ``--resume`` apply after this, as for any stored setting.
"""

from __future__ import annotations

import dataclasses
import logging

from handpose.config import TrainConfig

LOG = logging.getLogger(__name__)


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
    return dataclasses.replace(stored, **changes) if changes else stored
