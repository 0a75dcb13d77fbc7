"""The synthetic hand generator: articulated 3D hands rendered into random scenes, in the hand_labels_synth format.

``write_dataset`` writes a dataset folder; ``render_sample`` renders one sample in memory.
"""

from __future__ import annotations

from handpose.synth.generate import SYNTH_VERSION, SynthSample, render_sample
from handpose.synth.writer import write_dataset

__all__ = ["SYNTH_VERSION", "SynthSample", "render_sample", "write_dataset"]
