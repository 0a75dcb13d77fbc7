"""Safety of the folders the writers fill: a manifest marks a folder as handpose's, foreign folders are refused
unless ``overwrite``, and requests that cannot fit (image size, count, memory, disk, workers) are refused up front
with a one-line reason naming the flag.

The manifest (``MANIFEST_NAME``, JSON without a .json suffix so that dataset readers never take it for a label)
records what was written: kind, seed, count, size, renderer and its version, and the GL driver (another driver draws
other pixels from the same seed). Every image synth writes carries a JPEG comment (:data:`JPEG_MARK`), so its files
are known by their own marks (:func:`synth_outputs`), even an image whose label an interrupted render never wrote.
A render never replaces a file of its names that lacks those marks, whether or not the folder holds a manifest, and
never mixes one-hand images and scenes in one folder. Stale samples are only ever removed from a folder that holds a
manifest (or an older handpose render: only NNNNNNNN.jpg/.json files whose json carries ``synth_version``), and only
synth's own. A scene render stopped under a handpose before 2026-12-06 left images without the mark and without
labels: the refusal of such a folder says so, and to delete them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from handpose.folder_lock import LOCK_NAME, RunLock

LOG = logging.getLogger(__name__)

MANIFEST_NAME = "handpose-synth.manifest"
MIN_SIZE, MAX_SIZE = 32, 4096
MAX_COUNT = 100_000_000  # file names have 8 digits
_SAMPLE = re.compile(r"^\d{8}\.(jpg|json)$")
SCENES_JSON = "hands_coco.json"  # a scene render's labels, all in one json written as the render ends
SCENES_DESCRIPTION = "handpose synthetic hand scenes"  # the info.description of the scenes' COCO json
_BYTES_PER_PIXEL_IN_FLIGHT = 64  # buffers of one image being rendered (colour, ids, depth, float copies)
_WORKER_BASE_BYTES = 300 * 2**20  # a worker process: Python, numpy, OpenCV, the GL driver and the mesh


def _amount(nbytes: float) -> str:
    """Bytes as GiB, or as MiB under one GiB (so a small need never reads 0.0 GiB)."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def check_request(count: int, size: tuple[int, int], workers: int, seed: int, out: Path,
                  size_flag: str = "--size", count_flag: str = "--count") -> int:
    """Validate the numbers of a render request; returns the worker count to use (capped at the CPU count, with a
    warning). Raises ValueError naming the flag (``size_flag`` and ``count_flag``: the ones that gave ``size`` and
    ``count``, e.g. train's ``--synth-size`` and ``--synth-count``)."""
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    if count < 1 or count > MAX_COUNT:
        raise ValueError(f"{count_flag} must be between 1 and {MAX_COUNT:,}, got {count}")
    for side in size:
        if side < MIN_SIZE or side > MAX_SIZE:
            raise ValueError(f"{size_flag} must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {side}")
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    cpus = os.cpu_count() or 1
    if workers > cpus:
        LOG.warning("--workers %d is more than the %d CPUs here; using %d", workers, cpus, cpus)
        workers = cpus
    square = size_flag in ("--size", "--synth-size")  # flags of one side; --scene-size is W x H
    shown_size = f"{size[0]}" if square else f"{size[0]}x{size[1]}"  # as the flag is written
    need = workers * (_WORKER_BASE_BYTES + size[0] * size[1] * _BYTES_PER_PIXEL_IN_FLIGHT)
    avail = _available_memory()
    if avail is not None and need > avail:
        raise ValueError(f"--workers {workers} at {size_flag} {shown_size} needs about {_amount(need)} of "
                         f"memory and {_amount(avail)} is free; use fewer workers or a smaller size")
    disk = count * size[0] * size[1] * 0.25 + count * 2048  # JPEG at high quality + the json, generously
    probe = out
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    free = shutil.disk_usage(probe).free if probe.exists() else None
    if free == 0:
        raise ValueError(f"--out {out}: nothing can be written under {probe} (no free space there)")
    held = _replaced_bytes(out, count) if free is not None and disk > free else 0  # a stopped render run again:
    if free is not None and disk > free + held:  # its files make room as they are replaced
        also = f" (and {_amount(held)} in the files it replaces)" if held else ""
        raise ValueError(f"{count_flag} {count} at {size_flag} {shown_size} needs about {_amount(disk)} on disk "
                         f"and {_amount(free)} is free under {probe}{also}")
    return workers


