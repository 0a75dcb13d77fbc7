"""Write a synthetic dataset in CMU's hand_labels_synth layout: ``out/<folder>/NNNNNNNN.jpg`` + ``.json``.

Each json holds ``hand_pts`` (21 x [x, y, v]), ``is_left`` (0/1) and, as extra keys readers ignore, ``seed``,
``index``, ``synth_version`` and ``renderer``. The files are byte-for-byte the same for the same seed, renderer and
versions of Mesa, numpy and OpenCV, whatever the number of worker processes: sample ``i`` depends only on
``(seed, i)``, Mesa's llvmpipe rasterises deterministically and OpenCV's JPEG encoder is deterministic for a given
quality (numpy's float64 sin and cos and OpenCV's warps and blurs round differently from one version to another).
The folder gets a manifest (``output_folder``); a folder holding files handpose did not write is refused unless
``overwrite``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np

from handpose.folder_lock import RunLock
from handpose.synth.ablation import parse_ablate
from handpose.synth.generate import RENDERER_VERSION, SYNTH_VERSION, SynthSample, render_sample
from handpose.synth.gl_context import gl_driver, resolve_renderer
from handpose.synth.output_folder import (
    check_request,
    mark_jpeg,
    prepare_folder,
    samples_taken,
    synth_outputs,
    write_file,
    write_manifest,
)
from handpose.synth.render_pool import render_in_workers

LOG = logging.getLogger(__name__)

_CHUNK = 64  # samples per task handed to a worker


def encode_sample(sample: SynthSample, seed: int, index: int, renderer: str = "fallback",
                  ablate: tuple[str, ...] = ()) -> tuple[bytes, str]:
    """(JPEG bytes, json text) of one sample (``renderer``: the one that drew it, 'gl' or 'fallback'; ``ablate``
    recorded when not empty)."""
    ok, jpg = cv2.imencode(".jpg", sample.image, [cv2.IMWRITE_JPEG_QUALITY, sample.jpeg_quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for synthetic sample {index}")
    pts = [[round(float(x), 3), round(float(y), 3), float(v)] for x, y, v in sample.hand_pts]
    doc = {"hand_pts": pts, "is_left": int(sample.is_left), "seed": seed, "index": index,
           "synth_version": SYNTH_VERSION, "renderer": renderer}
    if ablate:
        doc["ablate"] = list(ablate)
    return mark_jpeg(jpg.tobytes()), json.dumps(doc)


def _write_range(folder: Path, seed: int, size: int, start: int, stop: int, renderer: str,
                 ablate: tuple[str, ...] = ()) -> int:
    """Render and write samples [start, stop) into ``folder``; returns the number of visible keypoints written."""
    visible = 0
    for i in range(start, stop):
        sample = render_sample(seed, i, size, renderer=renderer, ablate=ablate)
        jpg, text = encode_sample(sample, seed, i, renderer, ablate)
        write_file(folder / f"{i:08d}.jpg", jpg)
        write_file(folder / f"{i:08d}.json", text.encode())
        visible += int(np.count_nonzero(sample.hand_pts[:, 2] > 0))
    return visible


def _remove_stale(folder: Path, count: int, delete: bool = True) -> int:
    """Delete this writer's ``NNNNNNNN.jpg`` / ``.json`` files numbered ``count`` and above (an earlier render of
    more samples into the same folder would otherwise join this dataset); returns the number of samples removed
    (or, with ``delete`` False, found). Only files synth wrote go (``output_folder.synth_outputs``: a user's files
    of such names stay)."""
    removed: set[int] = set()
    ours = synth_outputs(folder)
    for path in folder.iterdir():
        stem = path.stem
        if path.name in ours and len(stem) == 8 and stem.isdigit() and int(stem) >= count:
            if delete:
                path.unlink()
            removed.add(int(stem))
    return len(removed)


def check_folder_name(folder: str) -> None:
    """ValueError unless ``folder`` is one plain folder name (not empty, not ``.`` or ``..``, no separator)."""
    if not folder or folder in (".", "..") or Path(folder).name != folder:
        raise ValueError(f"--folder must be a plain folder name, got {folder!r}")


def _write_task(task: tuple[str, int, int, int, int, str, tuple[str, ...]]) -> int:
    folder, seed, size, start, stop, renderer, ablate = task
    return _write_range(Path(folder), seed, size, start, stop, renderer, ablate)


def write_dataset(out: Path, count: int, seed: int, size: int = 368, workers: int = 1, folder: str = "synth1",
                  renderer: str = "auto", overwrite: bool = False, ablate: tuple[str, ...] | str = (),
                  flags: tuple[str, str] = ("--count", "--size")) -> Path:
    """Render ``count`` labelled hands into ``out/folder`` and return that folder.

    ``workers`` > 1 renders in that many spawned processes (at most the CPU count); the files do not depend on it.
    ``renderer``: 'auto', 'gl' or 'fallback' (``gl_context.resolve_renderer``). A folder holding files handpose
    did not write is refused unless ``overwrite``. ``ablate``: parts of the GL renderer's realism taken away
    (``synth.ablation``: names, or one comma list as ``--ablate`` takes it; an unknown part is a ValueError),
    recorded in the manifest and every json in ``synth.ablation``'s order. ``flags``: the names the caller gave
    ``count`` and ``size`` under, for its errors (train's own renders: ``--synth-count``, ``--synth-size``).
    """
    check_folder_name(folder)
    ablate = parse_ablate(ablate if isinstance(ablate, str) else ",".join(ablate))
    target = Path(out) / folder
    workers = check_request(count, (size, size), workers, seed, target, size_flag=flags[1], count_flag=flags[0])
    used = resolve_renderer(renderer)
    if ablate and used != "gl":
        raise ValueError(f"--ablate {','.join(ablate)} needs the GL renderer, and this render would use the capsule "
                         "renderer (no GL context here, or --renderer fallback)")
    lock = RunLock(target, "render", remove=True)  # from the folder's checks to the end: one render at a time
    own = prepare_folder(target, overwrite, samples_taken(count), kind="crops", lock=lock)
    with lock:
        info = {"kind": "crops", "seed": seed, "count": count, "size": size, "renderer": used,
                "renderer_version": RENDERER_VERSION}
        if used == "gl":
            info["gl_driver"] = gl_driver()
        if ablate:
            info["ablate"] = list(ablate)
        if own:
            write_manifest(target, {**info, "complete": False})
        t0 = time.perf_counter()
        tasks = [(str(target), seed, size, s, min(s + _CHUNK, count), used, ablate) for s in range(0, count, _CHUNK)]
        if workers == 1 or len(tasks) <= 1:
            visible = sum(_write_task(t) for t in tasks)
        else:
            visible = sum(render_in_workers(_write_task, tasks, workers, str(target)))
        stale = _remove_stale(target, count) if own else 0
        if own:
            write_manifest(target, {**info, "complete": True})
        if stale:
            LOG.warning("removed %d samples numbered %d and above left in %s by an earlier, larger render", stale,
                        count, target)
        left = 0 if own else _remove_stale(target, count, delete=False)
        if left:
            LOG.warning("%s holds %d samples numbered %d and above from an earlier, larger render, which join this "
                        "one as a dataset: --overwrite deletes nothing in a folder that is not synth's own; delete "
                        "them if they are not wanted", target, left, count)
        dt = time.perf_counter() - t0
        LOG.info("wrote %d samples (%.1f visible keypoints each) to %s in %.1f s (%.0f images/s)", count,
                 visible / max(count, 1), target, dt, count / max(dt, 1e-9))
        return target
