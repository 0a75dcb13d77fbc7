"""Inference: crop preparation (``prepare``), backends (PyTorch, onnxruntime) and the ``Predictor``.

``Predictor`` and ``Prediction`` are loaded on first use, so that a light module of the package (``refine``'s
settings, for the commands' flags) can be imported without torch: ``handpose --help`` builds every parser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a type checker sees of the names loaded on first use
    from handpose.inference.predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from handpose.inference import predictor

    return getattr(predictor, name)
