"""`HandDetector`: whole BGR images -> the hands in them (box, score, left or right), in original pixels.

The one inference path of the detector, shared by evaluation, training's validation and the Predictor's
detect -> crop -> keypoints pipeline: letterbox (``detection/letterbox``), network, decode (``detection/codec``:
3x3 max-pool peaks, top ``max_hands``, threshold, overlap suppression).

**Scales.** The network is fully convolutional, so it also runs on a larger letterbox of the same image: at scale 2
(a 640 px square for the 320 px network) every hand is twice as many input pixels, which is where the small hands
of whole-person photographs and wide scenes become findable. With several ``scales`` the boxes of every scale are
pooled, overlaps suppressed (the better score kept) and the best ``max_hands`` kept. ``IMAGE_SCALES`` (1 and 2) is
what ``handpose predict`` and ``handpose eval`` use on still images: on 300 held-out rendered scenes it lifted AP@0.5
of the detector shipped before from 0.466 to 0.518 alone (the one shipped now: 0.587 to 0.652) and from 0.695 to
0.744 refined by the keypoint model, hands under 32 px from 0.40 to 0.53 (BENCHMARKS.md, "Detection at two
scales"), at about four times the detector's time; video keeps scale 1.
Scales up to ``UPSAMPLED_SCALE_LIMIT`` (2) run on every image; larger ones only on images at least as large as their
letterbox, where they bring the photo's own detail rather than upsampled pixels, so ``--detector-scales 1,2,4`` runs
scale 4 (a 1280 px square) only on photographs of 1280 px and more. On 200 held-out rendered scenes of 1280 x 720 that
lifted refined AP@0.5 from 0.761 to 0.794, but on the real photos it found no more hands and added false ones, so the
default stays 1 and 2 (BENCHMARKS.md, "A third scale for large images").
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from handpose.autotune.free_cores import check_threads, sync_torch
from handpose.config import DetectorConfig
from handpose.data import transforms as T
from handpose.detection.codec import BoxCodec, Boxes
from handpose.detection.letterbox import letterbox
from handpose.detection.onnx_network import OnnxDetectorNetwork
from handpose.detection.scales import IMAGE_SCALES, MAX_SCALE, MAX_SCALES, check_scales  # noqa: F401 (re-exported)
from handpose.inference.eval_mode import eval_mode
from handpose.model.fold_batch_norm import folded

LOG = logging.getLogger(__name__)

UPSAMPLED_SCALE_LIMIT = 2.0  # scales up to this run on every image; larger ones only where the image has the pixels
SIZE_MULTIPLE = 32  # the backbone's deepest stride: a scaled input side is rounded to a multiple of it
# one image ready for the network: (letterboxed (S, S, 3) uint8, matrix (2, 3) original px -> input px, (width, height))
Letterboxed = tuple[np.ndarray, np.ndarray, tuple[int, int]]


@dataclass(eq=False)  # equal only to itself: its numpy arrays have no single truth value
class Detection:
    """One hand: ``box`` (4,) ``[x, y, w, h]`` original px, ``score`` hand probability, ``is_left`` and the
    left-hand probability ``left_score``.

    After keypoint refinement (``inference/refine``): ``crop_box`` the box the keypoint network's crop is cut from
    (the keypoints' own box; None: ``box``), ``score`` the keypoint network's verdict, ``detector_score`` the
    detector's own probability (None: ``score`` is the detector's) and ``side_settled`` True: ``is_left`` is the
    keypoint network's call where the detector could not tell, not to be asked again."""

    box: np.ndarray
    score: float
    is_left: bool
    left_score: float
    crop_box: np.ndarray | None = None
    detector_score: float | None = None
    side_settled: bool = False


def as_detections(found: Boxes) -> list[Detection]:
    """A decoded image's boxes as a list of :class:`Detection`, best first."""
    return [Detection(found.boxes[i].astype(np.float64), float(found.scores[i]), bool(found.left[i] > 0.5),
                      float(found.left[i])) for i in range(len(found))]




def merge_scales(parts: Sequence[Boxes], codec: BoxCodec) -> Boxes:
    """One image's boxes found at several scales as one set: pooled, best first, overlaps suppressed (the codec's
    ``nms_iou``), the best ``max_hands`` kept."""
    if len(parts) == 1:
        return parts[0]
    boxes = np.concatenate([p.boxes for p in parts]).reshape(-1, 4)  # (N, 4)
    scores = np.concatenate([p.scores for p in parts])  # (N,)
    left = np.concatenate([p.left for p in parts])  # (N,)
    order = np.argsort(-scores, kind="stable")
    found = codec.suppress(Boxes(boxes[order], scores[order], left[order]))
    n = codec.max_hands
    return Boxes(found.boxes[:n], found.scores[:n], found.left[:n])


