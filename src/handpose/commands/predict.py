"""Find hands and their 21 keypoints in images, folders, globs, video files or a webcam.

The rule: with --box x,y,w,h the crop is a padded square around that one hand (no detection); without, every hand
the --detector (default: the shipped pretrained:detector) finds is cropped and predicted (left hands mirrored first
when the keypoint model was trained that way; the detector says which hand is which, or where it cannot tell, the
keypoint network). On images the detector runs at two scales (--detector-scales 1,2: small hands are found in the
larger one), on video at one. The keypoint network first checks each hand the detector proposes: --refine-passes
times it predicts the keypoints, moves the box onto them and scores the hand by its mean keypoint peak mixed with
the detector's probability; hands under --hand-threshold are dropped (0 passes: the detector's boxes and scores as
they are). With --detector none and no --box, the whole image is taken as one hand (made square with grey borders),
so the hand should fill most of it.

Images (files, folders, or globs such as "photos/*.jpg", quoted or expanded by the shell; several sources in one run,
each image once; phone JPEGs are turned upright by their EXIF tag): for each image writes, into --out, NAME.json (every
hand: box, detection score, side, the 21 keypoints with names, x, y in image pixels, and scores), NAME_overlay.png
(every hand with its L/R label and score; the picture says so when no hand was found or no keypoint passed --threshold)
and NAME_maps.png (the belief maps of every stage over the first hand's crop; an ONNX model holds only the last stage;
--maps all adds NAME_allmaps.png, every keypoint's map), and for the whole run coco_results.json (COCO keypoint results:
image_id, category_id 1, 63 keypoint numbers x, y, score, score, bbox) with coco_images.json (the image ids, file names
and sizes); the ids are the images' order from 0, or with --coco-gt GT.json the ids the images have there (matched by
file name) and its hand category's id (where its hands are a left and a right category, that of each hand's predicted
side). A folder is processed image by image; unreadable files (and boxes outside an image) are skipped and listed; a
full disk stops the run, the COCO files then written for the images done where they fit.
Images that share a name stem (a.jpg and a.png, or A.png and a.jpg) keep their extension in the output names instead, so
no result overwrites another: a_jpg.json, a_jpg_overlay.png, a_png.json, ... (each JSON file also records its image's
path).

Video files and webcams (--source 0): the detector runs on the first frame, every --detect-every frames, whenever
tracking is lost, and after a frame where a followed hand scored under --hand-threshold; in between each hand's box
comes from its keypoints in the previous frame. A hand lost for up to --track-lost-frames frames and found again where
it was keeps its track id; a new hand is shown once followed on --track-confirm-frames frames in a row. Keypoints are
smoothed with a One-Euro filter (--smooth-min-cutoff, --smooth-beta; --no-smooth). Writes NAME.json (per frame, the
hands) and coco_results.json (image_id = frame index), --save-video OUT.mp4 an annotated video; --show opens a window
where a display exists (q or Esc stops). The measured frames per second are printed at the end. A video that cannot be
opened, a missing webcam (both before the models load: a webcam is opened once, then) or a frame that cannot be
decoded stops with one line; the frames done so far are written.

Predict never replaces a file it did not write: an output name that is taken by an input image or any other file
(a label .json, say) skips that image with the reason. The files it writes are listed in --out's
.handpose-predictions, so a later run over that folder does not take them for inputs.

Examples:
  handpose predict photo.jpg
  handpose predict shots/*.jpg more/ --out predictions
  handpose predict --model hand.onnx --detector detector.safetensors photos/ --out predictions
  handpose predict --model hand.onnx photos/ --box 120,80,200,220 --out predictions
  handpose predict --model hand.safetensors --detector detector.safetensors --source 0 --show
  handpose predict --model hand.onnx --detector detector.safetensors clip.mp4 --save-video clip_hands.mp4
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handpose.commands.arg_types import unit_interval
from handpose.commands.detection_flags import (
    DETECTION_FLAGS,
    REFINE_FLAGS,
    add_detector_scales_flag,
    add_detector_threshold_flag,
    add_refine_flags,
    detector_scales_from_args,
    given_flags,
    refine_from_args,
)
from handpose.commands.threads_flag import add_threads_flag, command_threads
from handpose.commands.train import add_speed_flags
from handpose.folder_lock import LOCK_NAME, RunLock
from handpose.words import counted

if TYPE_CHECKING:  # the modules that load torch and OpenCV are imported where used: `predict --help` needs neither
    import numpy as np

    from handpose.inference.predictor import Predictor

LOG = logging.getLogger(__name__)
DEFAULT_DETECTOR = "pretrained:detector"  # the shipped detector finds the hands unless --box or --detector none


class OneModelFile(argparse.Action):
    """--model / --weights: one keypoint model file; naming it twice, by either spelling, is a usage error (argparse
    would take the last in silence)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{option_string}: the keypoint model is given twice (--model and --weights are one option)")
        setattr(namespace, self.dest, values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="SOURCE", nargs="*", default=[],
                        help="images, folders or globs (several may be given, as a shell expands photos/*.jpg), or "
                        "one video file or webcam index")
    parser.add_argument("--source", default=None, help="the same as SOURCE (e.g. --source 0 for the first webcam)")
    parser.add_argument("--model", "--weights", dest="model", metavar="MODEL", default=None, action=OneModelFile,
                        help="keypoint model: .safetensors, training checkpoint .pt, or .onnx; --weights is the same "
                        "flag, as eval and export name the model file (default: the shipped pretrained:lite; for a "
                        "video or webcam on the CPU its int8 export pretrained:lite-int8 in onnxruntime: about twice "
                        "the frames per second, PCK@0.2 about 0.01 lower on photos, more false hands through the "
                        "detector)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="hand detector (.safetensors / .pt, its .onnx "
                        "export, or the shipped pretrained:detector, run on the CPU in PyTorch or onnxruntime, "
                        "whichever was timed faster on the machine) that finds every hand when no --box is given; "
                        f"none: the whole image is one hand (default {DEFAULT_DETECTOR}; its limits on photographs "
                        "are in MODEL_CARD.md)")
    add_detector_threshold_flag(parser)
    add_detector_scales_flag(parser, video_note=True)
    add_refine_flags(parser)
    parser.add_argument("--box", default=None, help="one hand's box in image pixels, x,y,w,h (or x0,y0,x1,y1 with "
                        "--box-format xyxy); no detection then")
    parser.add_argument("--box-format", default="xywh", choices=("xywh", "xyxy"),
                        help="how --box is written (default xywh)")
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--left", dest="side", action="store_const", const=True, default=None,
                      help="the hand (--box, or the whole image without a detector) is a left hand; on images "
                      "with the detector, every hand found is read as left; on a video, with --box or --detector "
                      "none only")
    side.add_argument("--right", dest="side", action="store_const", const=False,
                      help="it is a right hand (neither: the keypoint network chooses, running the crop both ways)")
    parser.add_argument("--out", default="predictions", help="output folder (default ./predictions)")
    parser.add_argument("--coco-gt", default=None, metavar="GT.json", help="take each image's id in "
                        "coco_results.json from this COCO ground-truth json (matched by file name), so the results "
                        "load with pycocotools' COCO(GT).loadRes (default: the images' order, from 0)")
    parser.add_argument("--threshold", type=unit_interval, default=0.1,
                        help="keypoint score, from 0 to 1, a joint needs to be drawn (default 0.1)")
    parser.add_argument("--maps", default="stages", choices=("stages", "all", "none"), help="belief-map pictures: "
                        "stages (every stage, NAME_maps.png; the default), all (also every keypoint, "
                        "NAME_allmaps.png) or none")
    parser.add_argument("--no-maps", action="store_true", help="the same as --maps none")
    parser.add_argument("--flip", action="store_true",
                        help="flip test: also run the mirrored crop and average (for models trained on both sides; "
                        "refused for a model trained with left hands mirrored, as the shipped ones)")
    parser.add_argument("--scales", default="1.0", metavar="S[,S...]", help="comma-separated crop scales averaged "
                        "at test time, e.g. 1.0,0.75,1.25 (default 1.0)")
    parser.add_argument("--device", default="auto", help="device: auto, cpu, cuda or cuda:N (PyTorch weight "
                        "files; ONNX files through onnxruntime's CUDA provider where installed) (default auto: "
                        "cuda where there is a GPU, else cpu, as train)")
    add_speed_flags(parser, "prediction")
    add_threads_flag(parser)
    video = parser.add_argument_group("video and webcam")
    video.add_argument("--detect-every", type=int, default=10, help="run the detector at least every N frames "
                       "(1: every frame; 0: no schedule, only when tracking is lost or after a hand scored under "
                       "--hand-threshold, as at any N) (default 10)")
    video.add_argument("--track-min-score", type=float, default=0.2, help="mean keypoint score below which a hand "
                       "is lost and the detector runs again (default 0.2)")
    video.add_argument("--track-lost-frames", type=int, default=8, help="a lost hand found again where it was within "
                       "this many frames keeps its track id; with --detect-every above 0 the detector looks on each "
                       "for one that had been followed that long (0: off) (default 8)")
    video.add_argument("--track-confirm-frames", type=int, default=1, metavar="N", help="a new hand is shown, and "
                       "given a track id, once followed on N frames in a row, its hand score reaching --hand-threshold "
                       "on each (with refinement): fewer brief false hands, each new hand shown N-1 frames late (1: at "
                       "once) (default 1)")
    video.add_argument("--no-smooth", action="store_true", help="no One-Euro smoothing of the keypoints")
    video.add_argument("--smooth-min-cutoff", type=float, default=1.0, help="One-Euro cut-off at rest in Hz; lower "
                       "is smoother (default 1.0)")
    video.add_argument("--smooth-beta", type=float, default=0.05, help="One-Euro speed coefficient; higher lags "
                       "less on fast motion (default 0.05)")
    video.add_argument("--save-video", default=None, metavar="OUT.mp4", help="write the annotated video (mp4v in "
                       ".mp4, .m4v, .mov, .avi or .mkv; never over a file predict did not write)")
    video.add_argument("--show", action="store_true", help="show the annotated frames in a window (where a display "
                       "exists; q or Esc stops)")
    video.add_argument("--max-frames", type=int, default=None, help="stop after this many frames (default: every "
                       "frame)")


