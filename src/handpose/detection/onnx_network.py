"""A hand detector exported to ONNX, run in onnxruntime behind the same call as the PyTorch network.

`OnnxDetectorNetwork` takes the (N, 3, S, S) float32 network input as a torch tensor and returns the four output
maps as torch tensors (``heatmap`` (N, 1, S/4, S/4), ``size`` and ``offset`` (N, 2, S/4, S/4), ``left`` (N, 1,
S/4, S/4)), so ``HandDetector`` decodes them exactly as it decodes PyTorch's. The detector's config comes from
the file's metadata (``handpose export`` of a detector writes it, with ``task=detect``). onnxruntime runs on the
CPU, or on CUDA where the caller asks for it and this onnxruntime has it (``inference.backends.onnx_providers``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from handpose.config import DetectorConfig
from handpose.detection.model import HEAD_CHANNELS

OUTPUT_NAMES: list[str] = list(HEAD_CHANNELS)  # heatmap, size, offset, left: the graph's outputs, in this order


class OnnxDetectorNetwork:
    """A detector ``.onnx`` file handpose exported, called like the network: tensor in, dict of maps out."""

    def __init__(self, path: str | Path, device: str | None = "cpu", threads: int | str | None = None) -> None:
        """``threads``: onnxruntime's intra-op threads (None: its default; "auto": the cores other processes leave
        free, ``autotune.free_cores``)."""
        import onnxruntime as ort

        from handpose.autotune.free_cores import SessionsByThreads, check_threads
        from handpose.inference.backends import onnx_providers, session_options
        from handpose.model.artifact import read_onnx_detector_config

        self.path = Path(path)
        self._made_with = (self.path, device, threads)  # a pickled copy opens its own session
        self.config: DetectorConfig = read_onnx_detector_config(self.path)
        providers, threads = onnx_providers(device), check_threads(threads)  # a bad setting: not onnxruntime's error
        try:
            self.sessions = SessionsByThreads(
                lambda n: ort.InferenceSession(str(self.path), session_options(n), providers=providers), threads,
                providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ValueError(f"onnxruntime cannot load {self.path}: {exc}") from exc
        self.session = self.sessions.first
        names = [o.name for o in self.session.get_outputs()]
        if sorted(names) != sorted(OUTPUT_NAMES):
            raise ValueError(f"{self.path}: a detector ONNX file has outputs {OUTPUT_NAMES}, this one has {names}")
        self.input_name = self.session.get_inputs()[0].name

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled (and deep-copied) as the file and settings it was made with: the copy opens its own session."""
        return type(self), self._made_with

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, S, S) float32 network input -> the output maps, each (N, C, S/4, S/4) float32 on the CPU."""
        feed = {self.input_name: np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)}
        maps = self.sessions.session().run(OUTPUT_NAMES, feed)
        return {name: torch.from_numpy(m) for name, m in zip(OUTPUT_NAMES, maps)}
