"""The 21 hand keypoints: names, order, skeleton and drawing colours (CMU / OpenPose order).

This module is the single source of truth for the keypoint layout. Every reader, the belief-map codec, the
network's output channels, the metrics and the drawings use these indices.
Channel ``k`` of the network output is keypoint ``k`` for ``k < 21``; channel ``BACKGROUND`` (21) is the
background map. A hand has no left/right joint pairs, so mirroring an image never swaps joint identities.
"""

from __future__ import annotations

NUM_KEYPOINTS: int = 21
NUM_MAPS: int = NUM_KEYPOINTS + 1  # 21 keypoints + background
BACKGROUND: int = NUM_KEYPOINTS

NAMES: tuple[str, ...] = (
    "wrist",
    "thumb1_cmc", "thumb2_mcp", "thumb3_ip", "thumb4_tip",
    "index1_mcp", "index2_pip", "index3_dip", "index4_tip",
    "middle1_mcp", "middle2_pip", "middle3_dip", "middle4_tip",
    "ring1_mcp", "ring2_pip", "ring3_dip", "ring4_tip",
    "pinky1_mcp", "pinky2_pip", "pinky3_dip", "pinky4_tip",
)

# finger index per keypoint (-1 for the wrist)
FINGER_OF: tuple[int, ...] = (-1,) + tuple(f for f in range(5) for _ in range(4))

# the chain of each finger, wrist first: (0, 1, 2, 3, 4), (0, 5, 6, 7, 8), ...
FINGER_CHAINS: tuple[tuple[int, ...], ...] = tuple((0,) + tuple(range(1 + 4 * f, 5 + 4 * f)) for f in range(5))

# 20 bones as (parent, child) pairs
SKELETON: tuple[tuple[int, int], ...] = tuple(
    (chain[i], chain[i + 1]) for chain in FINGER_CHAINS for i in range(len(chain) - 1)
)

TIPS: tuple[int, ...] = (4, 8, 12, 16, 20)

# one BGR colour per finger (OpenCV order), the wrist in white
FINGER_COLORS_BGR: tuple[tuple[int, int, int], ...] = (
    (0, 0, 255),  # thumb: red
    (0, 200, 255),  # index: yellow-orange
    (0, 200, 0),  # middle: green
    (255, 160, 0),  # ring: light blue
    (255, 0, 200),  # pinky: magenta
)
WRIST_COLOR_BGR: tuple[int, int, int] = (255, 255, 255)


def keypoint_color_bgr(k: int) -> tuple[int, int, int]:
    """The drawing colour of keypoint ``k``."""
    f = FINGER_OF[k]
    return WRIST_COLOR_BGR if f < 0 else FINGER_COLORS_BGR[f]


def bone_color_bgr(child: int) -> tuple[int, int, int]:
    """The drawing colour of the bone ending at keypoint ``child``."""
    return FINGER_COLORS_BGR[FINGER_OF[child]]


# RHD and other tip-first datasets: handpose index i takes RHD index RHD_TO_CMU[i]
RHD_TO_CMU: tuple[int, ...] = (0, 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13, 20, 19, 18, 17)
