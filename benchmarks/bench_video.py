"""Video speed of the hand pipeline: frames per second on the real ASL video (620 x 1080, 325 frames) for

1. the keypoint network alone on a fixed box (the floor: one crop a frame, no detector),
2. the detector on every frame + keypoints of the hand it finds,
3. tracking: the detector every N frames (``--detect-every``), boxes from the previous keypoints in between,

each with the keypoint network in PyTorch fp32, onnxruntime fp32 and onnxruntime int8 (``handpose.quantize``,
calibrated on crops of the video; skipped where onnxruntime's quantizer is missing), and a last row with the last
of those refining every detection with the keypoint network (``inference/refine``, its default passes) from the most
proposals refinement takes (12: the detector keeps its best 12 boxes, threshold 0), its worst case; then the
shipped detector and int8 keypoint model as ``handpose predict`` runs them on a video (``shipped_rows``), the
detector in PyTorch and then in the runtime ``pretrained:detector`` picks by timing. The fresh detector of the other
rows runs in PyTorch. Other models are freshly initialised (speed does not depend
on weights; the keypoint network's biases are shaken so its keypoints spread and a track holds); in the other rows
the detector keeps its best box only (threshold 0, one hand) and tracks are not dropped for low scores (keypoint
score threshold 0), so every frame costs one crop as with a real hand in view. All rows run in this one process
over the same frames, decoded into memory first (decoding is not timed), with the same thread count, so their
ratios hold on a shared machine.

Usage: python benchmarks/bench_video.py [VIDEO] [--frames 100] [--preset lite] [--threads 2] [--detect-every 10]
       [--mediapipe-python PYTHON] (MediaPipe Hands on the same frames, run by that interpreter, as the reference)
(VIDEO default: ../shared/realdata/mediapipe_labelled/asl_video/asl_hand.25fps.mp4; skipped with a message when
absent.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from run_record import record_run

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = ROOT.parent / "shared" / "realdata" / "mediapipe_labelled" / "asl_video" / "asl_hand.25fps.mp4"


def read_frames(path: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` frames (H, W, 3) BGR of a video."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def fps_of(step: Callable[[np.ndarray, int], object], frames: list[np.ndarray], warmup: int = 3) -> float:
    """Frames per second of ``step(frame, index)`` over ``frames`` after ``warmup`` untimed frames."""
    for i in range(min(warmup, len(frames))):
        step(frames[i], i)
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        step(frame, i)
    return len(frames) / (time.perf_counter() - start)


def shipped_rows(frames: list[np.ndarray], detect_every: int) -> None:
    """What a user gets: the shipped detector (scale 1, as video runs it; its real proposals on these frames) and
    the shipped int8 keypoint model, refined as ``handpose predict`` refines, detecting on every frame as still
    images (``find_hands``), in the tracker detecting every frame, and tracking with the detector every
    ``detect_every`` frames (the CLI's default for video). Twice: the detector in PyTorch (the baseline), then as
    ``pretrained:detector`` loads it, in the runtime timed faster on this machine (``detection/runtime_choice``)."""
    from handpose import pretrained
    from handpose.inference.predictor import Predictor
    from handpose.inference.tracking import HandTracker, TrackingConfig

    for label, spec in (("shipped, PyTorch det", pretrained.path("detector")),
                        ("shipped, det chosen", "pretrained:detector")):
        try:
            shipped = Predictor.from_file(pretrained.path("lite-int8"), detector=spec, detector_scales=(1.0,))
        except (ImportError, ValueError) as exc:
            print(f"shipped models skipped: {exc}")
            return
        runtime = "onnxruntime" if type(shipped.detector.model).__name__ == "OnnxDetectorNetwork" else "PyTorch"
        every = fps_of(lambda f, i, p=shipped: p.find_hands(f), frames)
        row = [f"{label:<22}{every:>17.1f}"]
        for n in (1, detect_every):
            tracker = HandTracker(shipped, TrackingConfig(detect_every=n))
            hands = []
            fps = fps_of(lambda f, i, t=tracker, h=hands: h.append(len(t.update(f, i / 25.0))), frames)
            row.append(f"detect every {n}: {fps:.1f} fps, {sum(hands[3:]) / len(frames):.2f} hands/frame")
        print(row[0] + "  (as images)   tracking, " + "; ".join(row[1:]) + f"  [detector in {runtime}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", nargs="?", default=str(DEFAULT_VIDEO))
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--preset", default="lite")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--detect-every", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mediapipe-python", default=None, metavar="PYTHON", help="an interpreter with mediapipe "
                        "installed (its own virtual environment): also run MediaPipe Hands on the same frames")
    parser.add_argument("--quick", action="store_true", help="30 frames (make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.frames = min(args.frames, 30)
    video = Path(args.video)
    if not video.is_file():
        print(f"skipped: video not found: {video} (give its path as the first argument)")
        return 0

    import torch

    from handpose.config import DataConfig, DetectorConfig
    from handpose.detection.detector import HandDetector
    from handpose.detection.model import build_detector
    from handpose.export import export_onnx
    from handpose.inference.backends import OnnxBackend
    from handpose.inference.predictor import Predictor
    from handpose.inference.prepare import spec_from_config
    from handpose.inference.refine import RefineConfig
    from handpose.inference.smoothing import SmoothingConfig
    from handpose.inference.tracking import HandTracker, TrackingConfig
    from handpose.model.cpm import build_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    frames = read_frames(video, args.frames)
    h, w = frames[0].shape[:2]
    model = build_model(args.preset).eval()
    with torch.no_grad():  # shake the biases: a fresh network's maps are flat, its keypoints all in one corner, and
        for pname, p in model.named_parameters():  # a track on them would be lost (and re-detected) every frame
            if pname.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.1)
    model = model.to(args.device)
    data_cfg = DataConfig(input_size=int(model.config.input_size))
    detector = HandDetector(build_detector(DetectorConfig()).eval(), threshold=0.0, max_hands=1, device=args.device)
    fixed_box = np.array([w * 0.25, h * 0.35, w * 0.5, w * 0.5])  # a hand-sized box, the same every frame
    base = Predictor.from_model(model, data_cfg, detector=detector)

    predictors: dict[str, Predictor] = {"pytorch fp32": base}
    tmp = Path(tempfile.mkdtemp(prefix="bench_video_"))
    fp32 = tmp / "cpm.onnx"
    export_onnx(model.cpu(), fp32, data_cfg)
    predictors["onnxruntime fp32"] = Predictor(OnnxBackend(fp32, threads=args.threads), spec_from_config(data_cfg),
                                               detector=detector)
    try:
        from handpose.quantize import quantize_int8

        spec = spec_from_config(data_cfg)
        crops = np.stack([spec.prepare(f, fixed_box).crops[0] for f in frames[:: max(1, len(frames) // 12)]])
        quantize_int8(fp32, tmp / "cpm_int8.onnx", crops)
        predictors["onnxruntime int8"] = Predictor(OnnxBackend(tmp / "cpm_int8.onnx", threads=args.threads),
                                                   spec_from_config(data_cfg), detector=detector)
    except ImportError as exc:
        print(f"int8 skipped: {exc}")

    print(f"video {video.name}: {len(frames)} frames {w} x {h}; keypoint preset {args.preset} "
          f"({data_cfg.input_size} px crops), detector {DetectorConfig().input_size} px; {args.threads} threads; "
          f"device {args.device}; tracking: detector every {args.detect_every} frames")
    print(f"{'keypoint runtime':<18} {'keypoints, fixed box':>21} {'detect every frame':>19} "
          f"{'tracking':>9}   (frames per second)")
    config = TrackingConfig(detect_every=args.detect_every, min_keypoint_score=0.0, box_score=0.0,
                            smoothing=SmoothingConfig())
    for name, predictor in predictors.items():
        spec = predictor.spec
        alone = fps_of(lambda f, i, p=predictor, s=spec: p.predict_prepared([s.prepare(f, fixed_box)]), frames)
        every = fps_of(lambda f, i, p=predictor: p.find_hands(f), frames)
        tracker = HandTracker(predictor, config)
        tracked = fps_of(lambda f, i, t=tracker: t.update(f, i / 25.0), frames)
        print(f"{name:<18} {alone:>21.1f} {every:>19.1f} {tracked:>9.1f}   (detector ran {tracker.detector_runs} "
              f"times in {len(frames) + 3} frames)")
    last = list(predictors)[-1]
    proposals = RefineConfig().max_proposals
    refined = replace(predictors[last], refine=RefineConfig(hand_threshold=0.0),
                      detector=HandDetector(detector.model, threshold=0.0, max_hands=proposals, device=args.device))
    every = fps_of(lambda f, i, p=refined: p.find_hands(f), frames)
    tracker = HandTracker(refined, config)
    tracked = fps_of(lambda f, i, t=tracker: t.update(f, i / 25.0), frames)
    passes = RefineConfig().passes
    print(f"{last + ', refined':<18} {'':>21} {every:>19.1f} {tracked:>9.1f}   ({proposals} proposals refined, "
          f"{passes} pass{'es' if passes > 1 else ''}; detector ran {tracker.detector_runs} times)")
    shipped_rows(frames, args.detect_every)
    if args.mediapipe_python:  # the reference, in the same run, on the same frames of the same video
        import subprocess

        reference = Path(__file__).with_name("mediapipe_reference.py")
        subprocess.run([args.mediapipe_python, str(reference), str(video), "--frames", str(args.frames)], check=False)
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
