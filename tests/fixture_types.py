"""Type names of the suite's shared fixtures, so test signatures stay short and typed."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from handpose.autotune.free_cores import FreeCores
from handpose.config import TrainConfig
from handpose.detection.task import DetectTask

# conftest's tiny_cpm: a function of the seed that builds a tiny untrained CPM
TinyCpm = Callable[[int], Any]
# test_free_cores' governed: a function of fake CPU-share readings that builds a FreeCores governor
Governed = Callable[[list[float | None]], FreeCores]
# test_detect_end_to_end's trained: the briefly trained detector, its training settings and its task
TrainedDetector = tuple[torch.nn.Module, TrainConfig, DetectTask]
