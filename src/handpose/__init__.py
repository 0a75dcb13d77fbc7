"""handpose: train, evaluate, export and run an OpenPose-style (CPM) hand keypoint detector.

The Python API (imported on first use, so ``import handpose`` stays light)::

    from handpose import Predictor
    predictor = Predictor.from_file("hand.safetensors", detector="detector.safetensors")
    hands = predictor.predict("photo.jpg")      # no box: a list of hands (possibly empty)
    hands.save("photo_hands.png")               # or hands.plot() -> annotated BGR image

    hands = handpose.predict("photo.jpg", model="hand.onnx", detector="detector.safetensors")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

__version__ = "0.1.0"

if TYPE_CHECKING:
    import numpy as np

    from handpose.inference.predictor import Prediction, Predictor
    from handpose.inference.results import Hands

__all__ = ["Predictor", "__version__", "predict"]


def __dir__() -> list[str]:
    """The module's names with the lazily imported ``Predictor`` (so tab completion offers it)."""
    return sorted({*globals(), *__all__})


def __getattr__(name: str) -> Any:
    """``handpose.Predictor`` imported on first use (it pulls in OpenCV, numpy and the model code)."""
    if name == "Predictor":
        from handpose.inference.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'handpose' has no attribute {name!r}")


@overload
def predict(image: Any, model: str | Path = ..., detector: str | Path | None = ..., box: None = None,
            device: str = ..., **options: Any) -> Hands: ...


@overload
def predict(image: Any, model: str | Path = ..., detector: str | Path | None = ...,
            *, box: Sequence[float] | np.ndarray, device: str = ..., **options: Any) -> Prediction: ...


@overload
def predict(image: Any, model: str | Path, detector: str | Path | None, box: Sequence[float] | np.ndarray,
            device: str = ..., **options: Any) -> Prediction: ...


def predict(image: Any, model: str | Path = "pretrained:lite", detector: str | Path | None = "pretrained:detector",
            box: Sequence[float] | np.ndarray | None = None, device: str = "cpu",
            **options: Any) -> Prediction | Hands:
    """One-line prediction: load ``model`` (the shipped keypoint model by default; ``pretrained:NAME`` names a
    shipped one) and ``detector`` (the shipped one by default; None: no detection, the whole image is one hand)
    and run :meth:`Predictor.predict` on ``image``.

    Returns the hands found (a list, possibly empty) or, with ``box``, that one hand's ``Prediction``.
    ``options`` go to ``Predictor.predict`` (``color="rgb"``, ``box_format="xyxy"``, ``is_left``, ...). The
    models loaded are kept for the next call with the same ones (``inference/one_line``: a file written again is
    read again; ``handpose.inference.one_line.forget()`` lets them go), so a loop of calls loads them once."""
    from handpose.inference.one_line import one_line_predictor

    detector = None if box is not None else detector  # a given box skips detection: no detector to load
    return one_line_predictor(model, detector, device).predict(image, box=box, **options)