def _replaced_bytes(folder: Path, count: int) -> int:
    """Bytes held by the sample files in ``folder`` (and its ``images/``) that a render of ``count`` writes again:
    each is replaced as its new one is written, so they count as free space. A file that is not synth's is refused
    later, before any is written (``prepare_folder``)."""
    held = 0
    for place in (folder, folder / "images"):
        try:
            entries = list(os.scandir(place))
        except OSError:  # no such folder (yet)
            continue
        for entry in entries:
            try:
                if _SAMPLE.match(entry.name) and int(entry.name[:8]) < count and entry.is_file(follow_symlinks=False):
                    held += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return held


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux /proc/meminfo), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _legacy_render(folder: Path, names: list[str]) -> bool:
    """A folder an older handpose wrote (before manifests): only sample files in jpg + json pairs, and a json
    carries synth_version."""
    if not names or not all(_SAMPLE.match(n) for n in names):
        return False
    stems = {ext: {n[:8] for n in names if n.endswith(ext)} for ext in (".jpg", ".json")}
    if stems[".jpg"] != stems[".json"]:
        return False
    first = next((n for n in sorted(names) if n.endswith(".json")), None)
    if first is None:
        return False
    try:
        return "synth_version" in json.loads((folder / first).read_text())
    except (OSError, ValueError):
        return False


JPEG_MARK = b"handpose synth"  # the comment (COM segment) in every image synth writes


_MARK_SEGMENT = b"\xff\xfe" + (len(JPEG_MARK) + 2).to_bytes(2, "big") + JPEG_MARK


def mark_jpeg(jpg: bytes) -> bytes:
    """JPEG bytes with synth's comment segment after the start-of-image marker and the JFIF header where there is
    one (JFIF wants its APP0 first; viewers ignore comments)."""
    if jpg[:2] != b"\xff\xd8":
        raise ValueError("not JPEG data")
    at = 2
    if jpg[2:4] == b"\xff\xe0":  # APP0 (JFIF): its length counts its own two length bytes
        at = 4 + int.from_bytes(jpg[4:6], "big")
    return jpg[:at] + _MARK_SEGMENT + jpg[at:]


def is_marked(path: Path) -> bool:
    """Whether ``path`` is an image synth wrote (its comment segment among the first bytes, :func:`mark_jpeg`)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head[:2] == b"\xff\xd8" and _MARK_SEGMENT in head


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` under ``path`` through ``files.atomic_write`` (a hidden temporary, then a rename; no fsync:
    samples can be rendered again), so a full disk, an interrupt or a kill leaves no half-written image or label
    under a sample's name; every OSError names the file (atomic_write's message)."""
    from handpose.files import atomic_write

    atomic_write(path, lambda tmp: tmp.write_bytes(data), durable=False)


def remove_partial_samples(folder: Path) -> None:
    """Delete the temporaries :func:`write_file` left when its process was killed mid-write (in ``folder`` and its
    ``images``; ``files.remove_stale_temporaries``: only those of processes that are gone)."""
    from handpose.files import remove_stale_temporaries

    for where in (folder, folder / "images"):
        remove_stale_temporaries(where)


