"""ONNX export of the hand detector, proven against PyTorch in onnxruntime before it counts as written.

The graph takes ``image`` (N x 3 x S x S float32, ``transforms.to_network_input`` of the letterboxed image; batch
and side dynamic unless ``dynamic=False``, the side a multiple of 32) and returns the four maps of
``detection.model`` as outputs named ``heatmap``, ``size``, ``offset`` and ``left`` (each N x C x S/4 x S/4;
heatmap and left are logits). Decoding stays in Python (``detection.codec``), as for the PyTorch network, so both
give the same boxes. The metadata holds ``task=detect``, the detector config and the preprocessing, which is all
``HandDetector.from_file`` needs, and for runtimes without handpose the side's multiple (``size_multiple``) and the
letterbox and decoding in words (``letterbox``, ``decode``; ``scripts/onnx_hands.py`` follows them).

Parity: the file is run in onnxruntime on hand-like images at the network's side (batch of two) and, when dynamic,
at a second side (the test-time scales), and the largest absolute difference of the maps (probabilities for the
heatmap and left maps, raw values for size and offset) must stay under ``tolerance``.
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.config import to_dict
from handpose.data.resample import AREA_REDUCE_BELOW
from handpose.data.transforms import PREPROCESS, to_network_input
from handpose.detection.codec import MAX_LOG_SIZE
from handpose.detection.detector import SIZE_MULTIPLE
from handpose.detection.onnx_network import OUTPUT_NAMES, OnnxDetectorNetwork
from handpose.export import (
    DEFAULT_OPSET,
    DEFAULT_TOLERANCE,
    EXPORTING,
    add_metadata,
    check_opset,
    check_tolerance,
    sample_crops,
)
from handpose.files import atomic_write
from handpose.model.artifact import CONFIG_KEY, META_FORMAT, META_FORMAT_VALUE, TASK_DETECT, TASK_KEY

LOG = logging.getLogger(__name__)

SECOND_SIDE_STEP = 64  # the dynamic-shape check runs at the network's side plus this (a multiple of 32)


@dataclass
class DetectorExportReport:
    """What :func:`export_detector_onnx` wrote and how closely it matches PyTorch."""

    path: Path
    max_abs_diff: float  # over every output and every parity input
    shapes_checked: list[tuple[int, ...]]


class _Outputs(nn.Module):
    """The detector with its dict of maps as a tuple in ``OUTPUT_NAMES`` order (what the exporter traces)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps = self.net(image)  # each (N, C, S/4, S/4)
        return tuple(maps[name] for name in OUTPUT_NAMES)


