"""Evaluation: run the predictor over labelled samples and compute MMPose-comparable metrics.

:func:`evaluate` is what training validation calls: each sample is cropped around its ground-truth box with the
predictor's crop code (``inference.prepare.CropSpec``, the same crop ``handpose predict --box`` makes), run through the
network in batches (optionally with flip test and several scales), decoded and mapped back to original-image
pixels, then scored with ``metrics.keypoint_metrics``. Unreadable images are skipped and counted.
:func:`run_evaluation` is the ``handpose eval`` run: load a model file and a dataset split, evaluate, write a JSON
report and a plot of PCK against threshold.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from handpose.autotune.free_cores import process_default
from handpose.config import DataConfig
from handpose.data.crop import sample_box
from handpose.data.sample import Sample
from handpose.eval_predictions import Predictions, write_report
from handpose.files import atomic_write
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec, Prepared
from handpose.keypoints import NAMES, NUM_KEYPOINTS
from handpose.metrics import AUC_NORM_PX, box_sizes, format_metrics, keypoint_metrics, normalized_distances
from handpose.metrics import pck_from_distances as _pck
from handpose.run_environment import run_environment

LOG = logging.getLogger(__name__)

READ_THREADS = 2  # image-reading threads of an in-process evaluation (workers=0)
REPORT_NAME, CURVE_NAME = "eval_report.json", "pck_curve.png"  # what run_evaluation writes into --out


def _prepare_one(spec: CropSpec, sample: Sample) -> Prepared | str:
    """The crops of one sample, or the reason it cannot be used."""
    try:
        return spec.prepare_file(sample.image_path, sample_box(sample), bool(sample.is_left))
    except (FileNotFoundError, ValueError, OSError) as exc:
        return str(exc)


class _CropDataset:
    """Map-style dataset for torch's DataLoader workers: sample index -> (index, Prepared | error message)."""

    def __init__(self, samples: Sequence[Sample], spec: CropSpec) -> None:
        self.samples = samples
        self.spec = spec

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[int, Prepared | str]:
        return i, _prepare_one(self.spec, self.samples[i])


def _collate(items: list[tuple[int, Prepared | str]]) -> list[tuple[int, Prepared | str]]:
    return items


def _batches(
    samples: Sequence[Sample], spec: CropSpec, batch_size: int, workers: int, threads: int = READ_THREADS
) -> Iterator[list[tuple[int, Prepared | str]]]:
    """Batches of prepared crops in sample order, read in ``workers`` processes, or (``workers`` 0) in ``threads``
    threads of this process that read ahead while the network runs (image decoding and warping release the GIL);
    ``threads`` <= 1 reads one image after another in this thread."""
    if workers <= 0 and threads <= 1:
        for start in range(0, len(samples), batch_size):
            yield [(i, _prepare_one(spec, samples[i])) for i in range(start, min(start + batch_size, len(samples)))]
        return
    if workers <= 0:
        yield from _thread_batches(samples, spec, batch_size, threads)
        return
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(
        _CropDataset(samples, spec),  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate,
        persistent_workers=False,
        generator=torch.Generator(),  # its workers' seeds drawn from its own: the caller's torch stream stays as it was
    )
    yield from loader


