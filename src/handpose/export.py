"""ONNX export with a proven parity check: inference-only graph, preprocessing recorded in the file's metadata.

The graph takes ``image`` (N x 3 x H x W float32, the output of ``transforms.to_network_input``; batch, height and
width are dynamic unless ``dynamic=False``) and returns ``out``: the last stage's belief maps
(N x 22 x ceil(H/stride) x ceil(W/stride), stride 8 or 4). Intermediate stages are training-only and left out. The
metadata (``metadata_props``) records the model config, the data config (input size, stride, box padding, left-hand
mirroring), the preprocessing (``transforms.PREPROCESS``) and the keypoint names, so
:class:`handpose.inference.predictor.Predictor` and other runtimes can use the file alone.

The exporter is TorchScript-based (``torch.onnx.export(..., dynamo=False)``): the dynamo exporter needs the
``onnxscript`` package, which handpose does not depend on. Before declaring success the file is run in
onnxruntime against PyTorch on a real-looking crop at the model's size (batch of two) and on a second, odd size
(proving the dynamic axes), and the largest absolute difference of the maps is reported; above the tolerance the
export fails with ``RuntimeError``.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.config import DataConfig
from handpose.data.transforms import to_network_input
from handpose.files import atomic_write
from handpose.model.artifact import check_stride, default_data_config, onnx_metadata

LOG = logging.getLogger(__name__)

# torch's exporter keeps its state in module globals (and the warning filters are the process's): two exports at once
# in one process failed ("GLOBALS.in_onnx_export must be False"), so every export in handpose takes this lock
EXPORTING = threading.Lock()

DEFAULT_OPSET = 17
# opsets the TorchScript exporter writes (20 is its highest) and that hold every operator of the CPM as exported
# (13: Resize / Pad as inputs, the floor handpose tests); onnxruntime runs them all
MIN_OPSET, MAX_OPSET = 13, 20
DEFAULT_TOLERANCE = 1e-3  # largest absolute difference of belief maps (values ~[0, 1]) between PyTorch and ORT


@dataclass
class ExportReport:
    """What :func:`export_onnx` wrote and how well it matches PyTorch."""

    path: Path
    max_abs_diff: float  # over both parity inputs
    shapes_checked: list[tuple[int, ...]]
    keypoint_diff_px: float  # mean keypoint distance (crop px) between PyTorch and onnxruntime decodes
    exporter: str = "torchscript (dynamo=False)"


def sample_crops(size: int, count: int = 2, seed: int = 0) -> np.ndarray:
    """(count, size, size, 3) uint8 hand-like test crops: a skin-coloured palm and fingers on a textured background.

    Used when no real image is given, so that the parity check sees natural image statistics (smooth regions,
    edges) rather than uniform noise.
    """
    import cv2

    rng = np.random.default_rng(seed)
    out = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
        bg = np.stack([60 + 120 * xx, 80 + 100 * yy, 140 - 60 * xx * yy], axis=-1)
        bg += rng.normal(0, 8, bg.shape)
        img = np.clip(bg, 0, 255).astype(np.uint8)
        c = np.array([size * 0.5, size * 0.62]) + rng.normal(0, size * 0.03, 2)
        skin = tuple(int(v) for v in (rng.uniform(90, 140), rng.uniform(140, 180), rng.uniform(190, 230)))
        r = size * 0.16
        cv2.circle(img, (int(c[0]), int(c[1])), int(r), skin, -1, cv2.LINE_AA)
        for f in range(5):
            a = math.radians(-150 + 30 * f + rng.normal(0, 5))
            tip = c + np.array([math.cos(a), math.sin(a)]) * size * rng.uniform(0.28, 0.38)
            cv2.line(img, (int(c[0]), int(c[1])), (int(tip[0]), int(tip[1])), skin, max(2, size // 22), cv2.LINE_AA)
        out[i] = cv2.GaussianBlur(img, (3, 3), 0)
    return out


class _LastStage:
    """Builds the torch module wrapper lazily (torch is imported only when exporting)."""

    @staticmethod
    def wrap(model: Any) -> Any:
        from torch import nn

        class LastStage(nn.Module):
            """Inference graph: the last stage's maps only."""

            def __init__(self, cpm: nn.Module) -> None:
                super().__init__()
                self.cpm = cpm

            def forward(self, image: Any) -> Any:
                return self.cpm(image)[-1]  # (N, 22, H/8, W/8)

        return LastStage(model).eval()