def adopt_images(folder: Path, names: list[str]) -> int:
    """Give synth's mark to the images ``names`` (relative to ``folder``) that lack it: images an older handpose
    wrote, known as synth's only by the json that lists them, keep being known when that json goes. Returns how
    many were marked."""
    marked = 0
    for name in names:
        path = folder / name
        if path.is_file() and not is_marked(path):
            data = path.read_bytes()
            if data[:2] == b"\xff\xd8":
                write_file(path, mark_jpeg(data))
                marked += 1
    return marked


def samples_taken(count: int, sub: str = "", suffixes: tuple[str, ...] = (".jpg", ".json"),
                  also: tuple[str, ...] = ()) -> Callable[[Path], list[str]]:
    """What a render of ``count`` samples would write over in a folder: its ``sub``/NNNNNNNN files (index under
    ``count``, with ``suffixes``) and the files ``also`` names, as far as they exist (relative paths)."""

    def taken(folder: Path) -> list[str]:
        found = [name for name in also if (folder / name).exists()]
        where = folder / sub if sub else folder
        if where.is_dir():
            for name in sorted(os.listdir(where)):
                stem, suffix = os.path.splitext(name)
                if suffix in suffixes and len(stem) == 8 and stem.isdigit() and int(stem) < count:
                    found.append(f"{sub}/{name}" if sub else name)
        ours = synth_outputs(folder)
        return [name for name in found if name not in ours]  # an earlier --overwrite render's own files are not

    return taken


def synth_outputs(folder: Path) -> set[str]:
    """The files of ``folder`` that handpose synth wrote, by their own marks: a sample json carrying
    ``synth_version`` and its image; a scenes json whose description is synth's, and the images it lists."""
    ours: set[str] = set()
    for name in os.listdir(folder):
        if _SAMPLE.match(name) and name.endswith(".json") and "synth_version" in _json_of(folder / name):
            ours.update({name, name[:-5] + ".jpg"})
        elif _SAMPLE.match(name) and is_marked(folder / name):
            ours.add(name)
    images = folder / "images"
    if images.is_dir():
        ours.update(f"images/{name}" for name in os.listdir(images) if _SAMPLE.match(name)
                    and is_marked(images / name))
    for name in os.listdir(folder):
        doc = _json_of(folder / name) if name.endswith(".json") and not _SAMPLE.match(name) else {}
        if str(doc.get("info", {}).get("description", "")).startswith(SCENES_DESCRIPTION):
            ours.add(name)
            ours.update(f"images/{im.get('file_name')}" for im in doc.get("images", []) if isinstance(im, dict))
    return ours


