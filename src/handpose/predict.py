"""Predictor: image -> square crop -> network (PyTorch or onnxruntime) -> belief maps -> keypoints in image pixels.

One code path serves the ``handpose predict`` command, the Python API and the evaluation run
(``handpose.evaluate``): :class:`CropSpec` cuts the crops (picklable, so data-loader workers can run it),
:meth:`Predictor.predict_prepared` runs a batch of them through the network, averages the flip-test and
multi-scale passes, decodes the maps with ``heatmaps.decode`` and maps the keypoints back through the inverse of
the crop's affine matrix.

Crops: a given hand box ``[x, y, w, h]`` becomes the square of side ``box_padding * max(w, h)`` around its centre
(``transforms.square_box``, as the dataset crops); no box means the whole image, made square with grey borders.
Left hands are mirrored to the right first when the model was trained that way (``DataConfig.mirror_left``); the
mirror is part of the crop matrix, so mapping back undoes it.
Test-time options: ``flip_test`` also runs the horizontally mirrored crop and mirrors its maps back (a hand has no
left/right joint pairs, so no channels are swapped); ``scales`` runs the same box at several input sizes
(``input_size * s`` rounded to the stride), resizes the last stage's maps to the largest and averages them, as
OpenPose averages scales.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from handpose.config import DataConfig, ModelConfig, from_dict
from handpose.data.heatmaps import decode
from handpose.data.transforms import apply_affine, crop_matrix, invert_affine, square_box, to_network_input, warp
from handpose.keypoints import NAMES

LOG = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt")
ONNX_SUFFIX = ".onnx"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# keys of the metadata handpose writes into ONNX files (export.py) and reads back here
META_FORMAT = "handpose_format"
META_FORMAT_VALUE = "handpose-cpm-onnx"
META_MODEL_CONFIG = "model_config"
META_DATA_CONFIG = "data_config"
DATA_CONFIG_KEY = "data_config"  # safetensors metadata (JSON) / checkpoint dict key written by training


@dataclass
class Prediction:
    """One hand's result.

    Attributes:
        keypoints: (21, 2) float32 in original-image pixels.
        scores: (21,) float32, the peak of each keypoint's belief map.
        box: (4,) ``[x, y, w, h]`` the box the crop was made from (the whole image when none was given).
        stage_maps: (S, 22, h, w) belief maps of every stage over the crop (only the last for ONNX models),
            from the plain pass at the first scale; None unless asked for.
        crop: (N, N, 3) uint8 the crop those maps belong to (None unless maps were asked for).
        matrix: (2, 3) original px -> crop px of ``crop`` (includes the left-hand mirror).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray
    stage_maps: np.ndarray | None = None
    crop: np.ndarray | None = None
    matrix: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the box and the 21 keypoints with their names, x, y and score."""
        return {
            "box": [float(v) for v in self.box],
            "keypoints": [
                {"index": k, "name": NAMES[k], "x": float(x), "y": float(y), "score": float(s)}
                for k, ((x, y), s) in enumerate(zip(self.keypoints, self.scores))
            ],
        }


@dataclass
class Prepared:
    """The crops of one hand, one per scale, with their matrices (original px -> crop px)."""

    crops: list[np.ndarray]  # per scale: (N_s, N_s, 3) uint8
    matrices: list[np.ndarray]  # per scale: (2, 3) float64
    box: np.ndarray  # (4,) [x, y, w, h]


@dataclass(frozen=True)
class CropSpec:
    """How a hand is cut out of an image for the network (plain data, picklable for data-loader workers)."""

    input_size: int = 368
    stride: int = 8
    box_padding: float = 1.5
    mirror_left: bool = False
    scales: tuple[float, ...] = (1.0,)

    def sizes(self) -> list[int]:
        """Input side per scale; with several scales each is rounded to the stride so their maps align."""
        if len(self.scales) == 1 and self.scales[0] == 1.0:
            return [int(self.input_size)]
        return [max(self.stride, int(round(self.input_size * s / self.stride)) * self.stride) for s in self.scales]

    def matrices(
        self, image_hw: tuple[int, int], box: Sequence[float] | np.ndarray | None, is_left: bool, strict: bool = True
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Crop matrices (original px -> crop px), one per scale, and the checked box; None = the whole image.

        ``strict=False`` accepts a box without area (a labelled hand with one visible keypoint), as the dataset does.
        """
        h, w = image_hw
        if box is None:
            center, side = np.array([(w - 1) / 2.0, (h - 1) / 2.0]), float(max(w, h))
            box_arr = np.array([0.0, 0.0, w, h], np.float32)
        else:
            box_arr = check_box(box, (h, w), strict)
            center, side = square_box(box_arr, self.box_padding)
        flip = bool(is_left and self.mirror_left)
        return [crop_matrix(center, side, size, flip=flip) for size in self.sizes()], box_arr

    def prepare(
        self, image: np.ndarray, box: Sequence[float] | np.ndarray | None = None, is_left: bool = False
    ) -> Prepared:
        """Cut the crops of one hand; ``box`` None is the whole image. ValueError for a box off the image."""
        mats, box_arr = self.matrices(image.shape[:2], box, is_left)
        crops = [warp(image, M, size) for M, size in zip(mats, self.sizes())]
        return Prepared(crops, mats, box_arr)

    def prepare_file(self, path: str | Path, box: Sequence[float] | np.ndarray, is_left: bool = False) -> Prepared:
        """:meth:`prepare` from an image file, decoding a large JPEG at a reduced resolution when the crop is much
        smaller than the box (libjpeg DCT scaling; the crop matrix accounts for it, so the result is exact).
        FileNotFoundError / ValueError as :func:`read_image`."""
        from handpose.data import images

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"image not found: {path}")
        with open(path, "rb") as f:
            head = images.header_size(f.read(65536))
        if head is None:
            return self.prepare(read_image(path), box, is_left)
        kind, w, h = head
        mats, box_arr = self.matrices((h, w), box, is_left, strict=False)
        finest = mats[int(np.argmax(self.sizes()))]
        try:
            image, factor = images.load_image(path, reduce=images.reduce_factor(finest) if kind == "jpeg" else 1)
        except images.ImageError as exc:
            raise ValueError(f"cannot read image {path}: {exc}") from None
        crops = [warp(image, images.reduced_matrix(M, factor), size) for M, size in zip(mats, self.sizes())]
        return Prepared(crops, mats, box_arr)


