"""``handpose predict`` on a video file or a webcam: the tracking flags checked and turned into a
``TrackingConfig``, ``--save-video`` checked before the models load, and the run that tracks the hands frame by frame
and writes NAME.json, the COCO results and the annotated video (``inference.video.run_video`` does the tracking).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handpose.commands.predict_files import MANIFEST, OutputFolder, check_coco_names
from handpose.inference.predictor import Predictor
from handpose.words import counted


def tracking_config(args: argparse.Namespace) -> Any:
    """The tracking and smoothing settings of the video flags."""
    from handpose.inference.smoothing import SmoothingConfig
    from handpose.inference.tracking import TrackingConfig

    if args.detect_every < 0:
        raise ValueError(f"--detect-every must be 0 (no schedule) or more, got {args.detect_every}")
    if not 0.0 <= args.track_min_score < 1.0:
        raise ValueError(f"--track-min-score is a mean keypoint score, in [0, 1); got {args.track_min_score}")
    if args.track_lost_frames < 0:
        raise ValueError(f"--track-lost-frames must be 0 (off) or more, got {args.track_lost_frames}")
    if args.track_confirm_frames < 1:
        raise ValueError(f"--track-confirm-frames must be 1 (a new hand shown at once) or more, got "
                         f"{args.track_confirm_frames}")
    if not 0.0 <= args.merge_points <= 1.0:
        raise ValueError(f"--merge-points must lie in [0, 1], got {args.merge_points}")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be at least 1, got {args.max_frames}")
    if not args.smooth_min_cutoff > 0:  # also refuses NaN
        raise ValueError(f"--smooth-min-cutoff is a frequency in Hz, above 0; got {args.smooth_min_cutoff}")
    if not args.smooth_beta >= 0:
        raise ValueError(f"--smooth-beta must be 0 or more, got {args.smooth_beta}")
    smoothing = SmoothingConfig(not args.no_smooth, args.smooth_min_cutoff, args.smooth_beta)
    # --merge-points also with --refine-passes 0: the tracker's rule of a hand read twice needs no refinement
    return TrackingConfig(detect_every=args.detect_every, min_keypoint_score=args.track_min_score,
                          lost_frames=args.track_lost_frames, merge_points=args.merge_points,
                          confirm_frames=args.track_confirm_frames, smoothing=smoothing)


def check_save_video(save: Path, source: str) -> None:
    """--save-video: a container the video can be written in, and no file there that predict did not write (the
    input video, or a file of the user's: OpenCV would empty it on opening); ValueError saying which."""
    from handpose.files import ensure_writable_file
    from handpose.inference.video import check_save_suffix

    check_save_suffix(save)
    ensure_writable_file(save, "--save-video")
    if save.exists() and save.resolve() == Path(source).resolve():
        raise ValueError(f"--save-video {save} would replace the input video")
    if save.exists() and save.name not in OutputFolder(save.parent).written:
        raise ValueError(f"--save-video {save} exists and predict did not write it, or wrote it before 2026-12-06, "
                         f"when it kept no note of its videos ({MANIFEST} beside them): choose another name, or delete "
                         "it first if an earlier predict saved it (predict never replaces a file it did not write)")


def predict_video(predictor: Predictor, source: str, out: OutputFolder, args: argparse.Namespace,
                  box: Sequence[float] | None, capture: Any = None) -> int:
    """Track through a video or webcam; write NAME.json, the COCO results and the video; print the speed.
    ``capture``: ``source`` already opened (a webcam opened before the models loaded), read and released by the run.
    SIGINT, SIGTERM or SIGHUP stops after the frame in hand, and what was done is written (more signals wait for that: a
    process that must end at once is killed); the exit code is then 130, 143 or 129. An error part way raises after the
    frames done so far are written."""
    from handpose.commands.video_record import VideoRecord
    from handpose.inference.inputs import webcam_index
    from handpose.inference.video import run_video
    from handpose.training.signals import StopRequest, exit_code, ignore_stop_signals

    stem = f"webcam{webcam_index(source)}" if webcam_index(source) is not None else Path(source).stem
    record_path = out.path / f"{stem}.json"
    save = None if args.save_video is None else Path(args.save_video)
    out.check(record_path, Path(source))
    # the COCO names and --save-video were checked before the models loaded (_run)
    # a second Ctrl-C waits: the frame in hand, the video's closing and the records
    # each frame's record is written as it comes (VideoRecord), not kept: memory stays flat over a long video
    with StopRequest("stopping after this frame, then writing the frames done", abortable=False) as stop, \
            VideoRecord(out.path, stem) as frames:
        result = run_video(predictor, source, tracking_config(args), save_video=save, show=args.show,
                           max_frames=args.max_frames, threshold=args.threshold,
                           start_box=None if box is None else np.asarray(box), is_left=args.side,
                           stop=lambda: stop.reason, record=frames.add, capture=capture)
        coco_paths = check_coco_names(out)
        out.claim([record_path, *coco_paths])
        header = {"source": result.source, "fps": result.fps, "width": result.width, "height": result.height,
                  "model": predictor.name}
        frames.finish(result.count, header, result.error, record_path, coco_paths, result.source, result.width,
                      result.height)
        written = [record_path, *coco_paths]
        if result.saved_video is not None:  # predict's own from now on: a later run may replace it
            OutputFolder(result.saved_video.parent).claim([result.saved_video])
            written.append(result.saved_video)
    if stop.reason is not None:  # all is written and the process ends: more signals must not cut its exit short
        ignore_stop_signals()
    print(", ".join(str(p) for p in written))
    print(f"{counted(result.count, 'frame')}, {counted(result.hands, 'hand')}, "
          f"{counted(result.detector_runs, 'detector run')}, {result.measured_fps:.1f} frames/s measured")
    if stop.reason is not None:
        print(f"stopped by {stop.reason} after {result.count} frames; those are written", file=sys.stderr)
        return exit_code(stop.reason)
    if result.error:
        raise ValueError(result.error)
    return 0
