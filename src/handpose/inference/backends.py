"""Backends: run the network on a float32 batch of crops, in PyTorch or in onnxruntime.

Both return belief maps ``(S, N, 22, h, w)``: every stage's maps when asked for (PyTorch), else the last stage's
only (S = 1; an exported ONNX file has only the last stage).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from handpose.inference.eval_mode import eval_mode

LOG = logging.getLogger(__name__)


class Backend(Protocol):
    """Runs the network on a float32 batch (N, 3, H, W); returns maps (S, N, 22, h, w), S = 1 unless all stages."""

    stages: int  # stages the backend can return

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray: ...


class TorchBackend:
    """A CPM in PyTorch, run where its parameters live (the caller's model is never moved or left in eval mode, also
    when several threads call at once).

    ``precision`` (fp32, tf32, bf16, fp16; ``autocast_bf16`` is the older spelling of bf16) and ``channels_last``
    are the speed settings (``handpose.autotune`` picks them by measurement); with ``channels_last`` the backend
    runs its own channels-last copy of the model.
    """

    def __init__(self, model: Any, autocast_bf16: bool = False, precision: str | None = None,
                 channels_last: bool = False, threads: int | str | None = None) -> None:
        """``threads``: "auto" follows the cores other processes leave free (``autotune.free_cores``); None or an
        int leave PyTorch's threads to the process."""
        import torch

        from handpose.autotune.free_cores import check_threads

        self.threads = check_threads(threads)
        self.channels_last = bool(channels_last)
        self.model = copy.deepcopy(model).to(memory_format=torch.channels_last) if self.channels_last else model
        self.stages = int(model.config.stages)
        self.precision = precision or ("bf16" if autocast_bf16 else "fp32")
        self.autocast_bf16 = self.precision == "bf16"

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
        import torch

        from handpose.autotune.free_cores import sync_torch
        from handpose.autotune.precision import precision

        sync_torch(self.threads)
        param = next(self.model.parameters())
        with eval_mode(self.model), torch.inference_mode():  # eval mode while any call on this network runs
            inp = torch.from_numpy(np.ascontiguousarray(x)).to(param.device)  # (N, 3, H, W)
            if self.channels_last:
                inp = inp.contiguous(memory_format=torch.channels_last)
            with precision(self.precision, param.device.type):
                outs = self.model(inp)  # S x (N, 22, h, w)
            chosen = outs if all_stages else outs[-1:]
            return torch.stack([o.float() for o in chosen]).cpu().numpy()  # (S, N, 22, h, w)


_WARNED_DEVICES: set[str] = set()  # devices already warned about in this process