def check_box(box: Sequence[float] | np.ndarray, image_hw: tuple[int, int], strict: bool = True) -> np.ndarray:
    """A valid ``[x, y, w, h]`` box that overlaps the image, as float32; ValueError saying what is wrong.

    ``strict=False`` (labelled samples, as the dataset crops them) only asks for finite numbers and no negative
    size: a box without area (one visible keypoint) or off the image passes."""
    arr = np.asarray(box, dtype=np.float64).reshape(-1)
    h, w = image_hw
    if arr.size != 4 or not np.isfinite(arr).all():
        raise ValueError(f"box must be 4 finite numbers x,y,w,h; got {list(np.asarray(box).reshape(-1))}")
    x, y, bw, bh = arr
    if (bw <= 0 or bh <= 0) if strict else (bw < 0 or bh < 0):
        raise ValueError(f"box {x:g},{y:g},{bw:g},{bh:g} has no area (width and height must be > 0)")
    if strict and (x >= w or y >= h or x + bw <= 0 or y + bh <= 0):
        raise ValueError(f"box {x:g},{y:g},{bw:g},{bh:g} lies outside the image ({w} x {h} px)")
    return arr.astype(np.float32)


def read_image(path: str | Path) -> np.ndarray:
    """A BGR uint8 image from disk, decoded as the dataset decodes it (``data.images.load_image``: EXIF orientation
    ignored, pixel-count limit); FileNotFoundError when missing, ValueError when it cannot be decoded."""
    from handpose.data import skip_report
    from handpose.data.images import ImageError, load_image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        return load_image(path)[0]
    except ImageError as exc:
        if exc.reason == skip_report.MISSING_IMAGE:
            raise FileNotFoundError(f"cannot open image {path} ({exc.detail})") from None
        detail = f" ({exc.detail})" if exc.detail else ""
        raise ValueError(f"cannot read image {path}: {exc.reason}{detail}") from None


def sample_box(sample: Any) -> np.ndarray:
    """The box a labelled Sample is evaluated in: its ground-truth box, else the tight box of its visible keypoints."""
    from handpose.data.transforms import visible_box

    if sample.box is not None:
        return np.asarray(sample.box, dtype=np.float32)
    box = visible_box(sample.keypoints)
    if box is None:
        raise ValueError(f"sample {sample.key or sample.image_path} has no box and no visible keypoint")
    return box


