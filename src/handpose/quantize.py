"""Static int8 quantization of an exported handpose ONNX file (onnxruntime.quantization), calibrated on real crops.

Calibration crops come from a dataset's validation split (cut with the predictor's own crop code, so they are
exactly what the network sees at inference) or from the synthetic hand generator. The quantized file keeps the
fp32 file's metadata (plus ``int8`` details) and is checked against it: the report gives the mean keypoint
difference in crop pixels between the two on the calibration crops.

Format: QOperator (QLinearConv) with per-channel int8 weights and uint8 activations, the fastest measured on this
project's 2-core AMD EPYC (AVX2, no VNNI): for the openpose preset at 368 px, fp32 1.29-1.47 s, QOperator
per-channel 0.70 s, QDQ per-channel 1.57 s (slower than fp32: onnxruntime did not fuse it into integer kernels
here), QDQ with reduce_range 2.5 s (one image, 2 threads, machine shared). ``fmt="qdq"`` is kept for runtimes
that want QDQ graphs. ``benchmarks/bench_inference.py`` measures fp32 against int8 in one run.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.config import DataConfig
from handpose.data.transforms import to_network_input

LOG = logging.getLogger(__name__)


@dataclass
class QuantReport:
    """What :func:`quantize_int8` wrote and how far its keypoints are from the fp32 model's."""

    path: Path
    keypoint_diff_px: float  # mean distance (crop px) between fp32 and int8 decoded keypoints
    keypoint_diff_max_px: float
    calib_count: int
    fmt: str
    seconds: float


class _Reader:
    """onnxruntime CalibrationDataReader over a float32 batch, one crop at a time."""

    def __init__(self, name: str, x: np.ndarray):
        self.name = name
        self.items: Iterator[np.ndarray] = iter(x[i : i + 1] for i in range(x.shape[0]))

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self.items, None)
        return None if item is None else {self.name: item}

    def rewind(self) -> None:  # required by newer onnxruntime versions; one pass is enough here
        pass


def quantize_int8(
    fp32_path: str | Path,
    out: str | Path,
    crops: np.ndarray,
    fmt: str = "qoperator",
    per_channel: bool = True,
    reduce_range: bool = False,
) -> QuantReport:
    """Quantize ``fp32_path`` to ``out`` calibrated on ``crops`` (N, S, S, 3) uint8; report the keypoint change."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from handpose.data.heatmaps import decode
    from handpose.export import add_metadata
    from handpose.predict import OnnxBackend

    fmt = fmt.lower()
    if fmt not in ("qdq", "qoperator"):
        raise ValueError(f"int8 format must be 'qdq' or 'qoperator', got {fmt!r}")
    if crops.ndim != 4 or crops.shape[0] == 0:
        raise ValueError(f"calibration needs crops (N, S, S, 3) with N > 0, got shape {crops.shape}")
    fp32_path, out = Path(fp32_path), Path(out)
    t0 = time.perf_counter()
    x = to_network_input(crops)  # (N, 3, S, S)
    with tempfile.TemporaryDirectory(prefix="handpose-quant-") as tmp:
        prepped = Path(tmp) / "prepped.onnx"
        try:
            from onnxruntime.quantization.shape_inference import quant_pre_process

            quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=True)
            source = prepped
        except Exception as exc:  # optional optimisation step; quantization works without it
            LOG.warning("quant_pre_process failed (%s); quantizing the file as exported", exc)
            source = fp32_path
        quantize_static(
            str(source),
            str(out),
            _Reader("image", x),
            quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=reduce_range,
            calibrate_method=CalibrationMethod.MinMax,
        )
    fp32_meta = {p.key: p.value for p in onnx.load(str(fp32_path), load_external_data=False).metadata_props}
    proto = onnx.load(str(out))
    fp32_meta.update(
        {"int8": f"static {fmt} per_channel={per_channel} reduce_range={reduce_range} calib={x.shape[0]} crops"}
    )
    add_metadata(proto, fp32_meta)
    onnx.save(proto, str(out))

    ref = OnnxBackend(fp32_path)(x)[0]  # (N, 22, h, w)
    got = OnnxBackend(out)(x)[0]
    d = np.linalg.norm(decode(got)[0] - decode(ref)[0], axis=-1)  # (N, 21) crop px
    seconds = time.perf_counter() - t0
    LOG.info("int8 %s: keypoints differ from fp32 by %.2f px on average (max %.1f)", out, d.mean(), d.max())
    return QuantReport(out, float(d.mean()), float(d.max()), int(x.shape[0]), fmt, seconds)


def calibration_crops(source: str | Path, count: int, data_cfg: DataConfig, seed: int = 0) -> np.ndarray:
    """(N, S, S, 3) uint8 crops for calibration: a dataset path (its validation split, else its training split)
    or ``"synthetic"`` (hands rendered by ``handpose.synth``); cut with the predictor's crop code."""
    from handpose.predict import sample_box, spec_from_config

    samples = _calibration_samples(source, count, data_cfg, seed)
    spec = spec_from_config(data_cfg)
    crops, bad = [], 0
    for s in samples:
        try:
            crops.append(spec.prepare_file(s.image_path, sample_box(s), s.is_left).crops[0])
        except (ValueError, FileNotFoundError) as exc:
            bad += 1
            LOG.debug("calibration: skipping %s (%s)", s.image_path, exc)
        if len(crops) >= count:
            break
    if not crops:
        raise ValueError(f"no usable calibration image in {source} ({bad} unreadable)")
    if bad:
        LOG.warning("calibration: skipped %d unreadable samples", bad)
    return np.stack(crops)


def _calibration_samples(source: str | Path, count: int, data_cfg: DataConfig, seed: int) -> list[Any]:
    from handpose.data.formats import load_splits

    if str(source) == "synthetic":
        from handpose import synth

        tmp = Path(tempfile.mkdtemp(prefix="handpose-calib-"))
        folder = synth.write_dataset(tmp, count=count, seed=seed, size=max(int(data_cfg.input_size), 128))
        splits = load_splits(folder, val_fraction=0.0)
        samples = splits.train + splits.val
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"calibration data not found: {path}")
        splits = load_splits(path, val_fraction=data_cfg.val_fraction)
        samples = splits.val or splits.train
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(samples))
    return [samples[i] for i in order[: max(count * 2, count + 8)]]
