"""Keypoint orders of other datasets and their remapping to handpose's CMU / OpenPose order (``keypoints.NAMES``).

An order is an index array ``remap`` with ``cmu[i] = theirs[remap[i]]``. Names (``keypoint_order`` of
``read_samples`` / ``load_splits``, ``--keypoint-order`` on the command line):

* ``cmu`` (aliases ``openpose``, ``mediapipe``, ``coco_wholebody``, ``onehand10k``, ``freihand``): wrist, then each
  finger from its base to its tip, thumb first. The default.
* ``rhd``: the Rendered Hand Pose dataset's order, wrist then each finger from its tip to its base
  (``keypoints.RHD_TO_CMU``); MMPose's RHD COCO files keep it. A COCO json whose file name has the word ``rhd``
  (``rhd_train.json``) is read in this order unless another is named (``coco_files.order_of_file``).
* ``interhand``: InterHand2.6M's order per hand, each finger tip first, thumb first, wrist last.
"""

from __future__ import annotations

import numpy as np

from handpose.keypoints import NUM_KEYPOINTS, RHD_TO_CMU

# InterHand2.6M per hand: 0-3 thumb tip..base, 4-7 index, 8-11 middle, 12-15 ring, 16-19 pinky, 20 wrist.
INTERHAND_TO_CMU: tuple[int, ...] = (20, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16)

ORDERS: dict[str, tuple[int, ...]] = {
    "cmu": tuple(range(NUM_KEYPOINTS)),
    "rhd": RHD_TO_CMU,
    "interhand": INTERHAND_TO_CMU,
}
ALIASES: dict[str, str] = {name: "cmu" for name in ("openpose", "mediapipe", "coco_wholebody", "onehand10k",
                                                     "freihand")}


def canonical_order(name: str) -> str:
    """The name in ``ORDERS`` of an order or its alias; ValueError listing the known names otherwise."""
    name = ALIASES.get(name.lower(), name.lower())
    if name not in ORDERS:
        raise ValueError(f"unknown keypoint order {name!r}; known orders: {', '.join(ORDERS)} "
                         f"(aliases of cmu: {', '.join(ALIASES)})")
    return name


def to_cmu(kp: np.ndarray, order: str) -> np.ndarray:
    """(..., 21, 3) keypoints in ``order`` -> the same hands in CMU order (a copy; CMU order is returned as is)."""
    if order == "cmu":
        return kp
    return kp[..., list(ORDERS[order]), :]
