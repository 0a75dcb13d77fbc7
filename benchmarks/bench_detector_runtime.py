"""The hand detector in PyTorch, in onnxruntime (its float32 export) and in onnxruntime int8: time and accuracy.

On rendered scenes (``handpose synth --scenes``, 640 x 480; ``--data`` any COCO json of hand boxes) with the
shipped detector (or ``--detector``), in one process with the same thread count, for each runtime:
  ms per image   ``HandDetector.find`` on one image's letterboxes (reading and letterboxing not timed), at scale 1
                 and at the two scales of still images (1, 2); median of ``--rounds`` rounds over the images
  AP             AP@0.5, AP@0.5:0.95 and recall at 1 false positive per image at scale 1 (``detect_images``)
The float32 and int8 files are exported here into a temporary folder (``handpose.detection.onnx_export``,
``handpose.detection.quantize``, the int8 calibrated on ``--calib`` letterboxed scenes of another seed).
Usage: python benchmarks/bench_detector_runtime.py [--data hands_coco.json | --count 300] [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from held_out_scenes import add_scene_flags, scenes_json
from run_record import record_run

from handpose.detection.coco import read_detection_images
from handpose.detection.detector import IMAGE_SCALES, HandDetector
from handpose.detection.evaluate import detect_images
from handpose.detection.metrics import detection_metrics


def ms_per_image(detector: HandDetector, images: list[np.ndarray], rounds: int) -> float:
    """Median over ``rounds`` of the mean milliseconds of ``find`` per image (letterboxes made beforehand)."""
    prepared = [[detector.letterbox_scales(im)] for im in images]
    detector.find(prepared[0])  # warm-up
    means = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for x in prepared:
            detector.find(x)
        means.append(1000 * (time.perf_counter() - t0) / len(prepared))
    return float(np.median(means))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scene_flags(parser, count=300, seed=1000003, keypoints=False)
    parser.add_argument("--calib", type=int, default=128, help="letterboxed scenes calibrating the int8 file")
    parser.add_argument("--timed", type=int, default=20, help="images timed per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20 scenes, 16 calibration images (make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.count, args.calib, args.timed = 20, 16, 10
    torch.set_num_threads(args.threads)
    from handpose import pretrained
    from handpose.detection.onnx_export import export_detector_onnx
    from handpose.detection.quantize import detector_calibration_images, quantize_detector_int8
    from handpose.model.artifact import load_model

    with tempfile.TemporaryDirectory() as tmp:
        items = read_detection_images(scenes_json(args.data, Path(tmp) / "test", args.count, args.seed))
        weights = pretrained.resolve(args.detector)
        model = load_model(weights, task="detect")
        fp32 = export_detector_onnx(model, Path(tmp) / "detector.onnx").path
        side = int(model.config.input_size)
        calib = detector_calibration_images("synthetic", args.calib + 8, side, seed=args.seed + 1)
        int8 = quantize_detector_int8(fp32, Path(tmp) / "detector_int8.onnx", calib[: args.calib],
                                      calib[args.calib :]).path
        images = [cv2.imread(str(item.path)) for item in items[: args.timed]]
        print(f"{len(items)} images, {sum(im.num_hands for im in items)} hands; detector {weights.name}; "
              f"{torch.get_num_threads()} threads; {len(images)} images timed, median of {args.rounds} rounds")
        print(f"{'runtime':<18}{'ms/image scale 1':>18}{'scales 1,2':>12}   accuracy at scale 1")
        for name, source in (("pytorch fp32", weights), ("onnxruntime fp32", fp32), ("onnxruntime int8", int8)):
            one = HandDetector.from_file(source)
            two = HandDetector.from_file(source, scales=IMAGE_SCALES)
            m = detection_metrics(detect_images(one, items, batch_size=1, threshold=0.01))
            print(f"{name:<18}{ms_per_image(one, images, args.rounds):>18.1f}"
                  f"{ms_per_image(two, images, args.rounds):>12.1f}   AP@0.5 {m['AP@0.5']:.3f}  AP@0.5:0.95 "
                  f"{m['AP@0.5:0.95']:.3f}  recall@1FP {m['recall@1FP']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