def export_onnx(
    model: Any,
    out: str | Path,
    data_cfg: DataConfig | None = None,
    opset: int = DEFAULT_OPSET,
    tolerance: float = DEFAULT_TOLERANCE,
    check_crops: np.ndarray | None = None,
    dynamic: bool = True,
    extra_metadata: dict[str, str] | None = None,
    split_known: bool | None = None,
) -> ExportReport:
    """Export ``model`` (a CPM) to ``out`` and prove parity in onnxruntime.

    The export runs on a float32 CPU copy in eval mode; ``model`` itself is left as it was (mode, device, dtype).

    Args:
        data_cfg: the crop settings to record (default: the model's input size, default padding).
        split_known: whether ``data_cfg.val_fraction`` is the share the model's training held out (default: where
            ``data_cfg`` is given); else the file records none (``artifact.onnx_metadata``).
        check_crops: (N, S, S, 3) uint8 crops for the parity check (default: :func:`sample_crops`).
        dynamic: dynamic batch / height / width axes (False: fixed 1 x 3 x S x S, e.g. for runtimes without
            shape inference).
    Raises:
        RuntimeError: onnxruntime's maps differ from PyTorch's by more than ``tolerance``.
    """
    import onnx
    import torch

    check_opset(opset)
    check_tolerance(tolerance)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    split_known = data_cfg is not None if split_known is None else split_known
    data_cfg = data_cfg or default_data_config(model.config)
    check_stride(data_cfg, model.config)
    size = int(data_cfg.input_size)
    model = copy.deepcopy(model).float().cpu().eval()  # a copy: the caller's mode, device and dtype stay as they are
    wrapper = _LastStage.wrap(model)
    dummy = torch.from_numpy(to_network_input(sample_crops(size, 1)))  # (1, 3, S, S)
    dynamic_axes = (
        {"image": {0: "batch", 2: "height", 3: "width"}, "out": {0: "batch", 2: "out_height", 3: "out_width"}}
        if dynamic
        else None
    )

    def write(tmp: Path) -> None:
        with EXPORTING, torch.inference_mode(), warnings.catch_warnings():
            # the TorchScript exporter announces its deprecation; it is the one that works without onnxscript
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                wrapper,
                (dummy,),
                str(tmp),
                input_names=["image"],
                output_names=["out"],
                dynamic_axes=dynamic_axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        add_metadata(proto, onnx_metadata(model, data_cfg, extra_metadata, split_known))
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        report[:] = parity_check(model, tmp, inputs, int(data_cfg.stride))
        if report[0] > tolerance:  # checked before the file takes the target's name
            raise RuntimeError(
                f"ONNX parity check failed for {out}: largest absolute difference {report[0]:.3g} > tolerance "
                f"{tolerance:g}; nothing was written there (an earlier file is unchanged)"
            )

    crops = check_crops if check_crops is not None else sample_crops(size, 2)
    inputs = [to_network_input(crops if dynamic else crops[:1])]  # (N, 3, S, S); a static graph takes N = 1
    if dynamic:
        odd = max(int(model.config.input_size) // 2 + 20, 24)
        inputs.append(to_network_input(sample_crops(odd, 1, seed=1))[:, :, :, : odd - 9])  # (1, 3, H, W), W != H
    report: list[Any] = []
    atomic_write(out, write)  # a failed, rejected or interrupted export leaves the earlier file (if any) as it was
    LOG.info("wrote %s (opset %d, %.1f MB)", out, opset, out.stat().st_size / 1e6)
    return ExportReport(out, report[0], [tuple(x.shape) for x in inputs], report[1])


def check_tolerance(tolerance: float) -> None:
    """ValueError for a NaN ``tolerance``: no difference compares above NaN, so every export would pass unchecked
    (a negative one is allowed here, as a check that nothing passes; the command asks for one >= 0)."""
    if math.isnan(float(tolerance)):
        raise ValueError(f"parity tolerance {tolerance}: give a number (the largest allowed |onnx - torch|)")


def check_opset(opset: int) -> None:
    """ValueError naming ``--opset`` unless ``opset`` is in [MIN_OPSET, MAX_OPSET]."""
    if not MIN_OPSET <= int(opset) <= MAX_OPSET:
        raise ValueError(f"--opset {opset}: handpose exports opsets {MIN_OPSET} to {MAX_OPSET} (the TorchScript "
                         f"exporter's range for this model; default {DEFAULT_OPSET})")


def add_metadata(proto: Any, meta: dict[str, str]) -> None:
    """Set (replace) ``metadata_props`` entries of an ONNX ModelProto in place."""
    existing = {p.key: p for p in proto.metadata_props}
    for key, value in meta.items():
        if key in existing:
            existing[key].value = value
        else:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value


def parity_check(
    model: Any, onnx_path: str | Path, inputs: list[np.ndarray], stride: int = 8
) -> tuple[float, float]:
    """Largest absolute map difference and mean keypoint difference (crop px) of PyTorch vs onnxruntime.

    RuntimeError when either output holds NaN or infinite values (a broken model must not pass as "difference 0")."""
    import torch

    from handpose.data.codec import keypoint_distances
    from handpose.inference.backends import OnnxBackend

    backend = OnnxBackend(onnx_path)
    worst, kp_diffs = 0.0, []
    for x in inputs:
        with torch.inference_mode():
            ref = model(torch.from_numpy(np.ascontiguousarray(x)))[-1].float().numpy()  # (N, 22, h, w)
        got = backend(x)[0]  # (N, 22, h, w)
        if got.shape != ref.shape:
            raise RuntimeError(f"ONNX output shape {got.shape} differs from PyTorch's {ref.shape} for input {x.shape}")
        for name, maps in (("PyTorch", ref), ("onnxruntime", got)):
            if not np.isfinite(maps).all():
                raise RuntimeError(f"{onnx_path}: {name} output holds NaN or infinite values for input {x.shape}; "
                                   "the model's weights are broken")
        worst = max(worst, float(np.abs(got - ref).max()))
        kp_diffs.append(keypoint_distances(got, ref, stride).ravel())
        LOG.info("parity at input %s: max |onnx - torch| = %.3g", tuple(x.shape), float(np.abs(got - ref).max()))
    return worst, float(np.concatenate(kp_diffs).mean())