class Backend(Protocol):
    """Runs the network on a float32 batch (N, 3, H, W); returns maps (S, N, 22, h, w), S = 1 unless all stages."""

    stages: int  # stages the backend can return

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray: ...


class TorchBackend:
    """A CPM in PyTorch, run where its parameters live (the caller's model is never moved or left in eval mode)."""

    def __init__(self, model: Any, autocast_bf16: bool = False):
        self.model = model
        self.stages = int(model.config.stages)
        self.autocast_bf16 = autocast_bf16

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
        import torch

        param = next(self.model.parameters())
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                inp = torch.from_numpy(np.ascontiguousarray(x)).to(param.device)  # (N, 3, H, W)
                with torch.autocast(param.device.type, dtype=torch.bfloat16, enabled=self.autocast_bf16):
                    outs = self.model(inp)  # S x (N, 22, h, w)
                chosen = outs if all_stages else outs[-1:]
                return torch.stack([o.float() for o in chosen]).cpu().numpy()  # (S, N, 22, h, w)
        finally:
            self.model.train(was_training)


class OnnxBackend:
    """An exported handpose ONNX file in onnxruntime (input ``image``, output ``out`` = the last stage's maps).

    The input shape is read at load time. A file exported with a fixed batch (``export_onnx(..., dynamic=False)``,
    ``handpose export --static-shape``: 1 x 3 x S x S) is run a fixed-size chunk at a time, so flip test and
    batches still work; a fixed height and width cannot be changed, so other input sizes raise ValueError.
    """

    stages = 1

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name
        # (N, C, H, W): an int where the file fixes that axis, None where it is dynamic
        self.input_shape: tuple[int | None, ...] = tuple(
            d if isinstance(d, int) and d > 0 else None for d in (inp.shape or ())
        )

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
        if batch is None or batch == x.shape[0]:
            out = self.session.run([self.output_name], {self.input_name: x})[0]
            return out[None]  # (1, N, 22, h, w)
        n = x.shape[0]
        chunks = []
        for start in range(0, n, batch):
            part = x[start : start + batch]  # (<= batch, 3, H, W)
            if part.shape[0] < batch:  # pad the last chunk with copies of its last crop; their maps are dropped
                part = np.concatenate([part, np.repeat(part[-1:], batch - part.shape[0], axis=0)])
            chunks.append(self.session.run([self.output_name], {self.input_name: part})[0])
        return np.concatenate(chunks)[None, :n]  # (1, N, 22, h, w)


