"""Static int8 quantization of an exported handpose ONNX file (onnxruntime.quantization), calibrated on real crops.

Calibration crops come from a dataset's validation split (cut with the predictor's own crop code, so they are
exactly what the network sees at inference) or from the synthetic hand generator. The quantized file keeps the
fp32 file's metadata (plus ``int8`` details) and is checked against it: the report gives the mean keypoint
difference in crop pixels between the two on held-out crops that calibration did not see (:func:`split_held_out`).
Synthetic calibration hands are rendered into a temporary folder that is deleted once the crops are cut.

Format: QOperator (QLinearConv) with per-channel int8 weights and uint8 activations, the fastest of the formats
measured on 2-core CPUs (BENCHMARKS.md); ``fmt="qdq"`` is kept for runtimes that want QDQ graphs.
``benchmarks/bench_inference.py`` measures fp32 against int8 in one run.
"""

from __future__ import annotations

import contextlib
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
from handpose.files import atomic_write
from handpose.words import counted

LOG = logging.getLogger(__name__)

HELD_OUT_MAX = 8  # crops kept out of calibration to measure the int8 keypoint change on


@dataclass
class QuantReport:
    """What :func:`quantize_int8` wrote and how far its keypoints are from the fp32 model's."""

    path: Path
    keypoint_diff_px: float  # mean distance (crop px) between fp32 and int8 decoded keypoints
    keypoint_diff_max_px: float
    calib_count: int
    fmt: str
    seconds: float
    check_count: int = 0  # crops the keypoint difference was measured on
    checked_on: str = ""  # which crops those are, in words ("4 held-out crops not used for calibration")


