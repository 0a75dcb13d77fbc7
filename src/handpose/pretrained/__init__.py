"""The models that ship inside the package: trained only on handpose's own renders, so they need no download.

``path("lite")`` is the keypoint model and ``path("detector")`` the hand detector; ``Predictor.from_pretrained()``,
``handpose predict`` without ``--model`` and ``handpose train --init pretrained:lite`` use them; ``lite-int8`` is
the keypoint model's int8 ONNX export, for onnxruntime, and ``detector-onnx`` the detector's float32 ONNX export
(on the CPU, ``pretrained:detector`` runs in whichever of PyTorch and onnxruntime measures faster on the machine:
``detection/runtime_choice``). Weights are stored as float16 (half the size; the float32
model is rebuilt when loaded, figures in MODEL_CARD.md). Their recipe is ``scripts/release.sh`` then
``scripts/pack_pretrained.py``, ``handpose export --int8`` (keypoints) and ``handpose export`` (detector).
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
PREFIX = "pretrained:"  # --init pretrained:lite, --model pretrained:detector

# name -> (file in this package, task)
MODELS: dict[str, tuple[str, str]] = {
    "lite": ("hand_keypoints_lite.safetensors", "keypoints"),
    "lite-int8": ("hand_keypoints_lite_int8.onnx", "keypoints"),  # its int8 ONNX export (onnxruntime)
    "detector": ("hand_detector.safetensors", "detect"),
    "detector-onnx": ("hand_detector.onnx", "detect"),  # its float32 ONNX export (onnxruntime), the same maps
}
DEFAULT_KEYPOINTS = "lite"
DEFAULT_DETECTOR = "detector"
DETECTOR_ONNX = "detector-onnx"


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
    file = FOLDER / MODELS[name][0]
    if not file.is_file():
        raise FileNotFoundError(f"the shipped model {name!r} is missing from this installation ({file})")
    return file


def resolve(spec: str | Path) -> Path:
    """A model path as given, or a shipped model's file for ``pretrained:NAME``."""
    text = str(spec)
    return path(text) if text.startswith(PREFIX) else Path(spec)