@dataclass
class Predictor:
    """Hand keypoints from images; build with :meth:`from_file` or :meth:`from_model`."""

    backend: Backend
    spec: CropSpec = field(default_factory=CropSpec)
    flip_test: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        # a backend with a fixed input size (an ONNX file exported with a static shape) says early, with a clear
        # ValueError, when the crop sizes (input size x scales) do not fit it; runs again on every `replace`
        check_sizes = getattr(self.backend, "check_sizes", None)
        if check_sizes is not None:
            check_sizes(self.spec.sizes())

    @classmethod
    def from_model(
        cls,
        model: Any,
        data_cfg: DataConfig | None = None,
        flip_test: bool = False,
        scales: Sequence[float] = (1.0,),
        autocast_bf16: bool = False,
    ) -> Predictor:
        """A predictor around an in-memory CPM; crop settings from ``data_cfg`` (default: the model's input size)."""
        cfg = data_cfg or DataConfig(input_size=int(model.config.input_size))
        return cls(TorchBackend(model, autocast_bf16), spec_from_config(cfg, scales), flip_test, model.config.preset)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        device: str = "cpu",
        flip_test: bool = False,
        scales: Sequence[float] = (1.0,),
        box_padding: float | None = None,
        mirror_left: bool | None = None,
    ) -> Predictor:
        """Load ``.safetensors`` / ``.pt`` weights (PyTorch on ``device``) or a handpose ``.onnx`` (onnxruntime, CPU).

        The crop settings (input size, box padding, left-hand mirroring) come from the file's metadata where
        training stored them, else from the model config; ``box_padding`` / ``mirror_left`` override them.
        Raises FileNotFoundError for a missing file and ValueError for a file that is not a handpose model.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"model file not found: {path}")
        if not path.is_file():
            raise ValueError(
                f"model path {path} is not a file (expected {', '.join(WEIGHT_SUFFIXES + (ONNX_SUFFIX,))})"
            )
        suffix = path.suffix.lower()
        if suffix == ONNX_SUFFIX:
            meta = read_onnx_metadata(path)
            model_cfg = from_dict(ModelConfig, json.loads(meta[META_MODEL_CONFIG]))
            data_cfg = _data_config_from_json(meta.get(META_DATA_CONFIG), model_cfg)
            try:
                backend: Backend = OnnxBackend(path)
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ValueError(f"onnxruntime cannot load {path}: {exc}") from exc
            if device not in ("cpu", None):
                LOG.warning("ONNX models run on the CPU with onnxruntime; ignoring device=%s", device)
        elif suffix in WEIGHT_SUFFIXES:
            from handpose.model.weights import load_model

            model = load_model(path, map_location=device)
            model_cfg = model.config
            data_cfg = read_data_config(path, model_cfg)
            backend = TorchBackend(model)
        else:
            raise ValueError(
                f"{path}: unsupported model file type {path.suffix!r}; expected weights "
                f"({', '.join(WEIGHT_SUFFIXES)}) or an exported {ONNX_SUFFIX} file"
            )
        if box_padding is not None:
            data_cfg = replace(data_cfg, box_padding=float(box_padding))
        if mirror_left is not None:
            data_cfg = replace(data_cfg, mirror_left=bool(mirror_left))
        return cls(backend, spec_from_config(data_cfg, scales), flip_test, f"{model_cfg.preset}:{path.name}")

    def with_options(self, flip_test: bool | None = None, scales: Sequence[float] | None = None) -> Predictor:
        """The same network with other test-time options."""
        spec = self.spec if scales is None else replace(self.spec, scales=_check_scales(scales))
        return replace(self, spec=spec, flip_test=self.flip_test if flip_test is None else flip_test)

    @property
    def stages(self) -> int:
        """How many stages' maps :attr:`Prediction.stage_maps` holds."""
        return self.backend.stages

    def predict(
        self,
        image: np.ndarray | str | Path,
        box: Sequence[float] | np.ndarray | None = None,
        is_left: bool = False,
        keep_maps: bool = True,
    ) -> Prediction:
        """Keypoints of one hand in ``image`` (BGR ndarray or a path), in the given ``box`` or the whole image."""
        img = read_image(image) if isinstance(image, (str, Path)) else _check_image(image)
        return self.predict_prepared([self.spec.prepare(img, box, is_left)], keep_maps=keep_maps)[0]

    def predict_batch(
        self,
        images: Sequence[np.ndarray],
        boxes: Sequence[Sequence[float] | np.ndarray | None] | None = None,
        is_left: Sequence[bool] | None = None,
        keep_maps: bool = False,
    ) -> list[Prediction]:
        """One network run for several hands (one per image, or repeat an image with different boxes)."""
        n = len(images)
        boxes = list(boxes) if boxes is not None else [None] * n
        lefts = list(is_left) if is_left is not None else [False] * n
        prepared = [self.spec.prepare(_check_image(im), b, bool(lf)) for im, b, lf in zip(images, boxes, lefts)]
        return self.predict_prepared(prepared, keep_maps=keep_maps)

    def predict_prepared(self, prepared: Sequence[Prepared], keep_maps: bool = False) -> list[Prediction]:
        """Run prepared crops: every scale (and its mirror with flip test), average the last stage, decode, map back."""
        n = len(prepared)
        if n == 0:
            return []
        sizes = self.spec.sizes()
        stride = self.spec.stride
        common = int(np.argmax(sizes))  # the keypoints are decoded on the largest scale's grid
        map_side = math.ceil(sizes[common] / stride)
        total: np.ndarray | None = None
        stage_maps: np.ndarray | None = None
        for si in range(len(sizes)):
            crops = np.stack([p.crops[si] for p in prepared])  # (N, S_in, S_in, 3)
            x = to_network_input(crops)  # (N, 3, S_in, S_in)
            if self.flip_test:
                x = np.concatenate([x, x[..., ::-1]])  # (2N, 3, S_in, S_in)
            want_all = keep_maps and si == 0
            out = self.backend(x, all_stages=want_all)  # (S, B, 22, h, w)
            if want_all:
                stage_maps = out[:, :n]
            last = out[-1]  # (B, 22, h, w)
            if self.flip_test:
                last = 0.5 * (last[:n] + last[n:, :, :, ::-1])  # (N, 22, h, w)
            if last.shape[-1] != map_side or last.shape[-2] != map_side:
                last = _resize_maps(last, map_side)
            total = last if total is None else total + last
        assert total is not None
        total = total / len(sizes)
        xy, scores = decode(total, stride=stride)  # (N, 21, 2) crop px of the common scale, (N, 21)
        inv = np.stack([invert_affine(p.matrices[common]) for p in prepared])  # (N, 2, 3)
        keypoints = apply_affine(xy, inv).astype(np.float32)  # (N, 21, 2) original px
        results = []
        for i, p in enumerate(prepared):
            results.append(
                Prediction(
                    keypoints=keypoints[i],
                    scores=scores[i],
                    box=p.box,
                    stage_maps=None if stage_maps is None else np.ascontiguousarray(stage_maps[:, i]),
                    crop=p.crops[0] if keep_maps else None,
                    matrix=p.matrices[0],
                )
            )
        return results