def _thread_batches(
    samples: Sequence[Sample], spec: CropSpec, batch_size: int, threads: int
) -> Iterator[list[tuple[int, Prepared | str]]]:
    """:func:`_batches` with a thread pool: at most two batches of crops are read ahead (bounded memory)."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: deque[tuple[int, Future[Prepared | str]]] = deque()
    todo = iter(range(len(samples)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="eval-read") as pool:
        for i in todo:
            pending.append((i, pool.submit(_prepare_one, spec, samples[i])))
            if len(pending) >= 2 * batch_size:
                break
        batch: list[tuple[int, Prepared | str]] = []
        while pending:
            i, future = pending.popleft()
            batch.append((i, future.result()))
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_prepare_one, spec, samples[nxt])))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


SKIP_EXAMPLES = 3  # skipped samples named in the warning and the report


def evaluate(
    model: Any,
    samples: Sequence[Sample],
    data_cfg: DataConfig | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    flip_test: bool | None = None,
    scales: Sequence[float] | None = None,
    workers: int = 0,
    keep_predictions: bool = False,
    threads: int = READ_THREADS,
    progress: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` on ``samples`` (each cropped around its ground-truth box).

    Args:
        model: a CPM (run where its parameters are; it is put in eval mode for the run and restored after),
            a :class:`~handpose.inference.predictor.Predictor` (its crop settings and backend are used; ``data_cfg`` is
            ignored), or a path to a model file (loaded on ``device``).
        data_cfg: the crop settings (input size, box padding, left-hand mirroring); default: the model's.
        flip_test, scales: test-time options; None keeps a Predictor's own, else off and (1.0,).
        workers: image-reading processes; 0 reads in ``threads`` threads of this process, ahead of the network.
        progress: show a progress bar (on a terminal only: stderr must be one).
        keep_predictions: also return ``"predictions"`` (a :class:`~handpose.eval_predictions.Predictions`, a
            sequence of per sample: key, keypoints [[x, y, score] x 21], kept as one array) and
            the arrays ``"_arrays"`` (pred, gt, boxes, head sizes) used by :func:`run_evaluation`'s plot.

    Returns:
        ``keypoint_metrics``' keys (``PCK@0.2``, ``PCKh@0.7`` where head sizes exist, ``AUC``, ``EPE``,
        ``per_keypoint_PCK@0.2``, ``num_keypoints``, ``num_samples``) plus ``num_skipped``, ``skipped``
        (reason -> count), ``skipped_examples`` (the first few, each with its file and why), ``seconds``,
        ``flip_test``, ``scales``, ``side_chosen`` (hands whose dataset gives no side: each is cut as a right hand
        and, for a model trained with left hands mirrored, also mirrored, the more confident kept;
        ``Predictor.predict_either_side``) and ``side_chosen_left`` (of those, taken for left).
    """
    t0 = time.perf_counter()
    if isinstance(model, Predictor):
        predictor = model.with_options(flip_test=flip_test, scales=scales)
    elif isinstance(model, (str, Path)):
        predictor = Predictor.from_file(model, device=device, flip_test=bool(flip_test), scales=scales or (1.0,))
    else:
        predictor = Predictor.from_model(model, data_cfg, flip_test=bool(flip_test), scales=scales or (1.0,))
    n = len(samples)
    pred = np.full((n, NUM_KEYPOINTS, 2), np.nan, np.float32)
    scores = np.zeros((n, NUM_KEYPOINTS), np.float32)
    ok = np.zeros(n, bool)
    chosen_left = 0  # hands without a side in their dataset that the network took for left hands
    skipped: Counter[str] = Counter()
    examples: list[str] = []  # the first skipped samples, each with its file and why
    bar = tqdm(total=n, unit="hand", desc="eval", disable=not (progress and sys.stderr.isatty()))
    for batch in _batches(samples, predictor.spec, max(1, int(batch_size)), int(workers), int(threads)):
        bar.update(len(batch))
        good = [(i, p) for i, p in batch if isinstance(p, Prepared)]
        for i, p in batch:
            if not isinstance(p, Prepared):
                skipped[_reason(p)] += 1
                if len(examples) < SKIP_EXAMPLES:
                    examples.append(f"{samples[i].key or samples[i].image_path}: {p}")
                LOG.debug("evaluation: skipping %s: %s", samples[i].image_path, p)
        if not good:
            continue
        known = [(i, p) for i, p in good if samples[i].side_known]
        unknown = [(i, p) for i, p in good if not samples[i].side_known]  # cut as right hands; the network chooses
        results = predictor.predict_prepared([p for _, p in known]) if known else []
        results += predictor.predict_either_side([p for _, p in unknown]) if unknown else []
        for (i, _), r in zip(known + unknown, results):
            pred[i], scores[i], ok[i] = r.keypoints, r.scores, True
            chosen_left += int(not samples[i].side_known and r.is_left)
    bar.close()
    if skipped:
        LOG.warning("evaluation skipped %d of %d samples: %s; e.g. %s", sum(skipped.values()), n, dict(skipped),
                    "; ".join(examples))
    used = [samples[i] for i in np.flatnonzero(ok)]
    gt = np.stack([np.asarray(s.keypoints, np.float32) for s in used]) if used else np.zeros((0, NUM_KEYPOINTS, 3))
    boxes = np.stack([sample_box(s) for s in used]) if used else np.zeros((0, 4), np.float32)
    heads = np.array([math.nan if s.head_size is None else float(s.head_size) for s in used], np.float64)
    result: dict[str, Any] = dict(keypoint_metrics(pred[ok], gt, boxes, heads if used else None))
    result.update(
        num_skipped=int(sum(skipped.values())),
        skipped=dict(skipped),
        skipped_examples=examples,
        seconds=round(time.perf_counter() - t0, 3),
        flip_test=bool(predictor.flip_test),
        scales=[float(s) for s in predictor.spec.scales],
        side_chosen=int(sum(not s.side_known for s in used)),
        side_chosen_left=chosen_left,
    )
    if keep_predictions:
        # one array, not 21 lists a sample: the report writes each sample's lists as it goes (write_report)
        kept = np.concatenate([pred[ok], scores[ok][:, :, None]], axis=2)  # (M, 21, 3) x, y, score
        result["predictions"] = Predictions([s.key or str(s.image_path) for s in used], kept)
        result["_arrays"] = {"pred": pred[ok], "gt": gt, "boxes": boxes, "head_sizes": heads}
    return result


