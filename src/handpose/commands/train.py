"""Train a CPM hand keypoint model (CPU, GPU, or many processes through torchrun).

Without --data it renders a synthetic dataset into a cache folder ($HANDPOSE_CACHE, else $XDG_CACHE_HOME/handpose,
else ~/.cache/handpose) once and trains the lite preset on it, so it runs anywhere. The run folder (--out) receives
config.json (the resolved settings), TensorBoard events, checkpoints/ckpt-<step>.pt (atomic, the last --keep kept),
best.safetensors (best validation PCK@0.2, or AP@0.5 for the detector), model.safetensors (the end) and summary.json.
Every --log-every steps it logs a line in hand_detector_train's format:
  epoch=0.53 step=1000, 40.9523 examples/sec lr=0.000100, loss=155.03, loss_ll_heat=30.5468
Ctrl-C / SIGTERM / SIGHUP (a closed terminal) write a checkpoint and stop cleanly; --resume RUN_DIR continues exactly
(model, optimizer, schedule, step, random state, data order) with the run's stored settings (options given again
override them, --lr among them, from the resumed step; another --batch-size keeps the run's epochs or --max-steps,
re-counts the steps to go, and a warning says how; --init, --overwrite and another --optimizer, --task or --seed
are refused).
Each preset trains with its own recipe (handpose.training.recipes), with or without --data, which decides only
the data; options given still win. The defaults shown below are the openpose preset's; the lite preset (the
default without --data) trains at 96 px, box padding 1.3, sigma 2, left hands mirrored, a quarter of the hands cut
off by an image edge (--edge-cut-prob 0.25), batch 16, lr 4e-3, 3700 steps (on 8000 rendered hands without --data).
--photo-aug-prob P (0 in every recipe) gives a share P of crops (or the detector's images) a poor camera's look:
harsh exposure, gamma, low contrast, sensor noise, blur or motion blur and JPEG (handpose.data.photo_aug).

Examples:
  handpose train                                        # synthetic data, lite preset
  handpose train --data hand_labels --preset openpose --init openpose_vgg16.npy --epochs 50 --out runs/cmu
  handpose train --resume runs/cmu
  handpose train --data mixed/ --preset lite --init pretrained:lite --out runs/mine  # mixed/: links to datasets
  torchrun --nproc_per_node=4 -m handpose train --data hand_labels --batch-size 16 --out runs/ddp
  tensorboard --logdir runs
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

# flags whose name is not their config field's; every other option maps to the TrainConfig, DataConfig or
# AugmentConfig field of its own name (see _field_of)
_RENAMED: dict[str, tuple[str, str]] = {
    "format": ("", "data_format"), "keep": ("", "keep_checkpoints"), "rotation": ("augment", "rotation_deg"),
    "augment": ("augment", "enabled"),
}
# options handled by config_from_args / _apply themselves
_NOT_FIELDS = frozenset({"resume", "preset", "input_size", "output_stride", "no_flip", "task"})


def _field_of(dest: str) -> tuple[str, str] | None:
    """(section, field) an option sets: section "" is TrainConfig, "dataset" DataConfig, "augment" AugmentConfig."""
    from handpose.config import AugmentConfig, DataConfig, TrainConfig

    if dest in _RENAMED:
        return _RENAMED[dest]
    if dest in _NOT_FIELDS:
        return None
    for section, cls in (("", TrainConfig), ("dataset", DataConfig), ("augment", AugmentConfig)):
        if dest in {f.name for f in dataclasses.fields(cls)} - {"model", "dataset", "augment"}:
            return section, dest
    return None


def _default_of(dest: str) -> Any:
    """The TrainConfig default of the field an option sets (shown in --help), or None."""
    from handpose.config import TrainConfig

    found = _field_of(dest)
    if found is None:
        return None
    cfg = TrainConfig()
    section = {"": cfg, "dataset": cfg.dataset, "augment": cfg.dataset.augment}[found[0]]
    return getattr(section, found[1])


def add_speed_flags(group: Any, what: str, amp_note: str | None = None) -> None:
    """``--amp [auto|on|off]`` / ``--no-amp`` and ``--channels-last [auto|on|off]`` / ``--no-channels-last``
    (shared by train, eval and predict; default auto: measured on first use, see handpose.autotune). ``amp_note``:
    --amp defaults to off instead, for the reason it gives."""
    for flag, text in (("amp", "bf16 autocast (fp16 also on CUDA for inference)"),
                       ("channels-last", "channels-last memory format")):
        dest = flag.replace("-", "_")
        default = f"auto (default: the faster of on and off {what} here, timed on first use and cached), on, or off"
        if flag == "amp" and amp_note is not None:
            default = f"auto (the faster of on and off {what} here), on, or off (default: {amp_note})"
        group.add_argument(f"--{flag}", dest=dest, nargs="?", const="on",
                           default="off" if flag == "amp" and amp_note is not None else None,
                           choices=("auto", "on", "off"), help=f"{text}: {default}")
        group.add_argument(f"--no-{flag}", dest=dest, action="store_const", const="off", help=f"--{flag} off")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from handpose.commands.threads_flag import parse_threads
    from handpose.config import TASKS
    from handpose.data.formats import ALIASES, FORMATS, ORDERS
    from handpose.data.formats.keypoint_orders import ALIASES as ORDER_ALIASES
    from handpose.model.presets import PRESETS
    from handpose.training.recipes import DETECT_RECIPE, RECIPES

    bool_opt = argparse.BooleanOptionalAction

    g: Any = parser

    def opt(*flags: str, help: str, **kw: Any) -> None:
        dest = kw.get("dest") or flags[0].lstrip("-").replace("-", "_")
        if _field_of(dest) is None and dest not in _NOT_FIELDS:
            raise ValueError(f"train option {flags[0]} maps to no config field")  # a programming error
        if _field_of(dest) is not None and "(default" not in help:
            help += f" (default: {_default_of(dest)})"
        g.add_argument(*flags, default=None, help=help, **kw)

    g = parser.add_argument_group("data and run folder")
    opt("--data", help="dataset path, any format handpose reads, or a folder of several datasets (links "
        "followed), trained on together (default: the embedded synthetic dataset)")
    opt("--format", choices=sorted(FORMATS) + sorted(ALIASES), metavar="FORMAT",
        help=f"dataset format: {', '.join(sorted(FORMATS))}; --task detect reads coco and coco_wholebody, each "
        "found by itself (default: detected)")
    opt("--keypoint-order", choices=sorted(ORDERS) + sorted(ORDER_ALIASES), metavar="ORDER",
        help=f"keypoint order of a COCO json stored in another order than CMU's: {', '.join(sorted(ORDERS))}, or "
        "a name of CMU's order (mediapipe, openpose, ...) (default: cmu, or rhd for a json named *rhd*)")
    opt("--negatives", metavar="JSON", help="keypoint task: a COCO json of boxes that hold no hand (hard negatives, "
        "e.g. from scripts/hard_negatives.py), added to the training samples; their crops train every keypoint "
        "map towards 0, so the hand's score (the mean keypoint peak) drops on things that are not hands "
        "(default: none)")
    opt("--out", help="run folder (default: runs/train; with --resume: the resumed run's folder)")
    opt("--resume", metavar="DIR", help="continue the run in DIR (its newest checkpoint) or from a ckpt-*.pt file")
    opt("--overwrite", action=bool_opt, help="start a new run in an --out folder that holds one, deleting that "
        "run's files (config.json, checkpoints, weights, summary, events) first; without it such a folder is refused")
    opt("--init", metavar="WEIGHTS", help="initial weights: a handpose .safetensors / .pt (e.g. pretrained:lite; its "
        "preset, input size, stride, sigma, padding and mirroring are taken, and a tenth of its recipe's lr; flags "
        "given still win), the TensorFlow "
        "VGG-16 openpose_vgg16.npy of hand_detector_train, torchvision VGG-19 .pth or OpenPose's .caffemodel; "
        "with --task detect, a detector file or a keypoint model of the lite preset (e.g. pretrained:lite), whose "
        "MobileNet front starts the detector's backbone (default: random init)")
    opt("--synth-count", type=int, help="embedded dataset: number of rendered images")
    opt("--synth-size", type=int, help="embedded dataset: rendered image side in pixels")
    g = parser.add_argument_group("model and input")
    g.add_argument("--task", default=None, choices=TASKS, help="keypoints: the CPM on hand crops (default); detect: "
                   "the hand detector on whole images (--data: a COCO json of hand boxes, e.g. from synth --scenes)")
    g.add_argument("--preset", default=None, choices=sorted(PRESETS),
                   help="model preset, with its training recipe (default: openpose with --data, lite without)")
    g.add_argument("--input-size", type=int, default=None,
                   help="square crop side in pixels (default: the preset's, 368 for openpose); with --task detect "
                   "the side of the letterboxed whole image (default 320)")
    g.add_argument("--output-stride", type=int, default=None, choices=(4, 8), help="belief-map stride: 8, or 4 (the "
                   "last stage runs on 2x upsampled features: finer maps for small inputs; --sigma stays in cells, so "
                   "give twice the stride-8 sigma for the same width in pixels) (default 8)")
    opt("--sigma", type=float, help="belief-map Gaussian sigma in output cells")
    opt("--box-padding", type=float, help="crop side = this x the longer side of the hand box")
    opt("--mirror-left", action=bool_opt, help="mirror left hands to right before the network (OpenPose's habit)")
    opt("--val-fraction", type=float, help="held-out share of datasets without a test split")
    g = parser.add_argument_group("augmentation")
    opt("--augment", action=bool_opt, help="random augmentation (--no-augment: plain crops)")
    g.add_argument("--no-flip", action="store_true", default=None, help="no random horizontal flips")
    opt("--rotation", type=float, metavar="DEG", help="random rotation range +-DEG")
    opt("--scale-min", type=float, help="random box scale, lower bound")
    opt("--scale-max", type=float, help="random box scale, upper bound")
    opt("--translate", type=float, help="random centre shift, fraction of the box side")
    opt("--color-jitter", type=float, help="brightness/contrast/saturation/hue jitter strength")
    opt("--blur-prob", type=float, help="probability of a Gaussian blur")
    opt("--edge-cut-prob", type=float, help="keypoint task: probability of cutting a hand off by a straight image "
        "edge, grey past it, as a frame cuts a hand that leaves it (data.edge_cut)")
    opt("--photo-aug-prob", type=float, help="probability of a poor camera's look after colour jitter (the "
        "keypoint crop, or the detector's whole input): gain x0.25-2, gamma, low contrast, sensor noise, blur or "
        "motion blur, JPEG (data.photo_aug)")
    g = parser.add_argument_group("optimisation")
    opt("--batch-size", type=int, help="samples per step per process")
    opt("--lr", type=float, help="base learning rate")
    opt("--optimizer", choices=("adam", "sgd"), help="adam (AdamW) or sgd (momentum)")
    opt("--momentum", type=float, help="SGD momentum")
    opt("--weight-decay", type=float, help="weight decay")
    opt("--schedule", choices=("cosine", "step", "constant"), help="learning-rate schedule after warmup")
    opt("--warmup-steps", type=int, help="linear warmup steps")
    opt("--min-lr-ratio", type=float, help="cosine: final lr as a fraction of --lr")
    opt("--lr-step-size", type=int, help="step schedule: steps between decays (default: a third of the run)")
    opt("--lr-gamma", type=float, help="step schedule: decay factor")
    opt("--grad-clip", type=float, help="clip the gradient norm (0: off)")
    length = (f"(default: the recipe's length: 100 epochs for openpose, {RECIPES['lite']['train']['max_steps']} "
              f"steps for lite, {DETECT_RECIPE['train']['max_steps']} steps with --task detect)")
    opt("--epochs", type=float, help=f"run length in epochs (fractions allowed; given without --max-steps it replaces "
        f"a recipe's or a resumed run's step count) {length}")
    opt("--max-steps", type=int, help=f"run length in optimizer steps (wins over --epochs) {length}")
    opt("--stop-at-step", type=int, help="stop cleanly at this step (the schedule still spans the whole run) "
        "(default: none)")
    opt("--time-limit", type=float, metavar="MIN", help="stop cleanly after this many minutes (default: none)")
    opt("--seed", type=int, help="random seed (initial weights, data order, augmentation)")
    g = parser.add_argument_group("cadence and reporting")
    opt("--log-every", type=int, help="log line and TensorBoard scalars every N steps")
    opt("--val-every", type=int, help="validate on the held-out split every N steps and at the end (0: never)")
    opt("--val-limit", type=int, help="validate on the first N held-out samples (default: all)")
    opt("--val-images", type=int, help="belief-map pictures written to TensorBoard per validation")
    opt("--ckpt-every", type=int, help="write a checkpoint every N steps")
    opt("--keep", type=int, help="checkpoints kept (the newest; 0 keeps every one)")
    g = parser.add_argument_group("speed and hardware")
    opt("--device", help="auto, cpu, cuda or cuda:N (auto: this process's GPU under torchrun, else cuda, else cpu)")
    add_speed_flags(g, "training run")
    opt("--compile", action=bool_opt, help="torch.compile the model (slow start, faster steps)")
    opt("--workers", type=int, help="data-loading worker processes")
    opt("--threads", type=parse_threads, help="torch CPU threads: a number, or auto (the cores other processes "
        "leave free, measured every second as it trains; not bit-repeatable) (default: torch's choice, every core)")


def _apply(cfg: Any, args: argparse.Namespace) -> Any:
    """``cfg`` with every option given on the command line applied."""
    top: dict[str, Any] = {}
    dataset: dict[str, Any] = {}
    augment: dict[str, Any] = {}
    sections = {"": top, "dataset": dataset, "augment": augment}
    for dest, value in vars(args).items():
        found = _field_of(dest)
        if found is not None and value is not None:
            sections[found[0]][found[1]] = str(value) if isinstance(value, Path) else value
    if args.no_flip:
        augment["flip_prob"] = 0.0
    if args.epochs is not None and args.max_steps is None:
        top["max_steps"] = None  # --epochs alone sets the length, over a recipe's (or the resumed run's) steps
    elif args.epochs is not None:
        LOG.warning("--epochs %g and --max-steps %d both given: --max-steps decides the run's length, --epochs is "
                    "not used", args.epochs, args.max_steps)
    if args.output_stride is not None:
        dataset["stride"] = args.output_stride
        top["model"] = dataclasses.replace(top.get("model", cfg.model), output_stride=args.output_stride)
    if args.input_size is not None and cfg.task == "detect":
        top["detector"] = dataclasses.replace(cfg.detector, input_size=args.input_size)
    elif args.input_size is not None:
        dataset["input_size"] = args.input_size
        top["model"] = dataclasses.replace(top.get("model", cfg.model), input_size=args.input_size)
    aug = dataclasses.replace(cfg.dataset.augment, **augment)
    data_cfg = dataclasses.replace(cfg.dataset, augment=aug, **dataset)
    return dataclasses.replace(cfg, dataset=data_cfg, **top)


def config_from_args(args: argparse.Namespace, measure: Any = None, speed: bool = True) -> Any:
    """The resolved TrainConfig: defaults (or the resumed run's stored settings), then the options given.

    ``--amp`` / ``--channels-last`` auto (the default; on --resume only when given as ``auto``, else the run's
    stored choice stays) become plain bools by measurement (unless ``speed`` is False: then they stay as the
    settings hold them, and ``with_speed`` resolves them later); ``measure`` replaces the timing (tests)."""
    from handpose.config import TrainConfig
    from handpose.model.artifact import load_checkpoint
    from handpose.training.checkpoints import find_checkpoint
    from handpose.training.recipes import (
        default_preset,
        detect_config,
        detector_from_init,
        recipe_config,
        recipe_from_init,
    )
    from handpose.training.run_folder import run_folder_of
    from handpose.training.stored_settings import settings_as_started

    args = _parsed_speed_flags(args)
    if args.resume is not None:
        ckpt = find_checkpoint(args.resume)
        run_dir = run_folder_of(ckpt)
        state = load_checkpoint(ckpt)
        base = settings_as_started(state["train_config"], run_dir, state)  # as earlier versions meant them
        base = dataclasses.replace(base, resume=str(ckpt), out=str(run_dir), stop_at_step=None, time_limit=None)
        if args.preset is not None or args.input_size is not None or args.output_stride is not None:
            raise ValueError("--resume continues the stored model; --preset / --input-size / --output-stride cannot "
                             "change it")
        if getattr(args, "optimizer", None) not in (None, base.optimizer):
            raise ValueError(f"--resume continues the run's {base.optimizer} optimizer state; --optimizer "
                             f"{args.optimizer} cannot take it over (start a new run, e.g. with --init from its "
                             "weights)")
        if args.init is not None:
            raise ValueError("--resume continues the stored weights; --init starts a new run from other weights "
                             "(give it without --resume, with a new --out)")
        if args.overwrite:
            raise ValueError("--resume continues the run in its folder; --overwrite starts a new run there (give "
                             "one or the other)")
        if args.task not in (None, base.task):
            raise ValueError(f"--resume continues a {base.task} run; --task {args.task} trains another network "
                             "(start a new run with a new --out)")
        if getattr(args, "seed", None) not in (None, base.seed):
            raise ValueError(f"--resume continues the run's random states and data order (seed {base.seed}); "
                             f"--seed {args.seed} would change the data order from the resumed step on (and, "
                             "without --data, the rendered dataset): start a new run for another seed")
        held_out = base.dataset.val_fraction
        if getattr(args, "val_fraction", None) is not None and args.val_fraction != held_out:
            raise ValueError(f"--resume: --val-fraction {args.val_fraction:g} would move samples between the run's "
                             f"training and held-out parts (it holds out {held_out:g}): samples it trained on would "
                             "be validated on; start a new run for another split (e.g. with --init from its weights)")
        if base.task == "detect":
            _refuse_keypoint_flags(args)
        cfg = _absolute_paths(_apply(base, args))
    else:
        base = None if args.task == "detect" else recipe_from_init(args.init, args.preset)
        base = base or recipe_config(TrainConfig(), args.preset or default_preset(args.data is not None))
        if args.task == "detect":
            if args.preset is not None:
                raise ValueError("--preset names a keypoint model; --task detect trains the hand detector")
            base = detect_config(base)
            stored = detector_from_init(args.init)
            base = base if stored is None else dataclasses.replace(base, detector=stored)
            _refuse_keypoint_flags(args)
        cfg = _apply(base, args)
        if cfg.epochs is None and cfg.max_steps is None:
            cfg = dataclasses.replace(cfg, epochs=100.0)
        cfg = _absolute_paths(cfg)
    return with_speed(cfg, args, measure) if speed else cfg


# options of keypoint training that the detector (--task detect) has no use for
_KEYPOINT_ONLY = ("keypoint_order", "sigma", "box_padding", "mirror_left", "output_stride", "rotation", "synth_count",
                  "synth_size", "edge_cut_prob")


def _refuse_keypoint_flags(args: argparse.Namespace) -> None:
    """ValueError naming the keypoint-training options given to a detector run, which would be recorded in its
    config.json but change nothing (``--format`` is accepted for the COCO formats the detector reads)."""
    given = [f"--{dest.replace('_', '-')}" for dest in _KEYPOINT_ONLY if getattr(args, dest, None) is not None]
    if getattr(args, "format", None) not in (None, "coco", "coco_wholebody"):
        given.insert(0, f"--format {args.format}")
    if given:
        raise ValueError(f"{', '.join(given)}: keypoint training only; the hand detector (--task detect) reads COCO "
                         "json of hand boxes (plain COCO or COCO-WholeBody, found by itself), does not rotate whole "
                         "images and has no belief maps or crops")


def _absolute_paths(cfg: Any) -> Any:
    """``cfg`` with its input paths (``data``, ``negatives``, ``init``) absolute: a run resumed from another folder
    reads the same files."""
    return dataclasses.replace(cfg, **{name: _absolute(getattr(cfg, name)) for name in ("data", "negatives", "init")})


def _absolute(path: str | None) -> str | None:
    """A path given on the command line as an absolute one (``~`` expanded); None, ``pretrained:NAME`` and a bare
    shipped model's name that is no file here (its error points to ``pretrained:NAME``) as they are."""
    from handpose import pretrained

    if path is None or str(path).startswith(pretrained.PREFIX):
        return path
    if str(path) in pretrained.names() and not Path(str(path)).exists():
        return path
    return os.path.abspath(os.path.expanduser(str(path)))


def _parsed_speed_flags(args: argparse.Namespace) -> argparse.Namespace:
    """A copy of ``args`` with ``--amp`` / ``--channels-last`` as True, False or None (auto or not given), and the
    words as typed kept in ``speed_given``."""
    from handpose.autotune.resolve import parse_flag

    parsed = argparse.Namespace(**vars(args))
    parsed.speed_given = {"amp": args.amp, "channels_last": args.channels_last}
    parsed.amp = parse_flag(args.amp, "--amp")
    parsed.channels_last = parse_flag(args.channels_last, "--channels-last")
    return parsed


def with_speed(cfg: Any, args: argparse.Namespace, measure: Any = None) -> Any:
    """``cfg`` (settings built by ``config_from_args(args, speed=False)``) with ``--amp`` / ``--channels-last``
    resolved: a flag given wins; auto is measured (handpose.autotune). A resumed run keeps its stored choice unless
    the flag is given as ``auto``."""
    args = args if hasattr(args, "speed_given") else _parsed_speed_flags(args)
    if args.resume is not None:
        given = args.speed_given
        if "auto" not in given.values():
            return cfg
        args = argparse.Namespace(**vars(args))
        args.amp = cfg.amp if given["amp"] != "auto" else args.amp
        args.channels_last = cfg.channels_last if given["channels_last"] != "auto" else args.channels_last
    return _with_speed(cfg, args, measure)


def _with_speed(cfg: Any, args: argparse.Namespace, measure: Any = None) -> Any:
    """``cfg`` with ``--amp`` / ``--channels-last`` auto resolved to plain bools by measurement (handpose.autotune)."""
    from handpose.config_checks import check_device

    check_device(cfg.device)  # before a speed trial would run on it
    if args.amp is not None and args.channels_last is not None:
        return cfg
    if cfg.task == "detect":  # the trial times the keypoint network; the detector keeps the earlier measured rules
        import torch

        from handpose.training.speed import native_bf16

        dev = torch.device(cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
        amp = native_bf16(dev) if args.amp is None else args.amp
        layout = True if args.channels_last is None else args.channels_last  # MobileNet units: faster everywhere
        return dataclasses.replace(cfg, amp=amp, channels_last=layout)
    import torch

    from handpose.autotune.resolve import training_choice

    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(cfg.threads, int) and torch.device(device).type == "cpu":
        torch.set_num_threads(cfg.threads)  # the trial measures with the run's threads
    choice = training_choice(cfg.model, cfg.dataset.input_size, cfg.batch_size, device, args.amp,
                             args.channels_last, measure)
    amp = choice.amp if args.amp is None else args.amp
    return dataclasses.replace(cfg, amp=amp, channels_last=choice.channels_last)


def lost_peer_hint(exc: RuntimeError, out: str) -> str | None:
    """What to do after a torchrun run failed in its process group (another process died or was killed: gloo's or
    NCCL's own error), or None for any other error."""
    import torch.distributed as dist

    from handpose.training.checkpoints import CHECKPOINT_DIR, list_checkpoints
    from handpose.training.trainer import resume_command

    world = int(os.environ.get("WORLD_SIZE", "1"))
    text = str(exc).lower()
    if world < 2 or not (isinstance(exc, dist.DistError) or "gloo" in text or "nccl" in text):
        return None
    found = list_checkpoints(Path(out) / CHECKPOINT_DIR)
    last = f"the last checkpoint is {found[-1]}" if found else "no checkpoint was written yet"
    return (f"a training process of this torchrun run stopped or lost the others (above); {last}, and the steps "
            f"after it are lost; continue with: {resume_command(out, world)}")


def run(args: argparse.Namespace) -> int:
    from handpose.config import to_dict
    from handpose.training.run_folder import check_resumable, check_run_folder
    from handpose.training.setup import check_config
    from handpose.training.trainer import train

    if args.resume is None:
        from handpose.commands.model_files import require_model_file

        require_model_file("--init", args.init)  # before the recipe is read from it
    if args.resume is not None and os.environ.get("RANK", "0") == "0":
        check_resumable(args.resume)  # a run another process is writing: refused before its checkpoint is read
    plain = config_from_args(args, speed=False)
    check_config(plain)  # a setting that cannot work is named before the speed trial, which would trip on it
    if os.environ.get("RANK", "0") == "0":  # under torchrun rank 0 alone writes (and locks) the run folder
        check_run_folder(plain.out, plain.resume, plain.overwrite)  # refused before any speed trial or rendering
    if plain.data is not None:
        from handpose.data.formats.detect import require_dataset_path

        require_dataset_path(plain.data)  # a mistyped path: said before the speed trial
        from handpose.synth.output_folder import SCENES_JSON, unfinished_renders, unlabelled_scenes

        for folder in unfinished_renders(plain.data):
            if unlabelled_scenes(folder):  # a scene render writes its one json of labels as it ends
                raise ValueError(f"{folder}: its handpose synth scene render was stopped before the end (its manifest "
                                 f"says so), and a scene render writes its labels ({SCENES_JSON}) only as it ends: "
                                 "nothing here to train on; run the same synth command again to finish it")
            LOG.warning(
                "%s: its handpose synth render was stopped before the end (its manifest says so): training on the "
                "samples written so far; run the same synth command again to finish it", folder)
    elif plain.task == "keypoints":  # the detector renders nothing: without --data it is told to give some
        from handpose.training.data import cache_root

        cache_root()  # the rendered hands' folder: no home folder to name it by is said before the speed trial
    if plain.init is not None and plain.resume is None and plain.task == "keypoints":
        from handpose.model.cpm import build_model
        from handpose.training.setup import initial_weights

        initial_weights(build_model(plain.model), plain.init, report=False)  # one that cannot fill it: said early
    try:  # the speed trial runs once the data is read and split: a dataset that cannot train fails first
        summary = train(plain, speed=lambda settings: with_speed(settings, args))
    except RuntimeError as exc:
        hint = lost_peer_hint(exc, plain.out)
        if hint is None:
            raise
        raise RuntimeError(f"{exc}\n{hint}") from exc
    if summary.get("world_size", 1) > 1 and not summary.get("final_weights"):
        return 0  # ranks > 0 stay quiet
    from handpose.training.reporting import stop_cause

    ended = "completed" if summary["stopped"] == "completed" else f"stopped by {stop_cause(summary['stopped'])}"
    lines = [f"run folder:    {summary['out']}  ({ended} at step {summary['step']} of "
             f"{summary['total_steps']}, epoch {summary['epoch']})",
             f"final weights: {summary.get('final_weights')}"]
    if summary.get("best"):
        b = summary["best"]
        shown = ", ".join(f"{k}={v:.4g}" for k, v in b.items() if k not in ("step", "num_samples", "num_images",
                                                                            "num_hands") and isinstance(v, float))
        lines.append(f"best weights:  {summary['best_weights']}  (step {b['step']}: {shown})")
    lines.append(f"checkpoint:    {summary['checkpoint']}")
    lines.append(f"TensorBoard:   tensorboard --logdir {summary['out']}")
    if summary["stopped"] != "completed":
        from handpose.training.trainer import resume_command

        lines.append(f"continue with: {resume_command(summary['out'], summary.get('world_size', 1))}")
    print("\n".join(lines))
    if getattr(args, "verbose", 0) > 1:
        cfg = dataclasses.replace(plain, amp=summary["speed"]["amp"], channels_last=summary["speed"]["channels_last"])
        print(json.dumps(to_dict(cfg), indent=1), file=sys.stderr)
    return 0
