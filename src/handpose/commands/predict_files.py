"""What ``handpose predict`` writes and reads on disk: its output folder (which never replaces a file it did not
write), output names, the per-image files, the COCO results, and images read ahead of the network."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from handpose.data.images import header_pixels
from handpose.files import disk_full, full_disk, named_error, write_json
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import read_image
from handpose.inference.results import HAND_CATEGORY_ID
from handpose.keypoints import NAMES, SKELETON

if TYPE_CHECKING:
    from handpose.folder_lock import RunLock

MANIFEST = ".handpose-predictions"  # one file name per line: what predict wrote into the folder
# predict before 2026-11-27 kept no manifest: its NAME.json is known by these keys, and NAME_overlay.png and
# NAME_maps.png beside it were written with it
EARLIER_RECORD_KEYS = ("image", "width", "height", "model", "flip_test", "scales", "keypoints")
EARLIER_SUFFIXES = (".json", "_overlay.png", "_maps.png")
_RECORD_MAX_BYTES = 1 << 20  # such a record is a few KB (21 keypoints)
COCO_RESULTS = "coco_results.json"  # COCO keypoint results of the run
COCO_IMAGES = "coco_images.json"  # the images (ids, file names, sizes) those results refer to


class OutputFolder:
    """An output folder that remembers (in :data:`MANIFEST`) which files predict wrote, and refuses the rest."""

    def __init__(self, path: str | Path, lock: RunLock | None = None) -> None:
        """``lock``: the folder's held lock, kept on the folder at ``path`` before each write (:meth:`claim`)."""
        self.path = Path(path)
        self.lock = lock
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"--out {self.path} is a file, not a folder")
        self.written = self._manifest()

    def _manifest(self) -> set[str]:
        """The names the folder's manifest lists (predict wrote them)."""
        manifest = self.path / MANIFEST
        # UTF-8 whatever the locale: Windows' default (cp1252) cannot write an image named in Chinese or Greek
        text = manifest.read_text(encoding="utf-8", errors="replace") if manifest.is_file() else ""
        return set(text.split("\n")) - {""}

    def _follow(self) -> None:
        """The folder's lock kept on the folder now at its path (``RunLock.follow``); where that is another folder
        than before (this one moved away), what predict wrote is read from that folder's own manifest: the files
        of the moved one are not there, and a file there of such a name is not this run's to replace."""
        if self.lock is not None and self.lock.follow():
            self.written = self._manifest()

    def check(self, target: Path, source: Path) -> None:
        """ValueError when writing ``target`` would replace the input ``source`` or a file predict did not write
        (listed in the manifest, or one of an earlier version's per-image files: :func:`by_earlier_predict`); the
        folder's lock is kept on the folder at its path first, as in :meth:`claim`."""
        self._follow()
        if target.exists() and (target.resolve() == source.resolve()
                                or (target.name not in self.written and not by_earlier_predict(target))):
            what = "the input image itself" if target.resolve() == source.resolve() else "a file predict did not write"
            raise ValueError(f"output {target} would replace {what}; choose another --out")

    def claim(self, targets: Sequence[Path]) -> None:
        """Record ``targets`` as predict's own before they are written. Where the folder was moved or removed while
        this run wrote it, the folder at its path is made again and locked first; another run's is refused
        (``RunLock.follow``): its files and manifest are not this run's."""
        self._follow()
        new = [t.name for t in targets if t.name not in self.written]
        if new:
            append_whole_lines(self.path / MANIFEST, "".join(n + "\n" for n in new))
            self.written.update(new)