def detector_onnx_metadata(model: nn.Module, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The ``metadata_props`` of a detector's ONNX file."""
    from handpose.inference.predictor import SIDE_MARGIN

    cfg = model.config
    meta = {
        META_FORMAT: META_FORMAT_VALUE,
        TASK_KEY: TASK_DETECT,
        CONFIG_KEY: json.dumps(to_dict(cfg), sort_keys=True),
        "preprocess": json.dumps(PREPROCESS, sort_keys=True),
        "input_size": str(int(cfg.input_size)),
        "stride": str(int(cfg.stride)),
        "size_multiple": str(SIZE_MULTIPLE),
        "output": "heatmap (N, 1) hand-centre logits, size (N, 2) log(w/stride), log(h/stride), offset (N, 2) "
                  "sub-cell centre (x, y), left (N, 1) left-hand logit; each at (S/stride, S/stride)",
        "letterbox": f"image (W x H) -> S x S input, S a multiple of size_multiple: s = S / max(W, H), input px = "
                     f"s (image px - ((W - 1) / 2, (H - 1) / 2)) + (S - 1) / 2, bilinear, pad_value outside; where "
                     f"s < {AREA_REDUCE_BELOW:g} the image is first resized with cv2.INTER_AREA to round(W s) x "
                     "round(H s) and the warp reads that (image px = (small px + 0.5) / (small side / side) - 0.5)",
        "decode": f"p = sigmoid(heatmap); peaks: cells whose p is the maximum of their 3 x 3 neighbourhood; of the "
                  f"max_hands highest, those with p >= score_threshold (model_config); at peak (col i, row j) the "
                  f"box centre is ((i, j) + offset) * stride and its size exp(clamp(size, -{MAX_LOG_SIZE:g}, "
                  f"{MAX_LOG_SIZE:g})) * stride in input px, sigmoid(left) its left-hand probability; mapped back "
                  "through the letterbox, cut to the image (each corner clamped into [0, W] x [0, H]), then greedy "
                  "NMS at nms_iou (model_config); handpose predict leaves out a box left with no area; handpose "
                  f"takes a hand's side from it (left where above 0.5) only where it is at least {SIDE_MARGIN:g} from "
                  "0.5 or the keypoint model has no mirror_left, else the keypoint model's side (its file's `side`)",
    }
    meta.update(extra or {})
    return meta


def export_detector_onnx(model: nn.Module, out: str | Path, opset: int = DEFAULT_OPSET,
                         tolerance: float = DEFAULT_TOLERANCE, check_images: np.ndarray | None = None,
                         dynamic: bool = True, extra_metadata: dict[str, str] | None = None) -> DetectorExportReport:
    """Export the hand detector ``model`` to ``out`` and prove parity in onnxruntime (module docstring).

    ``check_images`` (N, S, S, 3) uint8 at the network's side (default: hand-like test images). The export runs on a
    float32 CPU copy; ``model`` is left as it was. RuntimeError when onnxruntime's maps differ by more than
    ``tolerance`` (the file is then written but reported broken)."""
    import onnx

    check_opset(opset)
    check_tolerance(tolerance)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    side = int(model.config.input_size)
    net = copy.deepcopy(model).float().cpu().eval()
    wrapper = _Outputs(net).eval()
    dummy = torch.from_numpy(to_network_input(sample_crops(side, 1)))  # (1, 3, S, S)
    axes = {"image": {0: "batch", 2: "side", 3: "side"}}
    axes.update({name: {0: "batch", 2: "map_side", 3: "map_side"} for name in OUTPUT_NAMES})

    def write(tmp: Path) -> None:
        with EXPORTING, torch.inference_mode(), warnings.catch_warnings():  # one export at a time (export.py)
            warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter announces its end
            torch.onnx.export(wrapper, (dummy,), str(tmp), input_names=["image"], output_names=OUTPUT_NAMES,
                              dynamic_axes=axes if dynamic else None, opset_version=opset,
                              do_constant_folding=True, dynamo=False)
        proto = onnx.load(str(tmp))
        add_metadata(proto, detector_onnx_metadata(net, extra_metadata))
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        worst[:] = [detector_parity(net, tmp, inputs)]
        if worst[0] > tolerance:  # checked before the file takes the target's name
            raise RuntimeError(f"ONNX parity check failed for {out}: largest absolute difference {worst[0]:.3g} > "
                               f"tolerance {tolerance:g}; nothing was written there (an earlier file is unchanged)")

    images = check_images if check_images is not None else sample_crops(side, 2)
    inputs = [to_network_input(images if dynamic else images[:1])]  # (N, 3, S, S)
    if dynamic:
        inputs.append(to_network_input(sample_crops(side + SECOND_SIDE_STEP, 1, seed=1)))
    worst: list[float] = []
    atomic_write(out, write)  # a failed, rejected or interrupted export leaves the earlier file (if any) as it was
    LOG.info("wrote %s (opset %d, %.1f MB)", out, opset, out.stat().st_size / 1e6)
    return DetectorExportReport(out, worst[0], [tuple(x.shape) for x in inputs])


def comparable(maps: dict[str, Any]) -> dict[str, np.ndarray]:
    """Output maps as float64 arrays, the logit maps as probabilities (what decoding reads)."""
    out = {}
    for name in OUTPUT_NAMES:
        m = torch.as_tensor(maps[name]).double()
        out[name] = (torch.sigmoid(m) if name in ("heatmap", "left") else m).numpy()
    return out


def detector_parity(model: nn.Module, onnx_path: str | Path, inputs: list[np.ndarray]) -> float:
    """Largest absolute difference of :func:`comparable` maps, PyTorch against onnxruntime, over ``inputs``;
    RuntimeError for NaN or infinite outputs or a shape mismatch."""
    runtime = OnnxDetectorNetwork(onnx_path)
    worst = 0.0
    for x in inputs:
        with torch.inference_mode():
            ref = comparable(model(torch.from_numpy(np.ascontiguousarray(x))))
        got = comparable(runtime(torch.from_numpy(x)))
        for name in OUTPUT_NAMES:
            if got[name].shape != ref[name].shape:
                raise RuntimeError(f"{onnx_path}: output {name} has shape {got[name].shape}, PyTorch's "
                                   f"{ref[name].shape}, for input {x.shape}")
            if not (np.isfinite(got[name]).all() and np.isfinite(ref[name]).all()):
                raise RuntimeError(f"{onnx_path}: output {name} holds NaN or infinite values for input {x.shape}")
            worst = max(worst, float(np.abs(got[name] - ref[name]).max()))
        LOG.info("detector parity at input %s: max |onnx - torch| = %.3g", tuple(x.shape), worst)
    return worst
