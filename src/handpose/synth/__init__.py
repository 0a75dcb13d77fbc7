"""The synthetic hand generator: articulated 3D hands rendered into random scenes, in the hand_labels_synth format.

``write_dataset`` writes a dataset folder of one-hand crops; ``write_scenes`` writes full images with several hands
and one COCO keypoint json; ``render_sample`` renders one sample in memory. ``RENDERER_VERSION`` changes whenever
the same seed renders different pixels (cache keys hold it, with the renderer that ran: ``resolve_renderer``).
"""

from __future__ import annotations

from handpose.synth.generate import RENDERER_VERSION, SYNTH_VERSION, SynthSample, render_sample
from handpose.synth.gl_context import resolve_renderer
from handpose.synth.scenes import write_scenes
from handpose.synth.writer import write_dataset

__all__ = ["RENDERER_VERSION", "SYNTH_VERSION", "SynthSample", "render_sample", "resolve_renderer", "write_dataset",
           "write_scenes"]