def onnx_providers(device: str | None) -> list[Any]:
    """onnxruntime's execution providers for ``device``: CUDA (then CPU) for ``cuda`` / ``cuda:N`` where this
    onnxruntime has it, else the CPU, with one warning where another device was asked for (``mps`` on a Mac, which
    ran on the CPU without a word; ``auto`` asks for none in particular)."""
    import onnxruntime as ort

    dev = str(device or "cpu")
    if not dev.startswith("cuda"):
        if dev.split(":", 1)[0] not in ("cpu", "auto") and dev not in _WARNED_DEVICES:
            _WARNED_DEVICES.add(dev)
            LOG.warning("device %s: handpose runs ONNX models in onnxruntime on the CPU or CUDA only; running the "
                        "ONNX model on the CPU (a .safetensors model runs in PyTorch on %s)", dev, dev)
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        if dev in _WARNED_DEVICES:  # the keypoint model and the detector: one warning
            return ["CPUExecutionProvider"]
        _WARNED_DEVICES.add(dev)
        LOG.warning("device %s: this onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu); running "
                    "the ONNX model on the CPU", dev)
        return ["CPUExecutionProvider"]
    index = int(dev.split(":", 1)[1]) if ":" in dev else 0
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def session_options(threads: int | None = None, stop_spinning: bool = True) -> Any:
    """onnxruntime session options: ``threads`` intra-op threads (onnxruntime's default where None) and, with
    ``stop_spinning``, threads whose spinning stops at the end of each run. Where sessions run in turn (the
    detector, then the keypoint network, PyTorch and OpenCV between them) a session's threads left spinning after
    its run take the cores the next one needs; a session run back to back on its own is faster spinning, as
    onnxruntime does by default (BENCHMARKS.md, "onnxruntime threads between runs")."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    if stop_spinning:
        opts.add_session_config_entry("session.force_spinning_stop", "1")
    return opts


class OnnxBackend:
    """An exported handpose ONNX file in onnxruntime (input ``image``, output ``out`` = the last stage's maps), on
    the CPU or, with ``device="cuda"``, onnxruntime's CUDA provider where it has one (the CPU otherwise, warned).

    The input shape is read at load time. A file exported with a fixed batch (``export_onnx(..., dynamic=False)``,
    ``handpose export --static-shape``: 1 x 3 x S x S) is run a fixed-size chunk at a time, so flip test and
    batches still work; a fixed height and width cannot be changed, so other input sizes raise ValueError.
    """

    stages = 1

    def __init__(self, path: str | Path, threads: int | str | None = None, device: str | None = "cpu",
                 stop_spinning: bool = False) -> None:
        """``threads``: intra-op threads (None: onnxruntime's default; "auto": the cores other processes leave free,
        ``autotune.free_cores``). ``stop_spinning``: stop the threads' spinning at the end of each run
        (``session_options``), for a network that takes turns with another one (the keypoint network after a
        detector)."""
        import onnxruntime as ort

        from handpose.autotune.free_cores import SessionsByThreads

        self.path = Path(path)
        self._made_with = (self.path, threads, device, stop_spinning)  # a pickled copy opens its own session
        providers = onnx_providers(device)
        self.sessions = SessionsByThreads(
            lambda n: ort.InferenceSession(str(path), session_options(n, stop_spinning), providers=providers),
            threads, providers)
        self.session = self.sessions.first
        self.device = "cpu"
        if len(providers) > 1:  # CUDA asked for: onnxruntime drops it silently when its CUDA libraries do not load
            if "CUDAExecutionProvider" in self.session.get_providers():
                self.device = str(device)
            else:
                LOG.warning("device %s: onnxruntime could not start CUDA (see its log); running the ONNX model "
                            "on the CPU", device)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name
        # (N, C, H, W): an int where the file fixes that axis, None where it is dynamic
        self.input_shape: tuple[int | None, ...] = tuple(
            d if isinstance(d, int) and d > 0 else None for d in (inp.shape or ())
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled (and deep-copied) as the file and settings it was made with: the copy opens its own session."""
        return type(self), self._made_with

    @property
    def fixed_batch(self) -> int | None:
        """The batch size the file was exported with, or None for a dynamic batch."""
        return self.input_shape[0] if self.input_shape else None

    def _shape_text(self) -> str:
        return "(" + ", ".join("any" if d is None else str(d) for d in self.input_shape) + ")"

    def check_sizes(self, sizes: Sequence[int]) -> None:
        """ValueError unless the file takes square inputs of every side in ``sizes`` (one per test-time scale)."""
        fixed_hw = self.input_shape[2:4] if len(self.input_shape) == 4 else ()
        for side in sizes:
            if any(d is not None and d != side for d in fixed_hw):
                raise ValueError(
                    f"{self.path}: the ONNX model has a fixed input shape {self._shape_text()} but the crop at "
                    f"this scale is {side} x {side} px; use scale 1.0 only, or export without --static-shape "
                    "(dynamic=True) to run other sizes"
                )

    def _check_input(self, x: np.ndarray) -> None:
        """ValueError naming the file, the expected and the given shape when ``x`` cannot go through the file
        (a different channel count, height or width; the batch is handled by :meth:`__call__`)."""
        expected = self.input_shape
        if not expected:
            return
        fits = x.ndim == len(expected) and all(d is None or d == g for d, g in zip(expected[1:], x.shape[1:]))
        if not fits:
            static = " (exported with a static shape)" if all(d is not None for d in expected[1:]) else ""
            raise ValueError(
                f"{self.path}: the ONNX model takes input of shape {self._shape_text()}{static}, "
                f"got {tuple(x.shape)}"
            )

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)  # (N, 3, H, W)
        self._check_input(x)
        batch = self.fixed_batch
        session = self.sessions.session()
        if batch is None or batch == x.shape[0]:
            out = session.run([self.output_name], {self.input_name: x})[0]
            return out[None]  # (1, N, 22, h, w)
        n = x.shape[0]
        chunks = []
        for start in range(0, n, batch):
            part = x[start : start + batch]  # (<= batch, 3, H, W)
            if part.shape[0] < batch:  # pad the last chunk with copies of its last crop; their maps are dropped
                part = np.concatenate([part, np.repeat(part[-1:], batch - part.shape[0], axis=0)])
            chunks.append(session.run([self.output_name], {self.input_name: part})[0])
        return np.concatenate(chunks)[None, :n]  # (1, N, 22, h, w)