class HandDetector:
    """A detector network with its decoding settings; ``threshold`` and ``max_hands`` default to the config's,
    ``scales`` to the network's own input size alone (module docstring)."""

    def __init__(self, model: nn.Module | OnnxDetectorNetwork, threshold: float | None = None,
                 max_hands: int | None = None, device: str | torch.device = "cpu",
                 scales: Sequence[float] = (1.0,), threads: int | str | None = None) -> None:
        """``threads``: "auto" lets a PyTorch network follow the cores other processes leave free
        (``autotune.free_cores``); otherwise PyTorch's threads are the process's (an onnxruntime network has its
        own setting)."""

        cfg = getattr(model, "config", None)
        if not isinstance(cfg, DetectorConfig):
            raise ValueError(f"HandDetector needs a hand detector network (config DetectorConfig), got "
                             f"{type(model).__name__} with {type(cfg).__name__}")
        if isinstance(model, nn.Module):  # run in eval mode call by call: a caller's network keeps its own mode
            self.model: nn.Module | OnnxDetectorNetwork = model.to(device)
            self.device = torch.device(device)
        else:  # onnxruntime takes and returns CPU arrays whatever its provider
            self.model, self.device = model, torch.device("cpu")
        self.config = cfg
        self.threshold = float(cfg.score_threshold if threshold is None else threshold)
        if not 0.0 <= self.threshold <= 1.0:  # also refuses NaN
            raise ValueError(f"detector threshold must lie in [0, 1] (a probability), got {threshold}")
        self.codec = BoxCodec(cfg.input_size, cfg.stride, int(max_hands or cfg.max_hands), cfg.nms_iou)
        self.scales = check_scales(scales)
        self.threads = check_threads(threads)

    @classmethod
    def from_file(cls, path: str | Path, threshold: float | None = None, max_hands: int | None = None,
                  device: str | torch.device = "cpu", scales: Sequence[float] = (1.0,),
                  threads: int | str | None = None) -> HandDetector:
        """A detector from a weights file (``.safetensors`` / ``.pt`` in PyTorch on ``device``, or a detector's
        ``.onnx`` export in onnxruntime); ValueError naming the file when it holds a keypoint model.

        ``pretrained:detector`` on the CPU is the shipped detector in the runtime that measures faster here
        (``detection/runtime_choice``: its PyTorch weights or their ONNX export, the same maps);
        ``pretrained:detector-onnx`` or a file path is taken as named; PyTorch weights run with their batch norms
        folded into their convs (``model/fold_batch_norm``: the same maps, faster; :meth:`from_model` runs the
        network it is given as it is). ``threads``: onnxruntime's threads (None: its
        default, every core; PyTorch's are the process's, ``torch.set_num_threads``), or "auto": either runtime
        follows the cores other processes leave free (``autotune.free_cores``)."""
        from handpose import pretrained
        from handpose.config_checks import check_device
        from handpose.model.artifact import TASK_DETECT, load_model, model_file_kind

        device = check_device("auto") if str(device) == "auto" else device
        if str(path) == pretrained.PREFIX + pretrained.DEFAULT_DETECTOR and torch.device(device).type == "cpu":
            return cls.shipped(threshold, max_hands, scales, threads)
        path = pretrained.resolve(path)
        if model_file_kind(path) == "onnx":  # onnxruntime falls back to the CPU with a warning
            return cls(OnnxDetectorNetwork(path, device=str(device), threads=threads), threshold, max_hands, device,
                       scales)
        device = check_device(str(device), "device")  # CUDA asked for without a GPU: said, not an AssertionError
        return cls(folded(load_model(path, task=TASK_DETECT)), threshold, max_hands, device, scales, threads)

    @classmethod
    def shipped(cls, threshold: float | None = None, max_hands: int | None = None,
                scales: Sequence[float] = (1.0,), threads: int | str | None = None) -> HandDetector:
        """The shipped detector on the CPU, in PyTorch or onnxruntime, whichever is faster on this machine (timed
        once per machine and setting, then read from the speed-trial cache; the PyTorch network alone where
        onnxruntime cannot load the export)."""
        from handpose import pretrained
        from handpose.detection.runtime_choice import cached_fastest, runtime_key
        from handpose.model.artifact import TASK_DETECT, load_model

        torch_net = cls(folded(load_model(pretrained.path(pretrained.DEFAULT_DETECTOR), task=TASK_DETECT)), threshold,
                        max_hands, "cpu", scales, threads)  # batch norms folded (model/fold_batch_norm), timed so
        try:  # exported at first use: an unwritable cache (OSError) or a failed parity check leave PyTorch
            onnx_path = pretrained.path(pretrained.DETECTOR_ONNX)
            onnx_net = cls(OnnxDetectorNetwork(onnx_path, threads=threads), threshold, max_hands, "cpu", scales)
        except (ValueError, OSError, RuntimeError, ImportError) as exc:
            LOG.warning("the shipped detector's ONNX export is not usable here (%s); running it in PyTorch", exc)
            return torch_net
        key = runtime_key(str(onnx_path), torch_net.scales)
        return cached_fastest([torch_net, onnx_net], ["PyTorch", "onnxruntime"], key)

    @classmethod
    def from_model(cls, model: nn.Module, threshold: float | None = None, max_hands: int | None = None,
                   device: str | torch.device | None = None, scales: Sequence[float] = (1.0,)) -> HandDetector:
        """A detector around an in-memory network (on the network's own device unless told)."""
        if device is None:
            first = next(model.parameters(), None)
            device = first.device if first is not None else "cpu"
        return cls(model, threshold, max_hands, device, scales)

    @property
    def input_size(self) -> int:
        return int(self.config.input_size)

    def scaled_size(self, scale: float) -> int:
        """The letterbox side at ``scale``: ``input_size * scale`` rounded to a multiple of ``SIZE_MULTIPLE``."""
        return max(SIZE_MULTIPLE, int(round(self.input_size * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE)

    def prepare(self, image_bgr: np.ndarray, size: int | None = None) -> Letterboxed:
        """(letterboxed (S, S, 3) uint8, matrix (2, 3) original px -> input px, (width, height)) of one image;
        ``S`` is ``size``, default the network's input size."""
        img = np.asarray(image_bgr)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.shape[0] < 1 or img.shape[1] < 1:
            raise ValueError(f"HandDetector.detect: expected a BGR uint8 image (H, W, 3), got {img.dtype} "
                             f"{img.shape}")
        boxed, M = letterbox(img, self.input_size if size is None else int(size))
        return boxed, M, (img.shape[1], img.shape[0])

    @torch.inference_mode()
    def run(self, letterboxed: np.ndarray, matrices: np.ndarray, sizes: list[tuple[int, int]],
            threshold: float | None = None) -> list[Boxes]:
        """Letterboxed images (N, S, S, 3) uint8 with their matrices (N, 2, 3) and sizes -> decoded boxes each
        (one scale: ``S`` any multiple of ``SIZE_MULTIPLE``)."""
        sync_torch(self.threads)
        x = torch.from_numpy(T.to_network_input(letterboxed)).to(self.device)  # (N, 3, S, S)
        with eval_mode(self.model) if isinstance(self.model, nn.Module) else contextlib.nullcontext():
            outputs = self.model(x)  # each (N, C, S/4, S/4)
        return self.codec.decode(outputs, matrices, sizes, self.threshold if threshold is None else threshold)

    def scales_for(self, width: int, height: int) -> tuple[float, ...]:
        """The scales run on an image of this size: each up to ``UPSAMPLED_SCALE_LIMIT``, and larger ones where the
        image's longer side is at least their letterbox side (beyond that, upsampling adds pixels, not detail); the
        smallest scale when none qualifies."""
        side = max(int(width), int(height))
        kept = tuple(s for s in self.scales if s <= UPSAMPLED_SCALE_LIMIT or self.scaled_size(s) <= side)
        return kept or (min(self.scales),)

    def letterbox_scales(self, image_bgr: np.ndarray) -> list[Letterboxed]:
        """One BGR image letterboxed at each of its :meth:`scales_for` (what :meth:`find` runs on; the full image
        can go)."""
        img = np.asarray(image_bgr)
        width, height = (img.shape[1], img.shape[0]) if img.ndim >= 2 else (0, 0)
        return [self.prepare(img, self.scaled_size(scale)) for scale in self.scales_for(width, height)]

    def find(self, letterboxed: Sequence[Sequence[Letterboxed]], threshold: float | None = None) -> list[Boxes]:
        """Images, each as :meth:`letterbox_scales` gave it, -> their boxes in original px, the scales merged; one
        network run per letterbox size for the whole batch (images may differ in which scales they run)."""
        by_side: dict[int, list[tuple[int, Letterboxed]]] = {}  # letterbox side -> [(image index, letterbox)]
        for i, image in enumerate(letterboxed):
            for b in image:
                by_side.setdefault(int(b[0].shape[0]), []).append((i, b))
        parts: list[list[Boxes]] = [[] for _ in letterboxed]  # [image][scale, smallest first] Boxes
        for side in sorted(by_side):
            batch = [b for _, b in by_side[side]]
            found = self.run(np.stack([b[0] for b in batch]), np.stack([b[1] for b in batch]), [b[2] for b in batch],
                             threshold)
            for (i, _), f in zip(by_side[side], found):
                parts[i].append(f)
        return [merge_scales(p, self.codec) for p in parts]

    def detect_batch(self, images_bgr: list[np.ndarray], threshold: float | None = None) -> list[list[Detection]]:
        """Hands of each image, best first, found at each of the image's :meth:`scales_for`."""
        if not images_bgr:
            return []
        found = self.find([self.letterbox_scales(im) for im in images_bgr], threshold)
        return [as_detections(f) for f in found]

    def detect(self, image_bgr: np.ndarray, threshold: float | None = None) -> list[Detection]:
        """Hands of one BGR uint8 image, best first."""
        return self.detect_batch([image_bgr], threshold)[0]
