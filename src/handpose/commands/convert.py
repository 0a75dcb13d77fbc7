"""Convert foreign weights (OpenPose caffemodel, TF VGG-16 .npy, torchvision VGG-19) to a handpose .safetensors file.

The input kind is detected from the file. A caffemodel must hold every layer of the preset (OpenPose's hand
model fills the openpose preset completely); a .npy or a VGG-19 state dict fills the layers it has and the rest
keep their random initialisation (an ImageNet conv1_1 is rewritten for handpose's BGR x/256 - 0.5 input). The
report of loaded / random layers is printed. A file of which no layer fits the preset is an error (nothing is
written) that names the preset the file does fit. The output is loadable with
``handpose.model.artifact.load_model`` and usable as ``--init`` or ``--weights`` elsewhere.

Examples:
  handpose convert --from pose_iter_102000.caffemodel --out openpose_hand.safetensors
  handpose convert --from vgg19-dcbb9e9d.pth --out vgg_init.safetensors --preset openpose
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``handpose convert``."""
    parser.add_argument("--from", dest="source", required=True, help="weight file to convert")
    parser.add_argument("--out", required=True, help="output .safetensors path")
    parser.add_argument("--preset", default="openpose", help="model preset to fill (default: openpose)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the layers the file does not fill "
                        "(default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def run(args: argparse.Namespace) -> int:
    """Build the preset, import the weights, save safetensors, print the report."""
    from pathlib import Path

    import torch

    from handpose.files import atomic_write, ensure_writable_file
    from handpose.model.artifact import save_weights
    from handpose.model.cpm import build_model
    from handpose.model.importers import init_weights, nothing_loaded

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out {out}: the output must be a .safetensors file")
    if out.exists() and not args.overwrite:
        raise ValueError(f"--out {out} already exists; give --overwrite to replace it")
    ensure_writable_file(out, "--out")  # before the import, which may take a while
    from handpose import pretrained
    from handpose.commands.model_files import require_model_file

    require_model_file("--from", args.source)
    args.source = str(pretrained.resolve(args.source))  # pretrained:NAME, as the other commands take it
    torch.manual_seed(args.seed)
    model = build_model(args.preset)
    try:
        report = init_weights(model, args.source)
    except ValueError as exc:  # layers of the file's names in other shapes: say which preset the file does fit
        from handpose.model.importers import best_preset

        best, count = best_preset(args.source)
        if best is None or best == args.preset:
            raise
        raise ValueError(f"{args.source} does not fit the {args.preset} preset; the {best} preset loads {count} of "
                         f"its layers (--preset {best}). {_first_line(exc)}") from exc
    if not report.loaded:
        raise ValueError(nothing_loaded(args.source, args.preset, report) + ", nothing written")
    meta = {"converted_from": Path(args.source).name, "import_kind": report.kind}
    atomic_write(out, lambda tmp: save_weights(model, tmp, metadata=meta))  # a plain file's mode, never half written
    print(report.summary())
    print(f"wrote {out}")
    return 0


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """The start of ``exc``'s message (a list of mismatched layers can run to thousands of characters)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " ..."
