"""Static int8 quantization of a hand detector's ONNX export, calibrated on letterboxed scene images.

Calibration images are whole scenes letterboxed to the detector's side, as ``HandDetector`` feeds them: rendered
scenes (``"synthetic"``: ``handpose synth --scenes`` into a temporary folder, deleted afterwards) or the images of
a COCO json of hand boxes. The int8 file is checked against the fp32 file on held-out images that calibration did
not see: the boxes each finds (``BoxCodec.decode`` at the config's threshold) are matched one to one by IoU, and
the report gives how many of fp32's boxes int8 finds again at IoU 0.7 or more, with the largest difference of
the hand-centre probability maps. Whether int8 keeps accuracy is measured with ``handpose eval --task detect`` on
the int8 file (BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handpose.config import DataConfig
from handpose.data import images as image_io
from handpose.data.transforms import to_network_input
from handpose.detection.letterbox import letterbox
from handpose.words import counted

LOG = logging.getLogger(__name__)

MATCH_IOU = 0.7  # an int8 box "is" the fp32 box at this IoU or more


@dataclass
class DetectorQuantReport:
    """What :func:`quantize_detector_int8` wrote and how far its boxes are from the fp32 file's."""

    path: Path
    boxes_fp32: int  # boxes the fp32 file finds on the check images
    boxes_matched: int  # of those, found again by int8 at IoU >= MATCH_IOU
    heatmap_diff_max: float  # largest |p_int8 - p_fp32| of the hand-centre probability
    calib_count: int
    check_count: int
    seconds: float


def letterboxed(paths: list[Path], side: int, max_pixels: int = DataConfig.max_image_pixels) -> np.ndarray:
    """(N, side, side, 3) uint8 letterboxes of the readable images among ``paths`` (bad ones skipped, logged)."""
    out = []
    for path in paths:
        try:
            img, _ = image_io.load_image(path, max_pixels)
        except image_io.ImageError as exc:
            LOG.warning("calibration: skipping %s", exc)
            continue
        out.append(letterbox(img, side)[0])
    if not out:
        raise ValueError(f"no readable calibration image among {len(paths)}")
    return np.stack(out)


def detector_calibration_images(source: str | Path, count: int, side: int, seed: int = 0) -> np.ndarray:
    """(N <= count, side, side, 3) uint8 letterboxed scenes: rendered (``"synthetic"``) or from a COCO json of hand
    boxes (a random choice of its images)."""
    from handpose.detection.coco import read_detection_images

    if str(source) == "synthetic":
        from handpose.synth.scenes import write_scenes

        with tempfile.TemporaryDirectory(prefix="handpose-calib-") as tmp:
            folder = write_scenes(Path(tmp), count=count, seed=seed)
            return letterboxed(sorted((folder / "images").glob("*.jpg"))[:count], side)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"calibration data not found: {path}")
    items = read_detection_images(path)
    order = np.random.default_rng(seed).permutation(len(items))[:count]
    return letterboxed([items[i].path for i in order], side)


def quantize_detector_int8(fp32_path: str | Path, out: str | Path, calib: np.ndarray, check: np.ndarray,
                           fmt: str = "qoperator") -> DetectorQuantReport:
    """Quantize the detector export ``fp32_path`` to ``out``, calibrated on ``calib`` (N, S, S, 3) uint8 and checked
    on ``check`` (M, S, S, 3) (module docstring)."""
    from handpose.detection.codec import BoxCodec
    from handpose.detection.metrics import box_iou
    from handpose.detection.onnx_network import OnnxDetectorNetwork
    from handpose.quantize import quantize_static_file

    if calib.ndim != 4 or calib.shape[0] == 0 or check.ndim != 4 or check.shape[0] == 0:
        raise ValueError(f"int8 needs calibration and check images (N, S, S, 3), got {calib.shape} and "
                         f"{check.shape}")
    t0 = time.perf_counter()
    checked_on = f"{counted(len(check), 'held-out image')} not used for calibration"
    quantize_static_file(fp32_path, out, to_network_input(calib), fmt, True, False, "letterboxed images",
                         checked_on)
    ref_net, got_net = OnnxDetectorNetwork(fp32_path), OnnxDetectorNetwork(out)
    cfg = ref_net.config
    codec = BoxCodec.from_config(cfg)
    x = torch.from_numpy(to_network_input(check))  # (M, 3, S, S)
    side = check.shape[1]
    matrices = np.repeat(np.eye(3)[None, :2], len(check), axis=0)  # boxes stay in input px
    sizes = [(side, side)] * len(check)
    ref, got = ref_net(x), got_net(x)
    diff = float((torch.sigmoid(ref["heatmap"]) - torch.sigmoid(got["heatmap"])).abs().max())
    total = matched = 0
    for a, b in zip(codec.decode(ref, matrices, sizes, cfg.score_threshold),
                    codec.decode(got, matrices, sizes, cfg.score_threshold)):
        total += len(a)
        if len(a) and len(b):
            matched += int((box_iou(a.boxes, b.boxes).max(axis=1) >= MATCH_IOU).sum())
    report = DetectorQuantReport(Path(out), total, matched, diff, len(calib), len(check), time.perf_counter() - t0)
    LOG.info("int8 %s: %d of %d fp32 boxes found again at IoU >= %.1f; heatmap differs by up to %.3f on %s",
             out, matched, total, MATCH_IOU, diff, checked_on)
    return report