def _resize_maps(maps: np.ndarray, side: int) -> np.ndarray:
    """(N, C, h, w) -> (N, C, side, side) bilinear with half-pixel centres (maps of one box at another stride)."""
    out = np.empty(maps.shape[:2] + (side, side), np.float32)
    for i in range(maps.shape[0]):
        hwc = np.ascontiguousarray(maps[i].transpose(1, 2, 0), dtype=np.float32)  # (h, w, C)
        out[i] = (
            cv2.resize(hwc, (side, side), interpolation=cv2.INTER_LINEAR).reshape(side, side, -1).transpose(2, 0, 1)
        )
    return out


def _check_image(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"expected a BGR image (H, W, 3), got an array of shape {arr.shape}")
    if arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {arr.dtype}")
    return arr


def _check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(s) for s in scales)
    if not out or any(not math.isfinite(s) or s <= 0 for s in out):
        raise ValueError(f"scales must be positive numbers, got {list(scales)}")
    return out


def spec_from_config(data_cfg: DataConfig, scales: Sequence[float] = (1.0,)) -> CropSpec:
    """The crop settings of a data config (the same crop the evaluation and training use)."""
    return CropSpec(
        input_size=int(data_cfg.input_size),
        stride=int(data_cfg.stride),
        box_padding=float(data_cfg.box_padding),
        mirror_left=bool(data_cfg.mirror_left),
        scales=_check_scales(scales),
    )


def _data_config_from_json(text: str | None, model_cfg: ModelConfig) -> DataConfig:
    if not text:
        return DataConfig(input_size=int(model_cfg.input_size))
    return data_config_from_dict(json.loads(text), model_cfg)


def data_config_from_dict(data: dict[str, Any], model_cfg: ModelConfig) -> DataConfig:
    """A DataConfig from stored metadata; missing keys take defaults (input size from the model config)."""
    data = dict(data)
    data.setdefault("input_size", int(model_cfg.input_size))
    return from_dict(DataConfig, data)


def read_data_config(path: str | Path, model_cfg: ModelConfig) -> DataConfig:
    """The data config stored with weights by training, else defaults at the model's input size.

    Looked up as JSON under metadata ``data_config`` (safetensors), or in a checkpoint dict as ``data_config``
    or as the ``dataset`` of a stored TrainConfig (``train_config`` / ``config``).
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".safetensors":
            from handpose.model.weights import read_metadata

            text = read_metadata(path).get(DATA_CONFIG_KEY)
            return _data_config_from_json(text, model_cfg)
        import torch

        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
        if isinstance(ckpt, dict):
            for key in (DATA_CONFIG_KEY, "train_config", "config"):
                value = ckpt.get(key)
                if isinstance(value, dict):
                    value = value.get("dataset", value) if key != DATA_CONFIG_KEY else value
                    return data_config_from_dict(value, model_cfg)
                if isinstance(value, str):
                    return _data_config_from_json(value, model_cfg)
    except (ValueError, TypeError, KeyError) as exc:
        LOG.warning("%s: ignoring the stored data config (%s); using defaults", path, exc)
    return DataConfig(input_size=int(model_cfg.input_size))


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """The handpose metadata of an ONNX file; ValueError when it is not an ONNX file handpose exported."""
    import onnx

    path = Path(path)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others on foreign files
        raise ValueError(f"{path}: not a readable ONNX file ({exc})") from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get(META_FORMAT) != META_FORMAT_VALUE or META_MODEL_CONFIG not in meta:
        raise ValueError(
            f"{path}: an ONNX file without handpose metadata (expected {META_FORMAT}={META_FORMAT_VALUE}); "
            "export models with `handpose export`"
        )
    return meta


def list_images(path: str | Path) -> list[Path]:
    """The image files of a folder (sorted), or the one path given; FileNotFoundError / ValueError when none."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image or folder not found: {path}")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
    return files


