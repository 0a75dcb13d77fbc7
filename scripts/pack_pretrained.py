"""Pack trained models into the package as the shipped ones: float16 copies with their provenance in the metadata.

    python scripts/pack_pretrained.py --keypoints runs/release/keypoints/best.safetensors \
        --detector runs/release/detector/best.safetensors --note "scripts/release.sh on one H200"

The copies go to src/handpose/pretrained/ (the file names in ``handpose.pretrained.MODELS``); a packed detector's
ONNX export (``detector-onnx``) is not shipped but made from it at first use (``pretrained.detector_onnx``), and this
script makes it once to report its parity with PyTorch. Each keeps the
model and data configs; ``source``, ``renderer_version``, ``packed`` and ``note`` are added. The script prints the
largest weight change float16 storage makes, so a model whose weights do not fit float16 is noticed.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import torch

from handpose import pretrained
from handpose.model import artifact
from handpose.synth import RENDERER_VERSION


def pack(source: Path, name: str, note: str) -> Path:
    """Write the float16 copy of ``source`` as shipped model ``name``; returns its path."""
    file, task = pretrained.MODELS[name]
    model = artifact.load_model(source, task=task)
    data_cfg = artifact.read_data_config(source, model.config) if task == "keypoints" else None
    meta = dict(artifact.read_metadata(source))
    keep = {k: v for k, v in meta.items() if k in ("step", "validation")}
    keep.update(source=source.name, renderer_version=RENDERER_VERSION, note=note,
                packed=datetime.date.today().isoformat())
    full = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.half()
    worst = max(float((v.float() - full[k]).abs().max()) for k, v in model.state_dict().items()
                if v.is_floating_point())
    out = pretrained.FOLDER / file
    artifact.save_weights(model, out, {k: json.dumps(v) if not isinstance(v, str) else v for k, v in keep.items()},
                          data_cfg)
    print(f"{name}: {source} -> {out} ({out.stat().st_size / 1e6:.1f} MB, float16; largest weight change {worst:.2e})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keypoints", type=Path, help="keypoint model to ship as 'lite'")
    parser.add_argument("--detector", type=Path, help="hand detector to ship as 'detector'")
    parser.add_argument("--note", default="", help="how it was trained (kept in the metadata)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    if args.keypoints:
        pack(args.keypoints, "lite", args.note)
    if args.detector:
        packed = pack(args.detector, "detector", args.note)
        export_detector(packed)


def export_detector(packed: Path) -> Path:
    """The packed detector's float32 ONNX export (``detector-onnx``) as users get it at first use: made into the cache
    from the float16 weights as shipped, its maps checked against PyTorch's on the way."""
    out = pretrained.path(pretrained.DETECTOR_ONNX)
    print(f"{pretrained.DETECTOR_ONNX}: {out} ({out.stat().st_size / 1e6:.1f} MB), made from {packed} at first use")
    return out


if __name__ == "__main__":
    main()
