"""Readers for the CMU hand datasets and COCO-style keypoint json: a dataset on disk -> `Sample` lists.

Formats (``detect_format`` picks one from the path; ``--format`` overrides):

* ``hand_labels_synth``: ``synth1/ .. synth4/`` (any subset, or one of them, or a plain folder) of
  ``NNNNNNNN.jpg`` + ``NNNNNNNN.json`` with ``hand_pts`` (21 x [x, y, v]) and ``is_left``.
* ``hand_labels``: ``manual_train/`` and ``manual_test/``, one jpg + json per hand, with ``hand_pts``, ``is_left``,
  ``head_size``; other keys (``hand_box_center``, ``mpii_body_pts``, ...) are ignored.
* ``panopticdb`` (alias ``hand143_panopticdb``, the dataset's name): ``hands_v143_14817.json`` =
  ``{"root": [{"img_paths", "joint_self", ...}]}`` beside ``imgs/``.
* ``coco``: a json (or a folder of them, also under ``annotations/``) with ``images`` and ``annotations``
  (``keypoints`` = 63 numbers, ``bbox``, optional ``head_size``, optional ``is_left``). Image ``file_name`` is resolved
  against the json's folder, its ``images/`` subfolder, the folder above, or that folder's ``images/``, whichever
  holds the first images.

Boxes: COCO samples keep the annotation ``bbox``; the CMU formats have none, so their box is the tight box of
the visible keypoints with the inclusive pixel extent ``w = x_max - x_min + 1`` (the CMU Panoptic COCO files MMPose
ships use exactly that box: tests/test_data_formats.py checks it against realdata/coco_panoptic).

Splits: ``manual_test`` and COCO files whose name has the word test, val, valid or validation (``onehand10k_test``,
``val2017``) are validation; ``manual_train`` and names with the word train or trainval are training. A dataset
without a test split is divided by ``split.hash_split`` on ``Sample.key``.
Problems with annotations are counted in a ``SkipReport`` (logged once); nothing here decodes images. Keypoints are
validated as stored (float32): a coordinate beyond its range (``1e300``, a 400-digit integer) counts as infinite.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handpose.data import skip_report as R
from handpose.data.sample import Sample
from handpose.data.skip_report import SkipReport
from handpose.data.split import hash_split
from handpose.keypoints import NUM_KEYPOINTS

LOG = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("hand_labels_synth", "hand_labels", "panopticdb", "coco")

EXPECTED: dict[str, str] = {
    "hand_labels_synth": "synth1/ .. synth4/ folders (or one of them) of NNNNNNNN.jpg + NNNNNNNN.json files "
    "with 'hand_pts' (21 x [x, y, v]) and 'is_left'",
    "hand_labels": "manual_train/ and/or manual_test/ folders of <name>.jpg + <name>.json files with "
    "'hand_pts' (21 x [x, y, v]), 'is_left' and 'head_size'",
    "panopticdb": "hands_v143_14817.json ({'root': [{'img_paths', 'joint_self' (21 x [x, y, v])}]}) beside imgs/",
    "coco": "a COCO keypoint json (or a folder of them, also under annotations/) with 'images' "
    "and 'annotations' holding 63 'keypoints' numbers each",
}

IMAGE_EXTS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp")
_SYNTH_DIR = re.compile(r"^synth\d+$")
_MANUAL_DIRS = ("manual_train", "manual_test")
_CHUNK = 2048  # json files per task
_POOL_MIN_FILES = 20_000  # fewer files are read in this process (a pool costs ~0.5 s to start)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class Splits:
    """A dataset read from disk: training and validation samples, the format, the root and what was skipped."""

    train: list[Sample]
    val: list[Sample]
    fmt: str
    root: Path
    skipped: SkipReport = field(default_factory=SkipReport)


class _BadAnnotationError(Exception):
    """An annotation that cannot be used (reason from skip_report, detail for the log)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# ----------------------------------------------------------------------------------------------- validation