BOX_FORM = ("--box must be four numbers, finite and separated by commas: x,y,w,h (x0,y0,x1,y1 with "
            "--box-format xyxy), e.g. 120,80,200,220")


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    """'x,y,w,h' -> 4 finite floats; ValueError saying what is wrong (numbers split by spaces alone, as
    '120 80 200 220', are named as such rather than read as one number)."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if any(len(p.split()) > 1 for p in parts):
        raise ValueError(f"{BOX_FORM}; got {text!r}, whose numbers are split by spaces")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{BOX_FORM}; got {text!r}") from None
    if len(values) != 4:
        raise ValueError(f"{BOX_FORM}; got {counted(len(values), 'number')} in {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{BOX_FORM}; got {text!r}")
    return values  # type: ignore[return-value]


IMAGE_MODEL = "pretrained:lite"
VIDEO_MODEL = "pretrained:lite-int8"  # frames per second matter most there (BENCHMARKS.md, "Video")


def sources_of(args: argparse.Namespace) -> list[str]:
    """The SOURCE arguments or --source (one of the two); ValueError otherwise, and where a video or webcam is given
    beside anything else."""
    from handpose.inference.inputs import is_video

    given = [str(s) for s in args.input]
    if bool(given) == (args.source is not None):
        raise ValueError("give the sources as SOURCE or as --source, not both" if given else
                         "give a source: images, folders, globs, a video or a webcam index (SOURCE or --source)")
    sources = given or [str(args.source)]
    for s in sources:
        if re.fullmatch(r"-\d+", s.strip()) and not Path(s).exists():
            raise ValueError(f"webcam index {s.strip()}: cameras are numbered from 0")
    videos = [s for s in sources if is_video(s)]
    if videos and len(sources) > 1:
        raise ValueError(f"a video or webcam is read alone: got {videos[0]} among {len(sources)} sources")
    return sources


def images_of(sources: list[str]) -> list[Path]:
    """The image files of every source, in the order given, each file once."""
    from handpose.commands.predict_files import list_images

    images: list[Path] = []
    seen: set[Path] = set()
    for source in sources:
        for path in list_images(source):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                images.append(path)
    return images


def detector_of(args: argparse.Namespace) -> str | None:
    """--detector, None for "none" (no detection: the whole image is one hand)."""
    if args.detector is None or str(args.detector).strip().lower() == "none":
        return None
    return str(args.detector)


def load_predictor(args: argparse.Namespace, video: bool = False) -> Predictor:
    """The predictor of --model and --detector (at --detector-scales, their default for ``video`` or images); a
    file of the wrong kind is named with its flag, in one line."""
    from handpose.commands.evaluate import parse_scales
    from handpose.inference.predictor import Predictor
    from handpose.inference.refine import proposal_threshold

    scales = parse_scales(args.scales)  # its own flag in its error, not under --model
    model = args.model or (VIDEO_MODEL if video and str(args.device) == "cpu" else IMAGE_MODEL)  # a GPU: PyTorch
    try:
        predictor = Predictor.from_file(model, device=args.device, flip_test=args.flip, scales=scales,
                                        threads=args.threads)
    except ValueError as exc:
        flag = "--flip" if args.flip and str(exc).startswith("the flip test") else "--model"
        raise ValueError(f"{flag}: {exc}") from exc
    except FileNotFoundError as exc:  # of two model files, the one at fault
        raise FileNotFoundError(f"--model: {exc}") from exc
    detector = detector_of(args)
    if detector is not None and args.box is None:
        from handpose.detection.detector import HandDetector

        refine = refine_from_args(args)
        scales = detector_scales_from_args(args, video)
        try:
            predictor.detector = HandDetector.from_file(detector, device=args.device,
                                                        threshold=proposal_threshold(args.detector_threshold, refine),
                                                        scales=scales, threads=args.threads)
        except ValueError as exc:
            raise ValueError(f"--detector: {exc}") from exc
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"--detector: {exc}") from exc
        predictor.refine = refine
    return predictor


def run(args: argparse.Namespace) -> int:
    """``handpose predict``; one process writes an --out folder at a time (a second is refused before its work, not
    after it), and a run that fails before writing anything leaves no empty --out folder behind."""
    out = Path(args.out)
    made = not out.exists()
    lock = RunLock(out, "prediction folder", remove=True)  # the lock file goes when the command ends
    with ExitStack() as held:
        try:
            with command_threads(args.threads):  # a number is PyTorch's thread count too ("auto" sets it as it runs)
                return _run(args, held, lock)
        except BaseException:
            ours = lock.at_path()  # not a folder made at its path by another run after this one's was moved
            held.close()  # the folder's lock released first
            if made and ours and out.is_dir() and {p.name for p in out.iterdir()} <= {LOCK_NAME}:
                (out / LOCK_NAME).unlink(missing_ok=True)
                out.rmdir()
            raise


def _run(args: argparse.Namespace, held: ExitStack, lock: RunLock) -> int:
    """The command's work; ``held`` keeps --out's ``lock`` (taken here) until the command ends."""
    from tqdm import tqdm

    from handpose.autotune.resolve import parse_flag
    from handpose.commands.predict_coco_stream import CocoStream
    from handpose.commands.predict_files import (
        COCO_RESULTS,
        OutputFolder,
        check_coco_names,
        output_names,
        predict_to_files,
        read_ahead,
    )
    from handpose.commands.predict_video import check_save_video, predict_video, tracking_config
    from handpose.config_checks import check_device
    from handpose.files import DiskFullError, disk_full, ensure_writable_folder
    from handpose.inference.inputs import is_video
    from handpose.inference.pipeline import to_xywh
    from handpose.inference.results import HAND_CATEGORY_ID
    from handpose.training.signals import StopRequest, exit_code, ignore_stop_signals

    args.device = check_device(args.device)  # auto -> cuda where there is a GPU, else cpu
    sources = sources_of(args)
    source = sources[0]
    raw_box = parse_box(args.box)
    box = None if raw_box is None else tuple(float(v) for v in to_xywh(raw_box, args.box_format))
    maps = "none" if args.no_maps else args.maps
    video = is_video(source)
    images = [] if video else images_of(sources)
    capture = None  # a webcam, opened before the models load
    if video:
        from handpose.inference.inputs import webcam_index
        from handpose.inference.video import check_video_file, open_capture

        tracking_config(args)  # the video flags and the video itself checked before the models load
        check_video_file(source)
        if webcam_index(source) is not None:  # opened once, here: a camera opened twice is slow, some refuse it
            capture, _ = open_capture(source)
            held.callback(capture.release)  # an error before the run (which releases it itself) lets it go too
    else:
        warn_video_flags(args)
    warn_unused_detection_flags(args, video)
    warn_unused_side(args, video)
    ids: list[int | str] = list(range(len(images)))
    category: int | str = HAND_CATEGORY_ID
    matched = None
    if args.coco_gt is not None:
        from handpose.commands.coco_ids import ids_from_ground_truth

        if video:
            raise ValueError("--coco-gt gives image ids to images; a video's results are numbered by frame")
        matched = ids_from_ground_truth(args.coco_gt, images)  # every image matched before the models load
        ids, category = matched.ids, matched.category_id
    if video and args.save_video is not None:
        check_save_video(Path(args.save_video), source)  # before the models load
    ensure_writable_folder(args.out, "--out")  # before any work
    held.enter_context(lock)  # two predicts into one folder: the second stops here, and so does one whose folder was
    out = OutputFolder(args.out, lock)  # moved and then made again by another (at its next write)
    check_coco_names(out)  # before the models load and any image
    predictor = load_predictor(args, video)
    if video:
        return predict_video(predictor, source, out, args, box, capture)
    if predictor.stages == 1 and maps != "none":
        print("note: the model file holds only the last stage's maps (ONNX), so NAME_maps.png shows that stage")
    speed = {"amp": parse_flag(args.amp, "--amp"), "channels_last": parse_flag(args.channels_last, "--channels-last")}
    failed: list[tuple[Path, str]] = []
    full: OSError | None = None  # a full disk stops the run: every later image would fail the same way
    bar = tqdm(total=len(images), unit="image", desc="predict", disable=len(images) < 2 or not sys.stderr.isatty())
    # each image's COCO results (in the ground truth's hand category of the hand's side, so they score against its
    # hands) go to disk as it is done, not into a list: memory stays flat over a folder of any size
    coco = CocoStream(out, category, None if matched is None else matched.category_of,
                      None if matched is None else matched.by_side)
    with coco:
        # Ctrl-C, SIGTERM or SIGHUP: the image in hand is finished and the COCO files of the images done are written (a
        # second Ctrl-C aborts at once); their per-image files are written as each image is done
        with StopRequest("stopping after this image, then writing the COCO results of the images done") as stop:
            for image_id, (path, name, image) in zip(ids, read_ahead(images, output_names(images))):
                if stop.reason is not None:
                    break
                bar.update(1)
                results: list[dict[str, Any]] = []
                try:
                    if speed is not None and not isinstance(image, Exception):  # the first readable image: the trial
                        predictor, speed = _tuned(predictor, image, box, args.side, speed), None
                    written = predict_to_files(
                        predictor, path, out, box=box, is_left=args.side, maps=maps, name=name, image=image,
                        threshold=args.threshold, image_id=image_id, coco=results,
                    )
                except (ValueError, FileNotFoundError, OSError) as exc:
                    if len(images) == 1:
                        raise
                    if isinstance(exc, OSError) and disk_full(exc):
                        full = exc
                        break
                    failed.append((path, str(exc)))
                    continue
                assert not isinstance(image, Exception)
                coco.add({"id": image_id, "file_name": str(path), "width": int(image.shape[1]),
                          "height": int(image.shape[0])}, results)
                tqdm.write(f"{path}: " + ", ".join(str(p) for p in written))
        bar.close()
        if failed:
            print(f"skipped {len(failed)} of {len(images)} images:")
            for path, why in failed:
                print(f"  {path}: {why}")
            if len(failed) == len(images):
                raise ValueError(f"no image in {' '.join(sources)} could be processed")
        if full is not None:
            try:
                coco.finish()
                kept = f"their COCO results are in {out.path / COCO_RESULTS}"
            except OSError:
                kept = "their COCO results could not be written either"
            raise DiskFullError(f"{full}; predict stopped there, after {counted(coco.images, 'image')} of "
                                f"{len(images)}, whose files are whole ({kept}); free space and run again") from full
        written = coco.finish()
    print(f"{counted(coco.hands, 'hand')} in {counted(coco.images, 'image')}; COCO results: {written[0]}")
    if stop.reason is not None:
        ignore_stop_signals()  # all is written and the process ends: more signals must not cut its exit short
        print(f"stopped by {stop.reason} after {coco.images + len(failed)} of {len(images)} images; the results of "
              "those are written", file=sys.stderr)
        return exit_code(stop.reason)
    return 0


VIDEO_FLAGS = ("save_video", "show", "max_frames", "detect_every", "track_min_score", "track_lost_frames",
               "track_confirm_frames", "no_smooth", "smooth_min_cutoff", "smooth_beta")


def warn_video_flags(args: argparse.Namespace) -> None:
    """One warning naming the video flags given for images, which they do not apply to."""
    defaults = build_defaults()
    given = [f"--{d.replace('_', '-')}" for d in VIDEO_FLAGS if getattr(args, d, None) != defaults.get(d)]
    if given:
        LOG.warning("%s apply to a video or webcam; the sources are images, so they are not used", ", ".join(given))


def warn_unused_detection_flags(args: argparse.Namespace, video: bool = False) -> None:
    """One warning naming the detector flags given where no detector runs (--box, or --detector none), or the
    refinement's flags given with --refine-passes 0 (on a ``video``, --merge-points aside: the tracker's rule of a
    hand read twice uses it unrefined too)."""
    if args.box is None and detector_of(args) is not None:
        unused = [d for d in REFINE_FLAGS[1:] if not (video and d == "merge_points")]
        unrefined = given_flags(args, unused) if args.refine_passes == 0 else []
        if unrefined:
            LOG.warning("%s: not used (--refine-passes 0 keeps the detector's boxes and scores as they are)",
                        ", ".join(unrefined))
        return
    given = given_flags(args, DETECTION_FLAGS)
    if args.box is not None and detector_of(args) not in (None, DEFAULT_DETECTOR):
        given.insert(0, "--detector")
    if given:
        LOG.warning("%s: not used (%s runs no detector)", ", ".join(given),
                    "--box" if args.box is not None else "--detector none")


def warn_unused_side(args: argparse.Namespace, video: bool) -> None:
    """One warning where --left or --right is given for a video with the detector and no --box: the tracker takes
    the side only for the one hand of --box (or of the whole frame with --detector none); each hand the detector
    finds has its own side call."""
    if video and args.side is not None and args.box is None and detector_of(args) is not None:
        LOG.warning("%s: not used on a video with the detector (each hand found has its side called as it is "
                    "followed); it gives the side of --box's hand, or of the whole frame with --detector none",
                    "--left" if args.side else "--right")


def build_defaults() -> dict[str, Any]:
    """The defaults of predict's flags."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return vars(parser.parse_args([]))


def _tuned(predictor: Predictor, image: np.ndarray | Exception, box: Sequence[float] | None, is_left: bool | None,
           speed: dict[str, bool | None]) -> Predictor:
    """``predictor`` with the speed settings measured on ``image``'s crop (``handpose.autotune``); unchanged when
    ``image`` could not be read (the caller reports that)."""
    from handpose.autotune.resolve import trial_crops, tune_predictor
    from handpose.inference.prepare import check_image

    if isinstance(image, Exception):
        return predictor
    prepared = predictor.spec.prepare(check_image(image), box, bool(is_left))
    return tune_predictor(predictor, trial_crops(predictor, [prepared]), speed["amp"], speed["channels_last"])
