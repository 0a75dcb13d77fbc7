"""Write a synthetic dataset in CMU's hand_labels_synth layout: ``out/<folder>/NNNNNNNN.jpg`` + ``.json``.

Each json holds ``hand_pts`` (21 x [x, y, v]), ``is_left`` (0/1) and, as extra keys readers ignore, ``seed``,
``index`` and ``synth_version``. The files are byte-for-byte the same for the same seed, whatever the number of
worker processes: sample ``i`` depends only on ``(seed, i)`` and OpenCV's JPEG encoder is deterministic for a
given quality.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from pathlib import Path

import cv2
import numpy as np

from handpose.synth.generate import SYNTH_VERSION, SynthSample, render_sample

LOG = logging.getLogger(__name__)

_CHUNK = 64  # samples per task handed to a worker


def encode_sample(sample: SynthSample, seed: int, index: int) -> tuple[bytes, str]:
    """(JPEG bytes, json text) of one sample."""
    ok, jpg = cv2.imencode(".jpg", sample.image, [cv2.IMWRITE_JPEG_QUALITY, sample.jpeg_quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for synthetic sample {index}")
    pts = [[round(float(x), 3), round(float(y), 3), float(v)] for x, y, v in sample.hand_pts]
    doc = {"hand_pts": pts, "is_left": int(sample.is_left), "seed": seed, "index": index,
           "synth_version": SYNTH_VERSION}
    return jpg.tobytes(), json.dumps(doc)


def _write_range(folder: Path, seed: int, size: int, start: int, stop: int) -> int:
    """Render and write samples [start, stop) into ``folder``; returns the number of visible keypoints written."""
    visible = 0
    for i in range(start, stop):
        sample = render_sample(seed, i, size)
        jpg, text = encode_sample(sample, seed, i)
        (folder / f"{i:08d}.jpg").write_bytes(jpg)
        (folder / f"{i:08d}.json").write_text(text)
        visible += int(np.count_nonzero(sample.hand_pts[:, 2] > 0))
    return visible


def _remove_stale(folder: Path, count: int) -> int:
    """Delete this writer's ``NNNNNNNN.jpg`` / ``.json`` files numbered ``count`` and above (an earlier render of
    more samples into the same folder would otherwise join this dataset); returns the number of samples removed.
    Files of any other name are left alone."""
    removed: set[int] = set()
    for path in folder.iterdir():
        stem = path.stem
        if path.suffix in (".jpg", ".json") and len(stem) == 8 and stem.isdigit() and int(stem) >= count:
            path.unlink()
            removed.add(int(stem))
    return len(removed)


def _write_task(task: tuple[str, int, int, int, int]) -> int:
    folder, seed, size, start, stop = task
    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would only compete
    return _write_range(Path(folder), seed, size, start, stop)


def write_dataset(out: Path, count: int, seed: int, size: int = 368, workers: int = 1, folder: str = "synth1") -> Path:
    """Render ``count`` labelled hands into ``out/folder`` and return that folder.

    ``workers`` > 1 renders in that many spawned processes; the files do not depend on it.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if size < 32:
        raise ValueError(f"image size must be at least 32 pixels, got {size}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not folder or Path(folder).name != folder:
        raise ValueError(f"folder must be a plain folder name, got {folder!r}")
    target = Path(out) / folder
    target.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tasks = [(str(target), seed, size, s, min(s + _CHUNK, count)) for s in range(0, count, _CHUNK)]
    if workers == 1 or len(tasks) <= 1:
        visible = sum(_write_range(target, seed, size, s, e) for _, _, _, s, e in tasks)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(min(workers, len(tasks))) as pool:
            visible = sum(pool.imap_unordered(_write_task, tasks))
    stale = _remove_stale(target, count)
    if stale:
        LOG.info("removed %d samples numbered %d and above left in %s by an earlier, larger render", stale, count,
                 target)
    dt = time.perf_counter() - t0
    LOG.info("wrote %d samples (%.1f visible keypoints each) to %s in %.1f s (%.0f images/s)", count,
             visible / max(count, 1), target, dt, count / max(dt, 1e-9))
    return target
