"""MediaPipe Hands on a video, as the reference that ``bench_video.py --mediapipe-python`` runs beside handpose.

Runs in its own interpreter (MediaPipe 0.10 needs numpy < 2, so it lives in a virtual environment of its own) and
imports nothing of handpose. The frames are decoded into memory first, like bench_video.py's; then MediaPipe Hands
(``model_complexity=1``, up to 2 hands) runs over them twice: in video mode (palm detection only when tracking is
lost) and with ``static_image_mode=True`` (palm detection on every frame). Prints one line per mode.

Usage: python benchmarks/mediapipe_reference.py VIDEO [--frames 100]
"""

from __future__ import annotations

import argparse
import sys
import time

import cv2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video")
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()
    import mediapipe as mp

    capture = cv2.VideoCapture(args.video)
    frames = []
    while len(frames) < args.frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))  # MediaPipe takes RGB
    if not frames:
        print(f"mediapipe reference: no frame could be read from {args.video}")
        return 1
    for label, static in (("tracking (video mode)", False), ("detect every frame (static images)", True)):
        with mp.solutions.hands.Hands(static_image_mode=static, model_complexity=1, max_num_hands=2) as hands:
            hands.process(frames[0])  # graph start-up, not timed
            found = 0
            t0 = time.perf_counter()
            for frame in frames:
                result = hands.process(frame)
                found += len(result.multi_hand_landmarks or [])
            seconds = time.perf_counter() - t0
        print(f"mediapipe {mp.__version__} {label}: {len(frames) / seconds:.1f} frames/s, {found} hands in "
              f"{len(frames)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