def _big_ints_to_inf(raw: Any, depth: int = 0) -> Any:
    """``raw`` with each integer too large for a float replaced by +-inf (in lists nested up to 2 deep, as keypoints
    are: deeper nesting is left for numpy to refuse)."""
    if isinstance(raw, list) and depth < 2:
        return [_big_ints_to_inf(v, depth + 1) for v in raw]
    if isinstance(raw, int):
        try:
            float(raw)
        except OverflowError:
            return math.inf if raw > 0 else -math.inf
    return raw


def _to_float64(raw: Any) -> np.ndarray:
    """``np.asarray(raw, float64)``, where an integer literal beyond float64's range becomes infinite (json.loads
    keeps ``1e999`` as inf but ``10**400`` as an int, which numpy refuses with OverflowError)."""
    try:
        return np.asarray(raw, dtype=np.float64)
    except OverflowError:
        return np.asarray(_big_ints_to_inf(raw), dtype=np.float64)


def _to_float32(arr: np.ndarray) -> np.ndarray:
    """float32 copy, the stored dtype: a value beyond its range (|x| > 3.4e38) becomes infinite, without a warning."""
    with np.errstate(over="ignore"):
        return arr.astype(np.float32)


def parse_keypoints(raw: Any) -> np.ndarray:
    """(21, 3) float32 ``[x, y, v]`` from 21 x [x, y(, v)] or 63 flat numbers; raises _BadAnnotationError.

    The rules of :func:`validate_batch`, checked on the float32 values (so 1e300 counts as infinite): a visible
    point (v > 0) must have finite coordinates; an invisible point's coordinates are set to 0 when they are not
    finite. At least one point must be visible.
    """
    try:
        arr = _to_float64(raw)
    except (TypeError, ValueError):
        if isinstance(raw, list) and all(isinstance(q, list) for q in raw) and len({len(q) for q in raw}) > 1:
            raise _BadAnnotationError(R.WRONG_POINT_COUNT, "points of different lengths") from None
        raise _BadAnnotationError(R.BAD_ANNOTATION, "points are not numbers") from None
    if arr.ndim == 1 and arr.size == NUM_KEYPOINTS * 3:
        arr = arr.reshape(NUM_KEYPOINTS, 3)
    if arr.ndim != 2 or arr.shape[0] != NUM_KEYPOINTS or arr.shape[1] not in (2, 3):
        raise _BadAnnotationError(R.WRONG_POINT_COUNT, f"shape {arr.shape}, expected 21 x [x, y, v]")
    if arr.shape[1] == 2:
        arr = np.concatenate([arr, np.ones((NUM_KEYPOINTS, 1))], axis=1)
    kp = _to_float32(arr)  # (21, 3)
    status = validate_batch(kp[None])[0]
    if status is not None:
        raise _BadAnnotationError(*status)
    return kp


def _box_of(kp: np.ndarray, bbox: Any = None) -> np.ndarray:
    """(4,) float32 box: the given [x, y, w, h] when valid, else the tight box of the visible keypoints."""
    if bbox is not None:
        try:
            b = _to_float32(_to_float64(bbox).reshape(-1))
            if b.size == 4 and np.isfinite(b).all() and b[2] > 0 and b[3] > 0:
                return b
        except (TypeError, ValueError):
            pass
    return boxes_of(kp[None])[0]  # finite: parse_keypoints checked it


def _head_size(value: Any) -> float | None:
    """A positive head size that fits float32 (the dataset stores it so), else None."""
    try:
        h = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return h if 0 < h <= _FLOAT32_MAX else None


_PEEKED: dict[tuple[str, int, int], Any] = {}  # the one json detect_format parsed whole, handed to its reader


def _file_id(path: Path | str) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path), st.st_mtime_ns, st.st_size


def _load_json_once(path: Path) -> Any:
    """A dataset-level json (COCO, panopticdb): reuse the parse detect_format just did, else read it."""
    try:
        return _PEEKED.pop(_file_id(path))
    except (KeyError, OSError):
        return _load_json(path)


def _load_json(path: Path | str) -> Any:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise _BadAnnotationError(R.MISSING_JSON) from None
    except (OSError, ValueError) as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _BadAnnotationError(R.BAD_JSON, type(e).__name__) from None
    except RecursionError:  # e.g. "[" * 100000: json's C parser gives up at Python's recursion limit
        raise _BadAnnotationError(R.BAD_JSON, "nested too deeply") from None