def _json_of(path: Path) -> dict[str, Any]:
    """A json file's object, or {} when it is not one."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def prepare_folder(folder: Path, overwrite: bool, would_replace: Callable[[Path], list[str]] | None = None,
                   kind: str | None = None, lock: RunLock | None = None) -> bool:
    """Create ``folder`` or check that handpose may write into it; returns whether it is handpose's own (stale
    samples may be removed). A non-empty folder without a manifest is refused unless ``overwrite``; any folder is
    refused when the render would replace a file of it that synth did not write (``would_replace``: those files of
    a folder), or when its manifest is of another ``kind`` of render ("crops" or "scenes").

    ``lock`` (the folder's, not yet held) is taken before anything in the folder is read or removed: a render into a
    folder that another is writing is refused with the holder's PID (two renders there would leave one's pictures
    beside the other's labels). A refused folder is given back as it was found, with no lock file added."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out: {folder} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out: {folder} cannot be made ({exc.strerror or exc})") from exc
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--out: {folder} is not writable")
    if lock is None:
        return _checked(folder, overwrite, would_replace, kind)
    added = not lock.path.exists()
    lock.acquire()
    try:
        return _checked(folder, overwrite, would_replace, kind)
    except BaseException:
        lock.release()
        if added and not lock.remove:
            lock.path.unlink(missing_ok=True)
        raise


def _checked(folder: Path, overwrite: bool, would_replace: Callable[[Path], list[str]] | None,
             kind: str | None) -> bool:
    """:func:`prepare_folder`'s checks of an existing, writable ``folder`` (its partial samples removed first)."""
    remove_partial_samples(folder)
    names = [n for n in os.listdir(folder) if n != LOCK_NAME]
    own = not names or MANIFEST_NAME in names or _legacy_render(folder, names)
    if MANIFEST_NAME in names and kind is not None:
        earlier = _json_of(folder / MANIFEST_NAME).get("kind")
        if earlier not in (None, kind) and any(n != MANIFEST_NAME for n in names):
            what = {"crops": "one-hand images", "scenes": "scenes"}
            raise ValueError(f"--out: {folder} holds a render of {what.get(str(earlier), earlier)}; "
                             f"{what.get(kind, kind)} go into a folder of their own (another --folder or --out)")
    if not own and not overwrite:
        foreign = _not_synths(folder, names)
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ValueError(f"--out: {folder} holds files handpose synth did not write ({shown}); choose an empty "
                         "folder or pass --overwrite to write into it anyway (nothing else in it is deleted)")
    clash = would_replace(folder) if would_replace is not None and names else []
    if clash:
        shown = ", ".join(clash[:3]) + (f", ... ({len(clash)} files)" if len(clash) > 3 else "")
        if _json_of(folder / MANIFEST_NAME).get("complete") is False:
            raise ValueError(f"--out: {folder} holds files of the names this render writes ({shown}) without synth's "
                             "mark, beside a manifest saying a render there was stopped before the end: a render "
                             "stopped under a handpose before 2026-12-06 left such images (unmarked, never labelled), "
                             "and a render never writes over files it cannot tell from a user's; if they are that "
                             "render's, delete them (or the folder) and run the command again")
        raise ValueError(f"--out: {folder} holds files of the names this render writes ({shown}), which handpose did "
                         "not write: a render (--overwrite too) writes beside such files, never over them; move them "
                         "or choose another folder")
    if not own:
        LOG.warning("--overwrite: writing into %s, which holds files handpose did not write", folder)
    return own


def _not_synths(folder: Path, names: list[str]) -> list[str]:
    """The entries of ``folder`` (``names``; inside ``images/`` too) that synth did not write, sorted: what a
    refusal names (an earlier ``--overwrite`` render's samples beside a user's file are synth's, not the user's).
    All of ``names`` where none is told apart."""
    ours = synth_outputs(folder) | {MANIFEST_NAME}
    foreign = []
    for name in sorted(names):
        if name == "images" and (folder / name).is_dir():
            foreign += [f"images/{n}" for n in sorted(os.listdir(folder / name)) if f"images/{n}" not in ours]
        elif name not in ours:
            foreign.append(name)
    return foreign or sorted(names)


def write_manifest(folder: Path, info: dict[str, Any]) -> None:
    """Record what was written (kind, seed, count, size, renderer, version, GL driver) in the folder's manifest."""
    from handpose.files import atomic_write

    text = json.dumps({"writer": "handpose synth", **info}, indent=1, sort_keys=True)
    atomic_write(folder / MANIFEST_NAME, lambda tmp: tmp.write_text(text))


def unfinished_renders(path: str | Path) -> list[Path]:
    """The render folders at or just below ``path`` (``path`` itself, its child folders, or a scenes json's folder)
    whose manifest says the writer stopped before the end (``"complete": false``: a killed ``handpose synth``)."""
    path = Path(path)
    base = path.parent if path.is_file() else path
    candidates = [base] + (sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else [])
    return [folder for folder in candidates if _json_of(folder / MANIFEST_NAME).get("complete") is False]


def unlabelled_scenes(folder: Path) -> bool:
    """Whether ``folder`` holds a scene render (by its manifest) without its labels' json: one stopped before its
    end, which is when a scene render writes them."""
    return _json_of(folder / MANIFEST_NAME).get("kind") == "scenes" and not (folder / SCENES_JSON).exists()