def _tuned(predictor: Predictor, samples: Sequence[Sample], batch_size: int, amp: bool | None,
           channels_last: bool | None) -> Predictor:
    """``predictor`` with the speed settings measured on the first batch's crops (``handpose.autotune``)."""
    from handpose.autotune.resolve import trial_crops, tune_predictor

    first = [p for p in (_prepare_one(predictor.spec, s) for s in samples[: max(1, batch_size)])
             if isinstance(p, Prepared)]
    if not first:
        return predictor
    return tune_predictor(predictor, trial_crops(predictor, first), amp, channels_last)


def _reason(message: str) -> str:
    """A short reason for the skip counter."""
    for reason in ("not found", "corrupt", "truncated", "too large", "no box", "outside the image", "longer side",
                   "cannot"):
        if reason in message:
            return reason
    return "other"


def pck_curves(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """PCK against threshold: normalised by the box (0..0.5), by the head size (0..1, where present) and in pixels
    (0..30 px, the AUC curve)."""
    pred, gt = arrays["pred"], arrays["gt"]
    curves: dict[str, Any] = {}
    if len(gt) == 0:
        return curves
    d_box = normalized_distances(pred, gt, box_sizes(arrays["boxes"]))
    t_box = np.linspace(0, 0.5, 51)
    curves["box"] = {"thresholds": t_box.tolist(), "pck": [_pck(d_box, t) for t in t_box]}
    heads = arrays["head_sizes"]
    if np.isfinite(heads).any():
        d_head = normalized_distances(pred, gt, heads)
        t_head = np.linspace(0, 1.0, 51)
        curves["head"] = {"thresholds": t_head.tolist(), "pck": [_pck(d_head, t) for t in t_head]}
    d_px = normalized_distances(pred, gt, 1.0)
    t_px = np.linspace(0, AUC_NORM_PX, 61)
    curves["pixels"] = {"thresholds": t_px.tolist(), "pck": [_pck(d_px, t) for t in t_px]}
    return curves


def plot_pck(curves: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Save the PCK-against-threshold plot atomically. Drawn on a ``matplotlib.figure.Figure`` of its own, not
    through pyplot: the caller's backend (a notebook's inline one, say) and open figures are left as they are."""
    from matplotlib.figure import Figure

    panels = [
        ("box", "distance / max(w, h) of the box", 0.2),
        ("head", "distance / head size", 0.7),
        ("pixels", "distance in pixels (AUC range)", None),
    ]
    panels = [p for p in panels if p[0] in curves]
    fig = Figure(figsize=(5 * len(panels), 4))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (key, label, mark) in zip(axes[0], panels):
        c = curves[key]
        ax.plot(c["thresholds"], c["pck"], lw=2)
        if mark is not None:
            ax.axvline(mark, color="grey", ls="--", lw=1)
        ax.set_xlabel(label)
        ax.set_ylabel("PCK")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    # atomically: a failed or killed write leaves an earlier report's plot whole (eval --overwrite); the format is
    # the path's suffix, PNG without one (read from the temporary file's name, a path without one failed)
    kind = Path(path).suffix[1:].lower() or "png"
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format=kind))


def curve_title(weights: str | Path, data: str | Path, split: str, result: dict[str, Any]) -> str:
    """The PCK plot's title: model file, dataset and split, hand count and the headline metrics."""
    m = result
    return (f"{Path(weights).name} on {Path(data).name} ({split}, {m['num_samples']} hands)\n"
            f"PCK@0.2 {m['PCK@0.2']:.3f}  AUC {m['AUC']:.3f}  EPE {m['EPE']:.1f} px")


def run_evaluation(
    weights: str | Path,
    data: str | Path,
    fmt: str | None = None,
    keypoint_order: str | None = None,
    split: str = "val",
    flip_test: bool = False,
    scales: Sequence[float] = (1.0,),
    batch_size: int = 16,
    out: str | Path | None = None,
    workers: int = 0,
    device: str = "cpu",
    amp: bool | None = False,
    channels_last: bool | None = False,
    val_fraction: float = 0.1,
) -> dict[str, Any]:
    """The ``handpose eval`` run: evaluate a model file on a dataset split; write ``eval_report.json`` and
    ``pck_curve.png`` into ``out`` (when given). Returns the report (metrics, per-keypoint PCK by name,
    curves, settings, and ``predictions``: :func:`evaluate`'s, kept as one array and written hand by hand).
    ``amp`` / ``channels_last``: bf16 autocast and the channels-last layout for a PyTorch model, None for the
    faster (``handpose.autotune``, timed on the first batch's crops). ``val_fraction``: the share held out by
    hash where the dataset has no split of its own, as ``train --val-fraction``; a model that records a smaller
    one is warned about (``eval_held_out``)."""
    from handpose.data.formats import load_splits
    from handpose.data.formats.load import check_split
    from handpose.eval_held_out import recorded_fraction, warn_for_split

    check_split(split)  # a bad --split named before the model and the data are read
    predictor = Predictor.from_file(weights, device=device)
    splits = load_splits(data, fmt=fmt, keypoint_order=keypoint_order, val_fraction=val_fraction)
    samples = splits.part(split)
    if not samples:
        raise ValueError(f"{data}: the {split} split is empty ({len(splits.train)} train, {len(splits.val)} val); "
                         "--split all scores every sample")
    LOG.info("evaluating %s on %d %s samples of %s (%s)", weights, len(samples), split, data, splits.fmt)
    warn_for_split(weights, data, splits, split, val_fraction)
    predictor = predictor.with_options(flip_test=flip_test, scales=scales)
    if amp is not False or channels_last is not False:
        predictor = _tuned(predictor, samples, batch_size, amp, channels_last)
    result = evaluate(predictor, samples, None, batch_size, device, flip_test, scales, workers, keep_predictions=True,
                      progress=True)
    arrays = result.pop("_arrays")
    if result["num_samples"] == 0:
        raise ValueError(f"{data}: none of the {len(samples)} {split} samples could be evaluated: {result['skipped']}")
    per_kp = result["per_keypoint_PCK@0.2"]
    report: dict[str, Any] = {
        "weights": str(weights),
        "data": str(data),
        "format": splits.fmt,
        "split": split,
        "val_fraction": recorded_fraction(split, splits.hashed, val_fraction),
        # annotations the reader skipped (every split), beside ``metrics.skipped`` (samples it could not crop)
        "skipped_annotations": dict(splits.skipped.counts),
        "metrics": {k: v for k, v in result.items() if k not in ("predictions", "per_keypoint_PCK@0.2")},
        "per_keypoint_PCK@0.2": {name: (None if math.isnan(v) else v) for name, v in zip(NAMES, per_kp)},
        "curves": pck_curves(arrays),
        "precision": getattr(predictor.backend, "precision", "as the ONNX file stores it"),  # bf16 moves figures
        # the layout and thread count move fp32 figures by float roundings only, but a report records them
        "channels_last": getattr(predictor.backend, "channels_last", None),
        "threads": process_default(),  # a number, "auto" (the cores others leave free) or None (PyTorch's own)
        # the device the network ran on: an ONNX file asked for CUDA runs on the CPU where onnxruntime cannot start it
        "environment": run_environment(getattr(predictor.backend, "device", device)),
        "crop": {
            "input_size": predictor.spec.input_size,
            "box_padding": predictor.spec.box_padding,
            "mirror_left": predictor.spec.mirror_left,
        },
        "predictions": result["predictions"],
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_report(out / REPORT_NAME, report)  # the predictions written sample by sample
        plot_pck(report["curves"], out / CURVE_NAME, title=curve_title(weights, data, split, result))
        report["files"] = [str(out / REPORT_NAME), str(out / CURVE_NAME)]
    report["summary"] = format_metrics(result)
    return report
