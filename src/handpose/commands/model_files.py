"""The model-file flags of eval (``--weights``, ``--detector``, ``--keypoints``), export (``--weights``), train
(``--init``) and convert (``--from``): a path that names no file is said with its flag before anything loads, so
that of two model files the one at fault is plain (predict names its ``--model`` / ``--detector`` as they load)."""

from __future__ import annotations

from pathlib import Path


def require_model_file(flag: str, value: str | Path | None) -> None:
    """FileNotFoundError ``FLAG: model file not found: VALUE`` where ``value`` does not exist, ValueError where it is
    a folder, a FIFO or the like; None and ``pretrained:NAME`` pass (the shipped models are checked where they load),
    and a bare shipped name that is no file here (``lite``) is pointed to ``pretrained:NAME``."""
    from handpose import pretrained
    from handpose.regular_files import why_not_a_file

    if value is None or str(value).startswith(pretrained.PREFIX):
        return
    try:
        pretrained.resolve(value)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{flag}: {exc}") from None
    why = why_not_a_file(value)
    if why == "does not exist":
        raise FileNotFoundError(f"{flag}: model file not found: {value}")
    if why:
        raise ValueError(f"{flag}: {value} {why}, not a model file")
