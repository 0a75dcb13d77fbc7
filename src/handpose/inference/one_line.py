"""The predictor behind ``handpose.predict``: its models loaded once and kept for the next call with the same ones.

``handpose.predict(image)`` in a loop loaded the keypoint model and the detector (the shipped detector in both
runtimes, to take the faster) on every call: 0.6-3.5 s a call on 2 cores against a fraction of that for the
prediction. The last call's :class:`~handpose.inference.predictor.Predictor` is kept, keyed by what it was loaded
from: the model and detector names, and for a file its resolved path, size and modification time (a file written
again is read again), and the device. One predictor is kept, not one per set of models: a script that alternates
models pays the load each time, as before, and holds one set of weights. A predictor serves several threads (its
docstring), so threads share it; :func:`forget` lets it go.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handpose.inference.predictor import Predictor

_LOCK = threading.Lock()
_kept: tuple[tuple[Any, ...], Predictor] | None = None


def source_identity(source: str | Path | None) -> Any:
    """What a model argument names: None, a ``pretrained:`` name as written, a file as (resolved path, size,
    modification time in ns); a path that cannot be read as written (the load then says what is wrong)."""
    if source is None or str(source).startswith("pretrained:"):
        return None if source is None else str(source)
    try:
        path = Path(source).resolve()
        stat = path.stat()
    except OSError:
        return str(source)
    return (str(path), stat.st_size, stat.st_mtime_ns)


def one_line_predictor(model: str | Path, detector: str | Path | None, device: str) -> Predictor:
    """The predictor of ``model`` and ``detector`` on ``device``: the one the last call loaded where it was
    loaded from the same files, else a new one (then kept in its place)."""
    global _kept
    from handpose.inference.predictor import Predictor

    key = (source_identity(model), source_identity(detector), str(device))
    with _LOCK:  # threads asking at once load once
        if _kept is not None and _kept[0] == key:
            return _kept[1]
        predictor = Predictor.from_file(model, device=device, detector=detector)
        _kept = (key, predictor)
        return predictor


def forget() -> None:
    """Let the kept predictor go (its memory is freed once no caller holds it)."""
    global _kept
    with _LOCK:
        _kept = None
