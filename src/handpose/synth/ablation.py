"""Switches that take one part of the GL renderer's realism away, for measuring what each part adds (``handpose
synth --ablate``). The default render uses every part; an ablated render is written and labelled like any other,
and its json files and manifest record what was taken away.

- ``lighting``: one white light at the camera and a fixed grey ambient, instead of a coloured key light, fill and
  rim lights and an ambient taken from the background's colours;
- ``backgrounds``: plain walls only, instead of photo crops, procedural scenes with people-like distractors and
  plain walls; occluders, a second hand and camera effects stay;
- ``pose-prior``: joint angles drawn uniformly within their limits (the capsule renderer's draw), instead of the
  prior of named hand shapes; no held objects, since those come with the grasp shapes.
"""

from __future__ import annotations

import numpy as np

from handpose.synth.view import Lighting

ABLATIONS: tuple[str, ...] = ("lighting", "backgrounds", "pose-prior")

HEADLIGHT_AMBIENT = 0.25  # linear grey of the ablated ambient


def parse_ablate(text: str | None) -> tuple[str, ...]:
    """Sorted, validated parts from a comma-separated list ('' or None: nothing ablated); ValueError names the
    parts that exist."""
    if not text:
        return ()
    parts = {p.strip() for p in text.split(",") if p.strip()}
    unknown = sorted(parts - set(ABLATIONS))
    if unknown:
        raise ValueError(f"--ablate: unknown part(s) {', '.join(unknown)}; choose from {', '.join(ABLATIONS)}")
    return tuple(p for p in ABLATIONS if p in parts)


def headlight() -> Lighting:
    """The ablated lighting: one white light at the camera (direction (0, 0, -1), towards the viewer) and a
    uniform grey ambient."""
    dirs = np.zeros((3, 3))
    cols = np.zeros((3, 3))
    dirs[0], cols[0] = np.array([0.0, 0.0, -1.0]), np.ones(3)
    amb = np.full(3, HEADLIGHT_AMBIENT)
    return Lighting(directions=dirs, colors=cols, ambient_top=amb, ambient_bottom=amb.copy())
