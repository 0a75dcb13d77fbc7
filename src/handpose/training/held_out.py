"""How many hands validation holds: with a few, each moves PCK (or AP) by a large step, so the validation figures
and the step ``best.safetensors`` keeps are chance; training says so once at the start, with what to do."""

from __future__ import annotations

import logging

LOG = logging.getLogger(__name__)

FEW_HANDS = 10  # held-out hands below which one hand moves a validation figure by more than a tenth


def warn_if_few(data: str, hands: int, val_fraction: float, where: str = "", metric: str = "PCK@0.2",
                own_part: bool = False) -> bool:
    """Warn when 1 to ``FEW_HANDS - 1`` hands are held out for validation (none has its own warning); True when it
    warned. ``where``: the held-out part in words, e.g. "in 3 images", for the detector; ``metric``: the validation
    figure that picks best.safetensors (the keypoint model's PCK@0.2, the detector's AP@0.5); ``own_part``: every
    held-out hand is the dataset's own test part (CMU's manual_test, a json named for val or test), which
    --val-fraction does not change, so the advice is to label more hands there."""
    if not 0 < hands < FEW_HANDS:
        return False
    more = ("they are the dataset's own test part (CMU's manual_test, a json named for val or test), which "
            "--val-fraction does not change: label more hands there" if own_part else
            f"hold more out (--val-fraction, now {val_fraction:g}), or give a json named for val or test beside the "
            "training one")
    LOG.warning("%s: only %d hand%s held out for validation%s: each moves its %s by about %.2f, so the validation "
                "figures and the step best.safetensors keeps are chance; %s, and compare models with handpose eval "
                "on more hands", data, hands, "" if hands == 1 else "s", where and f" ({where})", metric,
                1.0 / hands, more)
    return True
