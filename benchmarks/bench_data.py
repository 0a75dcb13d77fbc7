"""Data pipeline speed and memory: samples/s per worker process, indexing time, RSS across epochs.

Measures, in one run, on images and annotations generated into a temporary folder:
1. samples/s of ``HandDataset.__getitem__`` (decode + crop + augment + targets + tensors) in one process with one
   OpenCV thread (what one DataLoader worker does), at 368 x 368 input:
   a. from 368 x 368 JPEGs (augmentation on, and off as the evaluation crop);
   b. from 1920 x 1080 JPEGs with a large hand (crop ~ 900 px): reduced JPEG decode vs the full-decode baseline;
   c. from 1920 x 1080 JPEGs with a small hand (crop ~ 225 px): full decode (no reduction possible);
2. indexing time of N per-hand json files (hand_labels_synth layout) in one process vs the process pool;
3. RSS of the main process (workers=0) and of the 2 persistent DataLoader workers of the training loader
   (``training.data.train_loader``: ``EpochIndexed`` + ``StreamSampler``, so every item gets its epoch's augmentation
   inside the workers, as in training) after each of several epochs.
Usage: ``python benchmarks/bench_data.py [--quick] [--index-files N] [--samples N] [--epochs N]``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from run_record import record_run

from handpose.config import AugmentConfig, DataConfig, TrainConfig
from handpose.data import formats, images
from handpose.data.dataset import HandDataset
from handpose.data.formats import json_io
from handpose.data.sample import Sample
from handpose.data.transforms import visible_box
from handpose.training.data import train_loader
from handpose.training.distributed import DistInfo


def make_image(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """A photo-like BGR image: gradient, shapes and mild noise (compresses like a real frame, not like noise)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w * 180, yy / h * 160, (xx + yy) / (w + h) * 200], axis=-1) + rng.uniform(0, 60, 3)
    img = base.astype(np.uint8)
    for _ in range(12):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, center, int(rng.integers(5, max(6, min(w, h) // 4))), c, -1)
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def write_images(folder: Path, count: int, w: int, h: int, hand: float, seed: int) -> list[Sample]:
    """``count`` JPEGs of w x h with a hand of about ``hand`` px somewhere inside; returns their samples."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(count):
        path = folder / f"{i:05d}.jpg"
        cv2.imwrite(str(path), make_image(w, h, rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
        cx = rng.uniform(hand / 2, w - hand / 2)
        cy = rng.uniform(hand / 2, h - hand / 2)
        kp = np.ones((21, 3), dtype=np.float32)
        kp[:, 0] = cx + rng.uniform(-hand / 2, hand / 2, 21)
        kp[:, 1] = cy + rng.uniform(-hand / 2, hand / 2, 21)
        samples.append(Sample(path, kp, bool(i % 2), visible_box(kp), None, f"{folder.name}/{i}"))
    return samples


def throughput(ds: HandDataset, n: int) -> float:
    """Items per second over n items (after 3 warm-up items), cycling epochs like training does."""
    for i in range(3):
        ds[i % len(ds)]
    t0 = time.perf_counter()
    for k in range(n):
        if k % len(ds) == 0:
            ds.set_epoch(k // len(ds))
        ds[k % len(ds)]
    return n / (time.perf_counter() - t0)


def paired_throughput(datasets: list[HandDataset], n: int, rounds: int = 5) -> list[float]:
    """Median items/s of each dataset over ``rounds`` interleaved rounds of n / rounds items (a shared, noisy machine
    drifts: interleaving keeps a comparison fair)."""
    rates: list[list[float]] = [[] for _ in datasets]
    for _ in range(rounds):
        for k, ds in enumerate(datasets):
            rates[k].append(throughput(ds, max(1, n // rounds)))
    return [float(np.median(r)) for r in rates]


def write_annotations(root: Path, n: int) -> None:
    """n per-hand json files (+ empty image placeholders: indexing never decodes images) over synth1..synth4."""
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 368, size=(n, 21, 2)).round(3)
    for f in range(4):
        (root / f"synth{f + 1}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        folder = root / f"synth{i % 4 + 1}"
        hand = [[float(x), float(y), 1.0] for x, y in pts[i]]
        (folder / f"{i:08d}.json").write_text(json.dumps({"hand_pts": hand, "is_left": i % 2}))
        (folder / f"{i:08d}.jpg").touch()


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MiB (from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_epochs(samples: list[Sample], cfg: DataConfig, epochs: int, batch: int) -> None:
    ds = HandDataset(samples, cfg, train=True)
    main_rss = []
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            ds[i]
        main_rss.append(rss_mb())
    print(f"  workers=0: main RSS after each of {epochs} epochs of {len(ds)} items (MiB): "
          + " ".join(f"{v:.0f}" for v in main_rss))
    # The training loader itself: persistent workers fed (epoch, index) pairs, so each epoch's augmentation reaches
    # them (a plain DataLoader over ds with persistent workers would repeat epoch 0's crops forever).
    train_cfg = TrainConfig(batch_size=batch, workers=2, seed=0, dataset=cfg)
    loader = train_loader(ds, train_cfg, DistInfo(), 0, torch.device("cpu"))
    stream = iter(loader)  # endless
    steps = -(-len(ds) // batch)  # batches per epoch (the last may straddle two epochs, as in training)
    worker_rss = []
    for _epoch in range(epochs):
        for _ in range(steps):
            next(stream)
        pids = [w.pid for w in stream._workers]  # private, for the measurement only
        worker_rss.append(sum(rss_mb(p) for p in pids))
    del stream, loader
    print(f"  training loader (2 persistent workers, EpochIndexed + StreamSampler, {steps} batches of {batch} per "
          "epoch): summed worker RSS after each epoch (MiB): " + " ".join(f"{v:.0f}" for v in worker_rss))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: finishes in well under a minute")
    parser.add_argument("--index-files", type=int, default=None, help="annotation files to index (100000; quick 5000)")
    parser.add_argument("--samples", type=int, default=None, help="items per throughput figure (600; quick 80)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs for the memory figure (6; quick 3)")
    args = parser.parse_args()
    record_run()
    n_index = args.index_files or (5000 if args.quick else 100_000)
    n_items = args.samples or (80 if args.quick else 600)
    epochs = args.epochs or (3 if args.quick else 6)
    n_img = 24 if args.quick else 64

    cv2.setNumThreads(1)  # one worker process = one core
    torch.set_num_threads(1)
    print(f"bench_data: {os.cpu_count()} logical cores, opencv {cv2.__version__}, numpy {np.__version__}, "
          f"python {sys.version.split()[0]}; one process, cv2.setNumThreads(1)")
    cfg = DataConfig()
    eval_cfg = dataclasses.replace(cfg, augment=AugmentConfig(enabled=False))
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        tmp_path = Path(tmp)
        s368 = write_images(tmp_path / "img368", n_img, 368, 368, 150.0, 1)
        big_hand = write_images(tmp_path / "hd_big", max(8, n_img // 3), 1920, 1080, 600.0, 2)
        small_hand = write_images(tmp_path / "hd_small", max(8, n_img // 3), 1920, 1080, 150.0, 3)

        print(f"\n1. samples/s per worker process at input 368 ({n_items} items each; pairs interleaved, medians)")
        pairs = [
            ("368x368 JPEG, augmentation on", s368, cfg,
             "368x368 JPEG, evaluation crop (no augmentation)", eval_cfg),
            ("1920x1080 JPEG, hand ~600 px, FULL decode (baseline)", big_hand,
             dataclasses.replace(cfg, reduced_decode=False),
             "1920x1080 JPEG, hand ~600 px, reduced decode", cfg),
        ]
        for name_a, samples, cfg_a, name_b, cfg_b in pairs:
            ra, rb = paired_throughput([HandDataset(samples, cfg_a, train=True),
                                        HandDataset(samples, cfg_b, train=True)], n_items)
            for name, rate in ((name_a, ra), (name_b, rb)):
                print(f"  {name:58s} {rate:7.1f} samples/s  ({1000 / rate:5.2f} ms/sample)")
        rate = throughput(HandDataset(small_hand, cfg, train=True), n_items)
        print(f"  {'1920x1080 JPEG, hand ~150 px (no reduction applies)':58s} {rate:7.1f} samples/s  "
              f"({1000 / rate:5.2f} ms/sample)")
        reduced = HandDataset(big_hand, cfg, train=True)
        factors = [images.reduce_factor(reduced.crop_matrix(i, reduced.rng(i))) for i in range(len(reduced))]
        print(f"  (hand ~600 px: libjpeg reduction factors used over one epoch: "
              f"{dict(sorted(collections.Counter(factors).items()))})")

        print(f"\n2. indexing {n_index} per-hand json files (hand_labels_synth layout, warm page cache)")
        root = tmp_path / "index"
        t0 = time.perf_counter()
        write_annotations(root, n_index)
        print(f"  (writing them took {time.perf_counter() - t0:.1f} s)")
        for workers in (1, max(2, formats.default_workers())):
            t0 = time.perf_counter()
            splits = formats.load_splits(root, workers=workers)
            dt = time.perf_counter() - t0
            total = len(splits.train) + len(splits.val)
            assert total == n_index, total
            extra = "" if n_index >= 100_000 else f", extrapolated to 100,000: {dt * 100_000 / n_index:.1f} s"
            pool = workers > 1 and n_index >= json_io.POOL_MIN_FILES
            how = f"{workers} processes" if pool else "in-process" + (" (baseline)" if workers == 1 else " (too few)")
            print(f"  load_splits, {how:34s}: {dt:6.2f} s = {n_index / dt:8.0f} files/s{extra}")

        print(f"\n3. memory across {epochs} epochs")
        memory_epochs(s368, cfg, epochs, 8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