def output_names(paths: Sequence[str | Path]) -> list[str]:
    """A unique output name per image, for NAME.json / NAME_overlay.png / NAME_maps.png in one folder.

    The name is the file's stem; images whose stems collide (``a.jpg`` and ``a.png``; stems differing only in
    case count as colliding, for case-insensitive file systems) keep their extension instead: ``a_jpg``,
    ``a_png``. A name still taken after that gets ``_2``, ``_3``, ... so no result overwrites another.
    """
    paths = [Path(p) for p in paths]
    stems = Counter(p.stem.lower() for p in paths)
    names = [p.stem if stems[p.stem.lower()] == 1 else f"{p.stem}_{p.suffix.lstrip('.')}" for p in paths]
    taken: set[str] = {n.lower() for n, p in zip(names, paths) if stems[p.stem.lower()] == 1}
    for i, p in enumerate(paths):
        if stems[p.stem.lower()] == 1:
            continue
        base, k = names[i], 2
        while names[i].lower() in taken:
            names[i], k = f"{base}_{k}", k + 1
        taken.add(names[i].lower())
    return names


def keypoints_in_crop(prediction: Prediction) -> np.ndarray:
    """(21, 2) the prediction's keypoints in its crop's pixels (for drawing over :attr:`Prediction.crop`)."""
    if prediction.matrix is None:
        raise ValueError("prediction has no crop matrix")
    return apply_affine(prediction.keypoints, prediction.matrix).astype(np.float32)


def predict_to_files(
    predictor: Predictor,
    image_path: str | Path,
    out_dir: str | Path,
    box: Sequence[float] | None = None,
    is_left: bool = False,
    maps: bool = True,
    name: str | None = None,
) -> list[Path]:
    """Predict one image and write NAME.json, NAME_overlay.png and (with ``maps``) NAME_maps.png into ``out_dir``.

    NAME is ``name`` (see :func:`output_names` for a folder of images), default the image's stem. Returns the
    written paths. FileNotFoundError / ValueError for an unreadable image or a box off the image.
    """
    from handpose.viz import belief_map_figure, draw_skeleton, save_bgr, save_rgb

    image_path, out_dir = Path(image_path), Path(out_dir)
    image = read_image(image_path)
    pred = predictor.predict(image, box=box, is_left=is_left, keep_maps=maps)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name or image_path.stem
    record = {
        "image": str(image_path),
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "model": predictor.name,
        "is_left": bool(is_left),
        "flip_test": predictor.flip_test,
        "scales": list(predictor.spec.scales),
        **pred.to_dict(),
    }
    written = [out_dir / f"{stem}.json"]
    written[0].write_text(json.dumps(record, indent=1) + "\n")
    overlay = draw_skeleton(image, pred.keypoints, pred.scores)
    if box is not None:
        x, y, w, h = (int(round(float(v))) for v in box)
        cv2.rectangle(overlay, (x, y), (x + w, y + h), (200, 200, 200), 1, cv2.LINE_AA)
    written.append(save_bgr(out_dir / f"{stem}_overlay.png", overlay))
    if maps and pred.stage_maps is not None and pred.crop is not None:
        names = [f"stage {s + 1}" for s in range(pred.stage_maps.shape[0])]
        if predictor.stages == 1:
            names = ["last stage (ONNX)"]
        figure = belief_map_figure(
            pred.crop,
            pred.stage_maps,
            keypoints_in_crop(pred),
            stride=predictor.spec.stride,
            stage_names=names,
            scores=pred.scores,
        )
        written.append(save_rgb(out_dir / f"{stem}_maps.png", figure))
    return written