def _map_chunks(fn: Callable[[list[str]], Any], items: list[str], workers: int) -> list[Any]:
    """[fn(chunk) for chunk in chunks of items], on a process pool when there are many items and workers > 1.

    JSON decoding holds the GIL, so threads do not help; processes do (each returns compact numpy arrays).
    """
    chunks = [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    if workers > 1 and len(items) >= _POOL_MIN_FILES:
        try:
            # fork: nothing is re-imported and the caller's script is not re-run (spawn would need a __main__ guard)
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=ctx) as pool:
                return list(pool.map(fn, chunks))
        except (OSError, ValueError, RuntimeError, BrokenProcessPool) as e:
            LOG.warning("reading json files in %d processes failed (%s); reading them in this process", workers, e)
    return [fn(c) for c in chunks]


def default_workers() -> int:
    """Processes for json reading: the CPUs this process may use (at most 8); 1 below 4 CPUs, where a pool did not
    pay on the 2-core development machine (benchmarks/bench_data.py)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return 1 if n < 4 else min(8, n)


# ----------------------------------------------------------------------------------------------- per-hand json files


def _read_hand_file(json_path: str) -> tuple[Any, bool, float | None]:
    """(raw hand_pts, is_left, head_size) of one CMU per-hand json; raises _BadAnnotationError."""
    obj = _load_json(json_path)
    if not isinstance(obj, dict) or "hand_pts" not in obj:
        raise _BadAnnotationError(R.BAD_ANNOTATION, "no 'hand_pts'")
    try:
        is_left = bool(int(obj.get("is_left", 0) or 0))
    except (TypeError, ValueError, OverflowError):
        raise _BadAnnotationError(R.BAD_ANNOTATION, "'is_left' is not 0/1") from None
    return obj["hand_pts"], is_left, _head_size(obj.get("head_size"))


def validate_batch(kps: np.ndarray) -> list[tuple[str, str] | None]:
    """Per hand of (K, 21, 3) keypoints in their stored dtype (float32, so that a value beyond its range is already
    infinite): None when usable, else (reason, detail). A visible point needs finite coordinates and at least one
    point must be visible; the box of the visible points must be finite too (its extent can overflow float32).
    Non-finite coordinates of invisible points are set to 0 in place."""
    vis = kps[..., 2]  # (K, 21)
    finite_v = np.isfinite(vis).all(axis=1)
    finite_xy = np.isfinite(kps[..., :2]).all(axis=2)  # (K, 21)
    visible = np.nan_to_num(vis) > 0
    bad_xy = (visible & ~finite_xy).any(axis=1)
    any_vis = visible.any(axis=1)
    kps[..., :2][~finite_xy] = 0.0
    finite_box = np.isfinite(boxes_of(kps)).all(axis=1)  # (K,)
    out: list[tuple[str, str] | None] = []
    for k in range(kps.shape[0]):
        if not finite_v[k]:
            out.append((R.NON_FINITE, "visibility"))
        elif bad_xy[k]:
            out.append((R.NON_FINITE, f"keypoint {int(np.flatnonzero(visible[k] & ~finite_xy[k])[0])}"))
        elif not any_vis[k]:
            out.append((R.NO_VISIBLE, ""))
        elif not finite_box[k]:
            out.append((R.NON_FINITE, "box extent beyond float32"))
        else:
            out.append(None)
    return out


def boxes_of(kps: np.ndarray) -> np.ndarray:
    """(K, 4) float32 tight boxes of the visible keypoints of (K, 21, 3) hands, inclusive extent (w = max - min + 1);
    infinite where a hand has no visible point or its extent overflows float32."""
    vis = (kps[..., 2] > 0)[..., None]  # (K, 21, 1)
    lo = np.where(vis, kps[..., :2], np.inf).min(axis=1)  # (K, 2)
    hi = np.where(vis, kps[..., :2], -np.inf).max(axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        return _to_float32(np.concatenate([lo, hi - lo + 1.0], axis=1))


def _read_hand_chunk(json_paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, str] | None]]:
    """Read and validate per-hand json files: (keypoints (K, 21, 3) float32, is_left (K,), head_size (K,) with nan,
    status per file: None = usable, else (reason, detail)). Runs in a pool process for large datasets."""
    K = len(json_paths)
    kps = np.zeros((K, NUM_KEYPOINTS, 3), dtype=np.float64)
    is_left = np.zeros(K, dtype=bool)
    heads = np.full(K, np.nan, dtype=np.float64)
    status: list[tuple[str, str] | None] = [None] * K
    plain_rows: list[int] = []
    plain_pts: list[Any] = []
    for k, jp in enumerate(json_paths):
        try:
            pts, is_left[k], head = _read_hand_file(jp)
            if head is not None:
                heads[k] = head
            if type(pts) is list and len(pts) == NUM_KEYPOINTS:  # the common case, converted in one call below
                plain_rows.append(k)
                plain_pts.append(pts)
            else:
                kps[k] = parse_keypoints(pts)
        except _BadAnnotationError as bad:
            status[k] = (bad.reason, bad.detail)
    if plain_rows:
        try:
            arr = np.array(plain_pts, dtype=np.float64)  # one conversion for the common case
            if arr.shape != (len(plain_rows), NUM_KEYPOINTS, 3):
                raise ValueError("not 21 x [x, y, v]")
            kps[plain_rows] = arr
        except (TypeError, ValueError, OverflowError):  # ragged, pairs, a non-number or huge int: one by one
            for k, pts in zip(plain_rows, plain_pts):
                try:
                    kps[k] = parse_keypoints(pts)
                except _BadAnnotationError as bad:
                    status[k] = (bad.reason, bad.detail)
    kps32 = _to_float32(kps)  # (K, 21, 3), validated as stored
    checked = validate_batch(kps32)
    status = [st if st is not None else chk for st, chk in zip(status, checked)]
    return kps32, is_left, heads, status


def _scan_hand_folder(folder: Path, report: SkipReport) -> list[tuple[str, str, str]]:
    """(stem, json path, image path) for each jpg+json pair; lone images count as missing json, lone json as
    missing image. Plain strings: a Path per file costs more than reading the json."""
    jsons: dict[str, str] = {}
    images: dict[str, str] = {}
    with os.scandir(folder) as it:
        for entry in it:
            stem, ext = os.path.splitext(entry.name)
            ext = ext.lower()
            if ext == ".json":
                jsons[stem] = entry.path
            elif ext in IMAGE_EXTS:
                images.setdefault(stem, entry.path)
    pairs = [(stem, jsons[stem], images[stem]) for stem in sorted(jsons) if stem in images]
    for stem in sorted(set(jsons) - set(images)):
        report.add(R.MISSING_IMAGE, jsons[stem])
    for stem in sorted(set(images) - set(jsons)):
        report.add(R.MISSING_JSON, images[stem])
    return pairs


def _read_hand_folders(
    folders: list[tuple[Path, str | None]], keep_head_size: bool, report: SkipReport, workers: int
) -> list[tuple[Sample, str | None]]:
    """Samples of per-hand json folders; each folder comes with its split tag ("train", "val" or None)."""
    jobs: list[tuple[str, str, str, str | None]] = []
    for folder, tag in folders:
        prefix = folder.name + "/"
        jobs += [(prefix + stem, jp, ip, tag) for stem, jp, ip in _scan_hand_folder(folder, report)]
    chunks = _map_chunks(_read_hand_chunk, [jp for _, jp, _, _ in jobs], workers)
    out: list[tuple[Sample, str | None]] = []
    pos = 0
    for kps, is_left, heads, status in chunks:
        boxes = boxes_of(kps)
        for k, st in enumerate(status):
            key, jp, ip, tag = jobs[pos + k]
            if st is not None:
                report.add(st[0], jp, st[1])
                continue
            head = float(heads[k]) if keep_head_size and heads[k] == heads[k] else None
            out.append((Sample(Path(ip), kps[k], bool(is_left[k]), boxes[k], head, key), tag))
        pos += len(status)
    return out


def _synth_folders(path: Path) -> list[tuple[Path, str | None]]:
    if _SYNTH_DIR.match(path.name):
        return [(path, None)]
    subs = sorted(p for p in path.iterdir() if p.is_dir() and _SYNTH_DIR.match(p.name))
    return [(p, None) for p in subs] or [(path, None)]


def _manual_folders(path: Path) -> list[tuple[Path, str | None]]:
    tags = {"manual_train": "train", "manual_test": "val"}
    if path.name in tags:
        return [(path, tags[path.name])]
    subs = [(path / d, tags[d]) for d in _MANUAL_DIRS if (path / d).is_dir()]
    return subs or [(path, None)]


def read_hand_labels_synth(path: Path, report: SkipReport, workers: int = 1) -> list[tuple[Sample, str | None]]:
    """hand_labels_synth: every synthN folder under ``path`` (or ``path`` itself)."""
    return _read_hand_folders(_synth_folders(path), False, report, workers)


def read_hand_labels(path: Path, report: SkipReport, workers: int = 1) -> list[tuple[Sample, str | None]]:
    """hand_labels: manual_train (train) and manual_test (val) under ``path`` (or ``path`` itself)."""
    return _read_hand_folders(_manual_folders(path), True, report, workers)


# ----------------------------------------------------------------------------------------------- panopticdb


def _panoptic_json(path: Path) -> Path:
    if path.is_file():
        return path
    exact = path / "hands_v143_14817.json"
    if exact.is_file():
        return exact
    found = sorted(path.glob("hands_v143*.json"))
    if found:
        return found[0]
    raise ValueError(f"{path}: no hands_v143_*.json here; expected {EXPECTED['panopticdb']}")


def read_panopticdb(path: Path, report: SkipReport, workers: int = 1) -> list[tuple[Sample, str | None]]:
    """hand143_panopticdb: entries of ``{"root": [...]}``; images relative to the json's folder."""
    jpath = _panoptic_json(path)
    try:
        obj = _load_json_once(jpath)
    except _BadAnnotationError as bad:
        raise ValueError(f"{jpath}: {bad.reason}; expected {EXPECTED['panopticdb']}") from None
    entries = obj.get("root") if isinstance(obj, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{jpath}: no 'root' list; expected {EXPECTED['panopticdb']}")
    base = jpath.parent
    out: list[tuple[Sample, str | None]] = []
    seen: dict[str, int] = {}
    exists: dict[str, bool] = {}
    for i, entry in enumerate(entries):
        where = f"{jpath}#root[{i}]"
        try:
            if not isinstance(entry, dict) or not isinstance(entry.get("img_paths"), str):
                raise _BadAnnotationError(R.BAD_ANNOTATION, "no 'img_paths'")
            if "joint_self" not in entry:
                raise _BadAnnotationError(R.BAD_ANNOTATION, "no 'joint_self'")
            kp = parse_keypoints(entry["joint_self"])
            rel = entry["img_paths"]
            img = base / rel
            if rel not in exists:
                exists[rel] = img.is_file()
            if not exists[rel]:
                raise _BadAnnotationError(R.MISSING_IMAGE, str(img))
        except _BadAnnotationError as bad:
            report.add(bad.reason, where, bad.detail)
            continue
        n = seen.get(rel, 0)
        seen[rel] = n + 1
        key = rel if n == 0 else f"{rel}#{n}"
        out.append((Sample(img, kp, False, _box_of(kp), None, key), None))
    return out


# ----------------------------------------------------------------------------------------------- COCO


def _coco_jsons(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(path.glob("*.json")) + sorted(path.glob("annotations/*.json"))


_VAL_WORDS = frozenset({"val", "valid", "validation", "minival", "test", "testing", "eval"})
_TRAIN_WORDS = frozenset({"train", "training", "trainval"})


def _split_tag(stem: str) -> str | None:
    """"val", "train" or None from the words of a json's name (runs of letters: ``onehand10k_test`` -> onehand, k,
    test; ``val2017`` -> val). Whole words only, so ``onehand_trainval`` is training and ``interval`` is neither."""
    words = set(re.findall(r"[a-z]+", stem.lower()))
    if words & _VAL_WORDS:
        return "val"
    if words & _TRAIN_WORDS:
        return "train"
    return None


def _image_base(jpath: Path, file_names: list[str]) -> Path:
    """The folder that holds the images named in a COCO json (the json's folder when none is found)."""
    jdir = jpath.parent
    candidates = [jdir, jdir / "images", jdir.parent, jdir.parent / "images"]
    for base in candidates:
        if any((base / name).is_file() for name in file_names[:10]):
            return base
    return jdir


def read_coco(path: Path, report: SkipReport, workers: int = 1) -> list[tuple[Sample, str | None]]:
    """COCO-style keypoint json(s): one sample per annotation with 63 keypoint numbers."""
    jsons = _coco_jsons(path)
    if not jsons:
        raise ValueError(f"{path}: no COCO keypoint json here; expected {EXPECTED['coco']}")
    out: list[tuple[Sample, str | None]] = []
    for jpath in jsons:
        try:
            obj = _load_json_once(jpath)
        except _BadAnnotationError as bad:
            report.add(bad.reason, jpath, bad.detail)
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("images"), list) or not isinstance(
            obj.get("annotations"), list
        ):
            if jpath != path:  # another json in a folder of COCO files
                LOG.debug("%s: not a COCO keypoint json, ignored", jpath)
            else:
                report.add(R.BAD_ANNOTATION, jpath, "no 'images' / 'annotations' lists")
            continue
        tag = _split_tag(jpath.stem)
        images: dict[Any, Any] = {}
        for j, im in enumerate(obj["images"]):
            if isinstance(im, dict):
                try:
                    images[im.get("id")] = im.get("file_name")
                except TypeError:  # a list or dict as id cannot be looked up
                    report.add(R.BAD_ANNOTATION, f"{jpath}#images[{j}]", f"'id' is a {type(im.get('id')).__name__}")
        base = _image_base(jpath, [n for n in images.values() if isinstance(n, str)])
        exists: dict[Any, bool] = {}
        for i, ann in enumerate(obj["annotations"]):
            where = f"{jpath}#annotations[{i}]"
            try:
                if not isinstance(ann, dict) or "keypoints" not in ann:
                    raise _BadAnnotationError(R.BAD_ANNOTATION, "no 'keypoints'")
                image_id = ann.get("image_id")
                try:
                    name = images.get(image_id)
                except TypeError:
                    raise _BadAnnotationError(R.BAD_ANNOTATION, f"'image_id' is a {type(image_id).__name__}") from None
                if not isinstance(name, str):
                    raise _BadAnnotationError(R.BAD_ANNOTATION, f"image_id {ann.get('image_id')!r} not in 'images'")
                kp = parse_keypoints(ann["keypoints"])
                img = base / name
                if name not in exists:
                    exists[name] = img.is_file()
                if not exists[name]:
                    raise _BadAnnotationError(R.MISSING_IMAGE, str(img))
            except _BadAnnotationError as bad:
                report.add(bad.reason, where, bad.detail)
                continue
            key = f"{name}#{ann.get('id', i)}"
            is_left = bool(ann.get("is_left", False))
            sample = Sample(img, kp, is_left, _box_of(kp, ann.get("bbox")), _head_size(ann.get("head_size")), key)
            out.append((sample, tag))
    return out


READERS: dict[str, Callable[[Path, SkipReport, int], list[tuple[Sample, str | None]]]] = {
    "hand_labels_synth": read_hand_labels_synth,
    "hand_labels": read_hand_labels,
    "panopticdb": read_panopticdb,
    "coco": read_coco,
}

ALIASES: dict[str, str] = {"hand143_panopticdb": "panopticdb"}  # the dataset's own folder name


def canonical_format(fmt: str) -> str:
    """The name in ``FORMATS`` of a format or its alias; ValueError listing every accepted name otherwise."""
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in READERS:
        aliases = {v: k for k, v in ALIASES.items()}
        known = ", ".join(f + (f" (or {aliases[f]})" if f in aliases else "") for f in FORMATS)
        raise ValueError(f"unknown dataset format {fmt!r}; known formats: {known}")
    return fmt


# ----------------------------------------------------------------------------------------------- detection


def _peek_kind(json_path: Path, keep: bool = False) -> str | None:
    """"coco", "panopticdb", "hand_labels", "hand_labels_synth" from one json's top-level keys, else None."""
    try:
        obj = _load_json(json_path)
    except _BadAnnotationError:
        return None
    if not isinstance(obj, dict):
        return None
    if ("images" in obj and "annotations" in obj) or "root" in obj:
        if keep:  # its reader comes next (load_splits): parse a large file once
            _PEEKED.clear()
            _PEEKED[_file_id(json_path)] = obj
        return "coco" if "images" in obj else "panopticdb"
    if "hand_pts" in obj:
        return "hand_labels" if "head_size" in obj else "hand_labels_synth"
    return None


def _first_json(folder: Path) -> Path | None:
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name.endswith(".json") and entry.is_file():
                return Path(entry.path)
    return None


def detect_format(path: Path | str) -> str:
    """The format of the dataset at ``path`` (one of ``FORMATS``), from folder and file names, else from the
    keys of one json. Raises FileNotFoundError (no such path) or ValueError (nothing recognisable)."""
    return _detect(Path(path), keep=False)


def _detect(path: Path, keep: bool) -> str:
    if not path.exists():
        raise FileNotFoundError(f"dataset path does not exist: {path}")
    if path.is_file():
        if path.name.startswith("hands_v143"):
            return "panopticdb"
        kind = _peek_kind(path, keep) if path.suffix.lower() == ".json" else None
        if kind in ("coco", "panopticdb"):
            return kind
        raise ValueError(f"{path}: not a dataset file; expected a COCO keypoint json or {EXPECTED['panopticdb']}")
    if path.name in _MANUAL_DIRS or any((path / d).is_dir() for d in _MANUAL_DIRS):
        return "hand_labels"
    if _SYNTH_DIR.match(path.name) or any(p.is_dir() and _SYNTH_DIR.match(p.name) for p in path.iterdir()):
        return "hand_labels_synth"
    if any(path.glob("hands_v143*.json")):
        return "panopticdb"
    candidates = [j for j in (_first_json(path), _first_json(path / "annotations") if (path / "annotations").is_dir()
                              else None) if j is not None]
    for j in candidates:
        kind = _peek_kind(j, keep)
        if kind is not None:
            return kind
    raise ValueError(
        f"{path}: cannot tell the dataset format; expected one of: "
        + "; ".join(f"{k}: {v}" for k, v in EXPECTED.items())
        + " (or pass --format)"
    )


# ----------------------------------------------------------------------------------------------- splits


def read_samples(
    path: Path | str, fmt: str | None = None, workers: int | None = None
) -> tuple[list[tuple[Sample, str | None]], str, SkipReport]:
    """All usable samples with their split tag, the format and the skip report (not logged here)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset path does not exist: {path}")
    try:
        fmt = canonical_format(fmt) if fmt else _detect(path, keep=True)
        report = SkipReport()
        tagged = READERS[fmt](path, report, default_workers() if workers is None else workers)
    finally:
        _PEEKED.clear()
    return tagged, fmt, report


def load_splits(path: Path | str, fmt: str | None = None, val_fraction: float = 0.1,
                workers: int | None = None) -> Splits:
    """Read a dataset and divide it into training and validation samples.

    The dataset's own test split (manual_test, a COCO json named ``*_test`` / ``*_val``) is validation; where there is
    none, the training samples are divided by a hash of ``Sample.key`` (stable when files are added). Pointing at
    a test split alone puts everything in val. Skipped annotations are logged once as a summary.
    Raises ValueError (naming the path and what was expected) when no usable sample is found.
    """
    path = Path(path)
    tagged, fmt, report = read_samples(path, fmt, workers)
    report.log(f"annotations in {path} ({fmt})", LOG)
    if not tagged:
        msg = f"{path}: no usable {fmt} sample; expected {EXPECTED[fmt]}"
        if report:
            msg += "\n" + report.summary("annotations")
        raise ValueError(msg)
    train = [s for s, tag in tagged if tag == "train"]
    val = [s for s, tag in tagged if tag == "val"]
    untagged = [s for s, tag in tagged if tag is None]
    if untagged or not val:
        rest = untagged if val else untagged + train
        if not val:
            train = []
        t, v = hash_split(rest, val_fraction)
        train += t
        val += v
    LOG.info("%s (%s): %d training and %d validation samples", path, fmt, len(train), len(val))
    return Splits(train, val, fmt, path, report)
