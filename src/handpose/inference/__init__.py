"""Inference: crop preparation (``prepare``), backends (PyTorch, onnxruntime) and the ``Predictor``."""

from handpose.inference.predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]