def append_whole_lines(path: Path, text: str) -> None:
    """Append ``text`` (whole lines) to ``path`` in UTF-8, or nothing: a write that fails part way (a full disk takes
    the part that fits) is cut off again, so the file never ends in half a name that the next append would run on
    into (``a.jsonb_overlay.png``, a name no longer listed). The error names ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    try:
        start = os.fstat(fd).st_size
        data = memoryview(text.encode("utf-8"))
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError as exc:
            os.ftruncate(fd, start)
            note = "; its earlier lines are unchanged"
            if disk_full(exc):
                raise full_disk(path, note) from exc
            raise named_error(exc, path, note) from exc
    finally:
        os.close(fd)


def by_earlier_predict(target: Path) -> bool:
    """Whether ``target`` is NAME.json, NAME_overlay.png or NAME_maps.png written by a predict of before 2026-11-27
    (which listed nothing in a manifest): NAME.json beside it is that version's per-image record."""
    suffix = next((s for s in EARLIER_SUFFIXES if target.name.endswith(s)), None)
    if suffix is None:
        return False
    record = target.with_name(target.name[: -len(suffix)] + ".json")
    try:
        if not record.is_file() or record.stat().st_size > _RECORD_MAX_BYTES:
            return False
        doc = json.loads(record.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and all(k in doc for k in EARLIER_RECORD_KEYS)


def check_coco_names(out: OutputFolder) -> list[Path]:
    """The COCO files' paths in ``out``; ValueError when one is a file predict did not write (checked before any
    image or frame, and again when written)."""
    targets = [out.path / COCO_RESULTS, out.path / COCO_IMAGES]
    for target in targets:
        out.check(target, target.with_name(target.name + ".none"))
    return targets


def coco_categories(category_id: int | str = HAND_CATEGORY_ID,
                    by_side: dict[bool, int | str] | None = None) -> list[dict[str, Any]]:
    """coco_images.json's ``categories``: the hand, under ``category_id`` (or a left and a right hand under the ids
    of ``by_side``), with its keypoint names and skeleton."""
    named = [(category_id, "hand")] if by_side is None else [(by_side[True], "left hand"),
                                                            (by_side[False], "right hand")]
    return [{"id": i, "name": name, "keypoints": list(NAMES), "skeleton": [[a + 1, b + 1] for a, b in SKELETON]}
            for i, name in named]


READ_AHEAD_PIXELS = 40_000_000  # decoded images held ahead of the network: 120 MB of BGR, at least one image


def read_ahead(
    images: Sequence[Path], names: Sequence[str], threads: int = 2
) -> Iterator[tuple[Path, str, np.ndarray | Exception]]:
    """(path, output name, image or the error reading it) in order, decoded by ``threads`` threads a few images
    ahead of the network and the file writing: up to ``2 * threads`` of them, fewer where their headers' pixels
    pass :data:`READ_AHEAD_PIXELS` (one at least), so a folder of 50-megapixel photos holds two decoded at a time,
    not five. A header that gives no size counts as the whole allowance."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    def read(path: Path) -> np.ndarray | Exception:
        try:
            return read_image(path, upright=True)
        except (ValueError, FileNotFoundError, OSError) as exc:
            return exc

    todo = ((path, name, header_pixels(path) or READ_AHEAD_PIXELS) for path, name in zip(images, names))
    pending: deque[tuple[Path, str, int, Future[np.ndarray | Exception]]] = deque()
    waiting = next(todo, None)  # the next image, not yet handed to the readers

    def submit(pool: ThreadPoolExecutor) -> None:
        nonlocal waiting
        while waiting is not None and len(pending) < 2 * threads:
            held = sum(pixels for _, _, pixels, _ in pending)
            if pending and held + waiting[2] > READ_AHEAD_PIXELS:
                return
            pending.append((*waiting, pool.submit(read, waiting[0])))
            waiting = next(todo, None)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict-read") as pool:
        submit(pool)
        while pending:
            path, name, _, future = pending.popleft()
            submit(pool)
            yield path, name, future.result()


def list_images(source: str | Path) -> list[Path]:
    """The image files of a folder or a glob pattern (sorted), or the one path given; FileNotFoundError /
    ValueError when none.

    Files that an earlier ``handpose predict`` wrote into a folder (listed in its :data:`MANIFEST`) are not
    inputs and are left out."""
    from handpose.inference.inputs import image_files

    manifests: dict[Path, set[str]] = {}

    def ours(p: Path) -> bool:
        if p.parent not in manifests:
            manifests[p.parent] = OutputFolder(p.parent).written
        return p.name in manifests[p.parent]

    return image_files(source, skip=ours)


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


def predict_to_files(
    predictor: Predictor,
    image_path: str | Path,
    out_dir: str | Path | OutputFolder,
    box: Sequence[float] | None = None,
    is_left: bool | None = None,
    maps: bool | str = True,
    name: str | None = None,
    image: np.ndarray | Exception | None = None,
    threshold: float = 0.1,
    image_id: int | str = 0,
    coco: list[dict[str, Any]] | None = None,
) -> list[Path]:
    """Predict one image and write NAME.json, NAME_overlay.png and NAME_maps.png into ``out_dir``.

    ``box`` (xywh) predicts that one hand; without, every hand the predictor's detector finds (or the whole image
    without a detector). ``maps``: ``"stages"`` (or True) the per-stage figure of the first hand, ``"all"`` also
    every keypoint's map (NAME_allmaps.png), ``"none"`` (or False) no maps. NAME is ``name`` (see
    :func:`output_names` for a folder of images), default the image's stem. ``image`` is the image already read
    (or the error reading it raised), default: read from ``image_path`` (upright by its EXIF tag). ``coco``, when
    given, receives the hands' COCO results under ``image_id``. Returns the written paths. FileNotFoundError /
    ValueError for an unreadable image, a box off the image, or an output that would replace a file predict did
    not write (an input image, an annotation); nothing is written then.
    """
    from handpose.inference.results import Hands

    mode = {True: "stages", False: "none"}.get(maps, maps) if isinstance(maps, bool) else str(maps)
    image_path = Path(image_path)
    out = out_dir if isinstance(out_dir, OutputFolder) else OutputFolder(out_dir)
    stem = name or image_path.stem
    targets = [out.path / f"{stem}.json", out.path / f"{stem}_overlay.png"]
    targets += [out.path / f"{stem}_maps.png"] if mode != "none" else []
    targets += [out.path / f"{stem}_allmaps.png"] if mode == "all" else []
    for target in targets:
        out.check(target, image_path)
    if isinstance(image, Exception):
        raise image
    image = read_image(image_path, upright=True) if image is None else image
    keep = mode != "none"
    if box is not None:
        hands = Hands([predictor.predict(image, box=box, is_left=is_left, keep_maps=keep)], image)
    else:
        hands = predictor.find_hands(image, keep_maps=keep, is_left=is_left)
    out_dir = out.path
    out_dir.mkdir(parents=True, exist_ok=True)
    out.claim(targets)
    record = {
        "image": str(image_path),
        "image_id": image_id,
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "model": predictor.name,
        "detector": predictor.detector is not None and box is None,
        "flip_test": predictor.flip_test,
        "scales": list(predictor.spec.scales),
        "hands": [h.to_dict() for h in hands],
    }
    written: list[Path] = []
    try:
        _write_outputs(predictor, out_dir, stem, record, image, hands, threshold, mode, written)
    except BaseException:  # the image's files are all of one run: a new json beside no overlay, or beside an
        for path in targets if written else []:  # earlier run's, said one thing and showed another (a first write
            try:  # that failed left the earlier run's whole: they stay)
                path.unlink(missing_ok=True)
            except OSError:  # one held open (Windows: a viewer showing it): the write's error is the one to report
                pass
        raise
    if coco is not None:
        coco.extend(hands.to_coco(image_id))
    for stale in (out_dir / f"{stem}_maps.png", out_dir / f"{stem}_allmaps.png"):  # an earlier predict's, of more
        if stale not in written and stale.name in out.written and stale.is_file():  # maps: they no longer match
            stale.unlink()
    return written


def _write_outputs(predictor: Predictor, out_dir: Path, stem: str, record: dict[str, Any], image: np.ndarray,
                   hands: Any, threshold: float, mode: str, written: list[Path]) -> None:
    """Write NAME.json, NAME_overlay.png and the maps ``mode`` asks for, appending each path to ``written`` as it
    is written."""
    from handpose.viz import all_maps_figure, belief_map_figure, draw_hands, save_bgr, save_rgb

    written.append(write_json(out_dir / f"{stem}.json", record))
    written.append(save_bgr(out_dir / f"{stem}_overlay.png", draw_hands(image, hands, threshold)))
    first = hands[0] if hands else None
    if mode != "none" and first is not None and first.stage_maps is not None and first.crop is not None:
        names = [f"stage {s + 1}" for s in range(first.stage_maps.shape[0])]
        if predictor.stages == 1:
            names = ["last stage (ONNX)"]
        figure = belief_map_figure(first.crop, first.stage_maps, first.keypoints_in_crop(),
                                   stride=predictor.spec.stride, stage_names=names, scores=first.scores)
        written.append(save_rgb(out_dir / f"{stem}_maps.png", figure))
        if mode == "all":
            grid = all_maps_figure(first.crop, first.stage_maps[-1], stride=predictor.spec.stride)
            written.append(save_rgb(out_dir / f"{stem}_allmaps.png", grid))
