"""The models that ship inside the package: trained only on handpose's own renders, so they need no download.

``path("lite")`` is the keypoint model and ``path("detector")`` the hand detector; ``Predictor.from_pretrained()``,
``handpose predict`` without ``--model`` and ``handpose train --init pretrained:lite`` use them; ``lite-int8`` is
the keypoint model's int8 ONNX export, for onnxruntime, and ``detector-onnx`` the detector's float32 ONNX export
(on the CPU, ``pretrained:detector`` runs in whichever of PyTorch and onnxruntime measures faster on the machine:
``detection/runtime_choice``). ``detector-onnx`` is not shipped: it is exported from the shipped detector the first
time it is asked for (about a second; the same bytes the release's export made) into
``<cache>/pretrained/`` (``training.data.cache_root``, default ``~/.cache/handpose``), named by the weights' hash, so
the package carries each network once. Weights are stored as float16 (half the size; the float32 model is rebuilt when
loaded, figures in MODEL_CARD.md). Their recipe is ``scripts/release.sh`` then ``scripts/pack_pretrained.py`` and
``handpose export --int8`` (keypoints).
"""

from __future__ import annotations

import threading
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
PREFIX = "pretrained:"  # --init pretrained:lite, --model pretrained:detector

# name -> (file in this package, task)
MODELS: dict[str, tuple[str, str]] = {
    "lite": ("hand_keypoints_lite.safetensors", "keypoints"),
    "lite-int8": ("hand_keypoints_lite_int8.onnx", "keypoints"),  # its int8 ONNX export (onnxruntime)
    "detector": ("hand_detector.safetensors", "detect"),
    "detector-onnx": ("hand_detector.onnx", "detect"),  # its float32 ONNX export, made at first use, not shipped
}
DEFAULT_DETECTOR = "detector"
DETECTOR_ONNX = "detector-onnx"
_EXPORTING_DETECTOR = threading.Lock()  # threads asking for the detector's export at once: the first makes it


def names() -> list[str]:
    """The shipped models' names."""
    return sorted(MODELS)


def path(name: str) -> Path:
    """The file of shipped model ``name``; ValueError listing the names for an unknown one, FileNotFoundError when
    the package was installed without its weights."""
    if name.startswith(PREFIX):
        name = name[len(PREFIX) :]
    if name not in MODELS:
        raise ValueError(f"no shipped model named {name!r}; the shipped models are {', '.join(names())}")
    if name == DETECTOR_ONNX:
        return detector_onnx()
    file = FOLDER / MODELS[name][0]
    if not file.is_file():
        raise FileNotFoundError(f"the shipped model {name!r} is missing from this installation ({file})")
    return file


def shown(file: str | Path) -> str:
    """How to name ``file`` to the user: ``pretrained:NAME`` for a shipped model's file (the name they gave, not
    where the package lies), the path as given for any other."""
    try:
        where = Path(file).resolve()
    except OSError:
        return str(file)
    for name, (stored, _) in MODELS.items():
        if where == FOLDER / stored:
            return f"{PREFIX}{name}"
    return str(file)


def resolve(spec: str | Path) -> Path:
    """A model path as given, or a shipped model's file for ``pretrained:NAME``. FileNotFoundError pointing to
    ``pretrained:NAME`` for a bare shipped name that is no file here (``lite``)."""
    text = str(spec)
    if text.startswith(PREFIX):
        return path(text)
    if isinstance(spec, str) and text in MODELS and not Path(text).exists():
        raise FileNotFoundError(f"model file not found: {text} (the shipped model of that name is "
                                f"{PREFIX}{text})")
    return Path(spec)


def detector_onnx() -> Path:
    """The shipped detector's float32 ONNX export, made in the cache folder on first use (``$HANDPOSE_CACHE``, or the
    temporary folder where that cannot be written) and named by the weights' hash, so a newer package's weights get
    their own export; written atomically (concurrent first uses are safe; threads of one process wait for the first
    one's export instead of making their own) and its maps checked against PyTorch's
    (``export_detector_onnx``; RuntimeError when they differ). A folder is proved writable before the export (about
    a second) is made: a cache that exists but cannot be written (a read-only mount in a container image) is passed
    over at once, an export found in it still used. OSError when no folder can be written."""
    import hashlib

    from handpose.detection.onnx_export import export_detector_onnx
    from handpose.model import artifact
    from handpose.training.data import cache_root

    source = path(DEFAULT_DETECTOR)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    stem = Path(MODELS[DETECTOR_ONNX][0]).stem
    last: OSError | None = None
    try:
        folders = [cache_root() / "pretrained"]
    except OSError as exc:  # no cache folder (no home folder): the temporary folder's, where there is one
        folders, last = [], exc
    for folder in (*folders, *_temporary_folder()):
        out = folder / f"{stem}-{digest}.onnx"
        try:
            if _in_shared_temp(folder):  # a shared folder: only one of our own, closed to others
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                _check_private(folder)
            with _EXPORTING_DETECTOR:
                if out.is_file():
                    return out
                _check_writable(folder)  # a read-only cache is passed over at once, not after a whole export
                export_detector_onnx(artifact.load_model(source, task="detect"), out)
            return out
        except OSError as exc:  # a read-only cache: try the next folder
            last = exc
    raise OSError(f"cannot write the ONNX export of {source} into the cache or the temporary folder: {last}")


def _check_writable(folder: Path) -> None:
    """Make ``folder`` and prove a file can be written in it (``files.ensure_writable_folder``: a probe file, which
    a read-only mount refuses even to root, unlike ``os.access``); OSError naming it where it cannot be written
    or is a file."""
    from handpose.files import ensure_writable_folder

    try:
        ensure_writable_folder(folder, "the ONNX export's folder")
    except ValueError as exc:  # a file where the folder should be
        raise NotADirectoryError(str(exc)) from exc


def _temporary_folder() -> list[Path]:
    """The export's fallback folder in the temporary folder: ``handpose-UID`` where there are user ids (POSIX; made
    private and checked, :func:`_in_shared_temp`). Where there are none (Windows) ``handpose`` when the temporary
    folder lies in the user's home (Windows' default, ``%LOCALAPPDATA%\\Temp``, which other users cannot write), else
    none: a machine-wide temporary folder there offers no owner check to rely on."""
    import os
    import tempfile

    temp = Path(tempfile.gettempdir())
    if hasattr(os, "getuid"):
        return [temp / f"handpose-{os.getuid()}"]
    try:
        mine = temp.resolve().is_relative_to(Path.home().resolve())
    except (OSError, RuntimeError):  # no home folder to be found
        mine = False
    return [temp / "handpose"] if mine else []


def _in_shared_temp(folder: Path) -> bool:
    """Whether ``folder`` sits in the temporary folder that all users share and must be checked as this user's own
    (POSIX, where user ids exist; Windows' temporary folder is the user's own, :func:`_temporary_folder`)."""
    import os
    import tempfile

    return hasattr(os, "getuid") and folder.parent == Path(tempfile.gettempdir())


def _check_private(folder: Path) -> None:
    """PermissionError unless ``folder`` (in the shared temporary folder) belongs to this user and no one else may
    write in it: a model file another user placed there would otherwise be run."""
    import os
    import stat

    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise PermissionError(f"{folder} is not a folder of this user's alone; it is not used")