def held_out_count(calib_count: int) -> int:
    """How many crops to cut beside ``calib_count`` calibration crops to check the int8 model on."""
    return min(HELD_OUT_MAX, max(2, int(calib_count) // 4))


def split_held_out(crops: np.ndarray, calib_count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(calibration, held-out) crops: the first ``calib_count`` calibrate, the rest check the int8 model.

    ``calib_count`` None holds out a fifth (1 to ``HELD_OUT_MAX``). At least one crop is held out whenever there
    are two or more; a single crop can only calibrate (the held-out part is then empty).
    """
    n = len(crops)
    if n < 2:
        return crops, crops[:0]
    keep = n - min(HELD_OUT_MAX, max(1, n // 5)) if calib_count is None else int(calib_count)
    keep = max(1, min(keep, n - 1))
    return crops[:keep], crops[keep:]


class _Reader:
    """onnxruntime CalibrationDataReader over a float32 batch, one crop at a time."""

    def __init__(self, name: str, x: np.ndarray) -> None:
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
    check_crops: np.ndarray | None = None,
) -> QuantReport:
    """Quantize ``fp32_path`` to ``out`` calibrated on ``crops`` (N, S, S, 3) uint8; report the keypoint change.

    The change against fp32 is measured on ``check_crops`` (M, S, S, 3), crops calibration did not see; None
    splits them off ``crops`` with :func:`split_held_out`. Where none are left (one crop, or an empty
    ``check_crops``) it is measured on the calibration crops, and :attr:`QuantReport.checked_on` says so.
    """
    from handpose.data.codec import keypoint_distances
    from handpose.inference.backends import OnnxBackend

    fmt = fmt.lower()
    if crops.ndim != 4 or crops.shape[0] == 0:
        raise ValueError(f"calibration needs crops (N, S, S, 3) with N > 0, got shape {crops.shape}")
    if check_crops is None:
        crops, check_crops = split_held_out(crops)
    fp32_path, out = Path(fp32_path), Path(out)
    t0 = time.perf_counter()
    x = to_network_input(crops)  # (N, 3, S, S)
    if len(check_crops):
        x_check = to_network_input(check_crops)  # (M, 3, S, S)
        checked_on = f"{counted(len(check_crops), 'held-out crop')} not used for calibration"
    else:
        x_check = x
        checked_on = f"the {counted(len(crops), 'calibration crop')} (too few crops to hold any out)"
        LOG.warning("int8 check: no held-out crops, measuring on the calibration crops")
    fp32_meta = quantize_static_file(fp32_path, out, x, fmt, per_channel, reduce_range, "crops", checked_on)
    ref = OnnxBackend(fp32_path)(x_check)[0]  # (M, 22, h, w)
    got = OnnxBackend(out)(x_check)[0]
    d = keypoint_distances(got, ref, int(fp32_meta.get("stride", 8)))  # (M, 21) crop px
    seconds = time.perf_counter() - t0
    LOG.info(
        "int8 %s: keypoints differ from fp32 by %.2f px on average (max %.1f) on %s",
        out, d.mean(), d.max(), checked_on,
    )
    return QuantReport(
        out, float(d.mean()), float(d.max()), int(x.shape[0]), fmt, seconds, int(x_check.shape[0]), checked_on
    )


def quantize_static_file(fp32_path: str | Path, out: str | Path, x: np.ndarray, fmt: str = "qoperator",
                         per_channel: bool = True, reduce_range: bool = False, what: str = "crops",
                         checked_on: str = "") -> dict[str, str]:
    """Static int8 quantization of the ONNX file ``fp32_path`` (its one input ``image``) into ``out``, calibrated
    on ``x`` (N, 3, H, W) float32 network inputs (``what`` names them in the metadata); the fp32 file's metadata is
    kept, with the int8 details added. Returns that metadata. Written atomically."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from handpose.export import add_metadata

    fmt = fmt.lower()
    if fmt not in ("qdq", "qoperator"):
        raise ValueError(f"int8 format must be 'qdq' or 'qoperator', got {fmt!r}")
    fp32_path, out = Path(fp32_path), Path(out)
    with tempfile.TemporaryDirectory(prefix="handpose-quant-") as tmp:
        source = _pre_processed(fp32_path, Path(tmp) / "prepped.onnx")
        quantized = Path(tmp) / "int8.onnx"
        with _tensors_left_in_float():
            quantize_static(
                str(source),
                str(quantized),
                _Reader("image", x),
                quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                reduce_range=reduce_range,
                calibrate_method=CalibrationMethod.MinMax,
            )
        meta = {p.key: p.value for p in onnx.load(str(fp32_path), load_external_data=False).metadata_props}
        proto = onnx.load(str(quantized))
        meta.update({"int8": f"static {fmt} per_channel={per_channel} reduce_range={reduce_range} "
                             f"calib={x.shape[0]} {what}", "int8_check": checked_on})
        add_metadata(proto, meta)
        drop_unused_opsets(proto)
        atomic_write(out, lambda t: onnx.save(proto, str(t)))  # the earlier file stays whole until this one is
    return meta


def drop_unused_opsets(proto: Any) -> None:
    """Removes in place the ``opset_import`` entries of domains that no node uses (the default domain stays).
    onnxruntime's quantizer stamps every domain its own release knows, ``ai.onnx.ml`` 5 among them in current ones,
    and an older onnxruntime refuses to load a file stamped with a newer opset than it knows, used or not."""
    used = {""}

    def visit(nodes: Any) -> None:
        for node in nodes:
            used.add(node.domain)
            for attr in node.attribute:
                for graph in [attr.g, *attr.graphs]:
                    visit(graph.node)

    visit(proto.graph.node)
    for function in proto.functions:
        used.add(function.domain)
        visit(function.node)
    kept = [op for op in proto.opset_import if op.domain in used or op.domain == "ai.onnx"]
    del proto.opset_import[:]
    proto.opset_import.extend(kept)


def _pre_processed(fp32_path: Path, prepped: Path) -> Path:
    """onnxruntime's optional pre-processing (shape inference, folding) written to ``prepped``; ``fp32_path`` itself
    when it fails (quantization works without it)."""
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=True)
        return prepped
    except Exception as exc:  # onnxruntime raises its own types here
        LOG.warning("quant_pre_process failed (%s); quantizing the file as exported", exc)
        return fp32_path


def calibration_crops(source: str | Path, count: int, data_cfg: DataConfig, seed: int = 0) -> np.ndarray:
    """(N, S, S, 3) uint8 crops for calibration, N up to ``count`` (a warning says when the source has fewer): a
    dataset path (its validation split first, then its training split, each in a random order) or ``"synthetic"``
    (hands rendered by ``handpose.synth`` into a temporary folder, deleted before returning); cut with the
    predictor's crop code."""
    from handpose.data.formats import load_splits

    rng = np.random.default_rng(seed)
    if str(source) == "synthetic":
        from handpose import synth

        with tempfile.TemporaryDirectory(prefix="handpose-calib-") as tmp:
            folder = synth.write_dataset(Path(tmp), count=count, seed=seed, size=max(int(data_cfg.input_size), 128))
            splits = load_splits(folder, val_fraction=0.0)
            every = splits.train + splits.val
            return _cut_crops([every[i] for i in rng.permutation(len(every))], source, count, data_cfg)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"calibration data not found: {path}")
    from handpose.data.formats.several import load_several

    splits = load_several(path, data_cfg.val_fraction)  # one dataset, or a folder of several as train reads it
    ordered = [part[i] for part in (splits.val, splits.train) for i in rng.permutation(len(part))]
    return _cut_crops(ordered, source, count, data_cfg)


def _cut_crops(samples: list[Any], source: str | Path, count: int, data_cfg: DataConfig) -> np.ndarray:
    """Up to ``count`` crops of ``samples`` in their order, skipping unreadable ones; a warning when fewer."""
    from handpose.data.crop import sample_box
    from handpose.inference.prepare import spec_from_config

    spec = spec_from_config(data_cfg)
    crops, bad = [], 0
    for s in samples[: max(count * 2, count + 8)]:
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
    if len(crops) < count:
        LOG.warning("calibration: %s gave %d crops of the %d asked for (--calib-count and the held-out check); the "
                    "int8 model is calibrated and checked on fewer", source, len(crops), count)
    return np.stack(crops)


class _CountFloatTensors(logging.Filter):
    """Drops onnxruntime's per-tensor "Inference failed or unsupported type to quantize" warnings, counting them."""

    PREFIX = "Inference failed or unsupported type to quantize"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(self.PREFIX):
            self.count += 1
            return False
        return True


@contextlib.contextmanager
def _tensors_left_in_float() -> Iterator[None]:
    """onnxruntime's quantizer warns on the root logger, several lines each, for every tensor whose type its shape
    inference could not tell (the upsampling of an output-stride-4 model): those stay float, which the int8 check
    measures anyway. Counted into one debug line instead."""
    counter = _CountFloatTensors()
    root = logging.getLogger()
    root.addFilter(counter)
    try:
        yield
    finally:
        root.removeFilter(counter)
        if counter.count:
            LOG.debug("int8: %d tensors of unknown type left in float", counter.count)
