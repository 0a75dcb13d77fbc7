"""The detector's letterbox scales: the defaults for still images and the check of a user's list.

Apart from ``detection.detector`` (which loads torch) so that the commands' flags can name and check them without
loading it: ``handpose --help`` builds every command's parser."""

from __future__ import annotations

from collections.abc import Sequence

IMAGE_SCALES = (1.0, 2.0)  # still images: the plain letterbox and one twice its side (``detection.detector``)
MAX_SCALE = 8.0  # a letterbox of 8 x 320 px: a 2,560 px side, past any photo's need
MAX_SCALES = 4  # each scale is a full pass of the detector


def check_scales(scales: Sequence[float] | float) -> tuple[float, ...]:
    """The detector's letterbox scales as a tuple (one number, or one number's text, is one scale); ValueError for
    none, more than ``MAX_SCALES``, or one that is not a number in [1, ``MAX_SCALE``]."""
    listed = [scales] if isinstance(scales, (int, float, str)) else list(scales)  # "12" is one, not 1 and 2
    try:
        values = tuple(float(s) for s in listed)
    except (TypeError, ValueError):
        values = ()
    if not values or not all(1.0 <= s <= MAX_SCALE for s in values):  # also refuses NaN
        raise ValueError(f"detector scales must be one or more numbers in [1, {MAX_SCALE:g}] (1: the network's own "
                         f"input size), got {listed}")
    if len(values) > MAX_SCALES:
        raise ValueError(f"at most {MAX_SCALES} detector scales (each is a full pass of the detector), got "
                         f"{len(values)}")
    return values
