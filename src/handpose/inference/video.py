"""Video files and webcams through the tracker: frames in, hands per frame out, an annotated video, the speed.

:func:`run_video` opens the source (:func:`open_capture`: a clear one-line error for a file that is missing or
not a video, or a camera that does not exist), feeds each frame to a :class:`~handpose.inference.tracking
.HandTracker` at its time (:func:`frame_time`: the container's timestamp, so a variable frame rate keeps its real
times), writes the annotated frames (``save_video``, OpenCV's VideoWriter with the ``mp4v`` codec, into a hidden
partial file that takes the final name when the video is closed: OpenCV empties a file it opens, so nothing at that
name is touched before there is a video to put there) and shows them where a display exists (``show``). A frame
that cannot be decoded part way through (a file cut short: its container promised more frames, or, for an MPEG
transport stream, which promises none, its last packet is cut in part, :mod:`~handpose.inference.ts_packets`), a
stop asked for (``stop``: the caller's signal handler), or any other error after the first frame, stops the run
with a message in :attr:`VideoResult.error`; the frames done so far are kept, the record and the video alike (and
the video written so far is closed properly), so the caller still writes them.

FFmpeg's own messages (``moov atom not found``) are the process's business: the ``handpose`` command turns them off
(``OPENCV_FFMPEG_LOGLEVEL``, in ``cli``); a script that wants them off sets that variable to ``-8`` before OpenCV
first opens a video. Importing this module changes no environment variable.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from handpose.files import replace_file
from handpose.inference.inputs import webcam_index
from handpose.inference.mp4_index import lacks_index
from handpose.inference.predictor import Predictor
from handpose.inference.results import Hands
from handpose.inference.tracking import HandTracker, TrackingConfig
from handpose.inference.ts_packets import ts_cut
from handpose.opencv_quiet import quiet_opencv

LOG = logging.getLogger(__name__)
DEFAULT_FPS = 25.0  # a source that does not say its frame rate (many webcams)
WINDOW = "handpose"
SAVE_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")  # containers OpenCV's FFmpeg writes mp4v video into


def check_save_suffix(path: str | Path) -> None:
    """ValueError unless ``path`` ends in a container the annotated video can be written to."""
    if Path(path).suffix.lower() not in SAVE_SUFFIXES:
        raise ValueError(f"--save-video {path}: an annotated video is written as {', '.join(SAVE_SUFFIXES)}; "
                         f"give one of those suffixes")


@dataclass
class VideoResult:
    """What a run produced: the hands per frame (without the images), the source's frame rate and size, the
    measured speed, how many detector runs, and the error that stopped it early (None when it ran to the end).

    ``count`` and ``hands`` are the frames done and the hands found in them; ``frames`` and ``times`` hold every
    frame's hands and time, except in a run given ``record`` (:func:`run_video`), which keeps neither, so that a long
    video or a webcam runs in flat memory. ``width`` and ``height`` are the first frame's, the saved video's size:
    a source whose frames change size part way has those frames fitted into the video, and their hands in their
    own frame's pixels."""

    source: str
    fps: float
    width: int = 0
    height: int = 0
    frames: list[Hands] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # each frame's time in seconds (frame_time)
    count: int = 0  # frames done (the length of frames and times where they are kept)
    hands: int = 0  # hands found in those frames
    seconds: float = 0.0
    detector_runs: int = 0
    error: str | None = None
    saved_video: Path | None = None

    @property
    def measured_fps(self) -> float:
        """Frames processed per second of wall time (reading, tracking, keypoints, drawing, writing)."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


def open_capture(source: str | Path | int) -> tuple[cv2.VideoCapture, str]:
    """(an opened capture, its name) for a video file or a webcam index; FileNotFoundError / ValueError in one
    line naming the source otherwise."""
    with quiet_opencv(LOG):
        return _open_capture(source)


def check_video_file(source: str | Path | int) -> None:
    """The errors :func:`open_capture` gives for a video file (missing, a folder, not a video OpenCV can decode,
    an MP4 without its index), and :func:`run_video`'s for one that opens but yields no frame (a video of no
    frames, or whose first frame cannot be decoded), found by opening it, reading its first frame and letting it
    go: cheap, so ``predict`` calls it before its models load and writes nothing for such a file. A webcam index
    is left out: opening a camera twice is slow, and some refuse a second open, so ``predict`` opens it once with
    :func:`open_capture` before its models load and hands the capture to :func:`run_video`."""
    if webcam_index(source) is None:  # type: ignore[arg-type]
        cap, name = open_capture(source)
        try:
            with quiet_opencv(LOG):
                ok, frame = cap.read()
        finally:
            cap.release()
        if not ok or frame is None:
            raise ValueError(no_frame_message(name))


def no_frame_message(name: str) -> str:
    """The error for a video that opens and yields no frame."""
    return f"{name}: no frame could be read (empty or undecodable video)"


def capture_name(source: str | Path | int) -> str:
    """How a run's messages and results name ``source``: "webcam N" or the video file's path."""
    index = webcam_index(source)  # type: ignore[arg-type]
    return str(Path(str(source))) if index is None else f"webcam {index}"


def _open_capture(source: str | Path | int) -> tuple[cv2.VideoCapture, str]:
    index = webcam_index(source)  # type: ignore[arg-type]
    if index is not None:
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise ValueError(f"webcam {index} cannot be opened (no such camera, no permission, or in use)")
        return cap, capture_name(source)
    path = Path(str(source))
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        if lacks_index(path):
            raise ValueError(f"cannot open video {path}: it has no index of its frames (the 'moov' box that comes "
                             "last in the file), as when a recording or a copy stopped early; no frame can be "
                             "read without it")
        raise ValueError(f"cannot open video {path} (not a video OpenCV can decode)")
    return cap, capture_name(source)


def can_display() -> bool:
    """True where a window can open: a desktop OS, or Linux with an X11 / Wayland display."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class _Display:
    """``cv2.imshow`` guarded: off without a display or when this OpenCV has no GUI (one warning); q/Esc stops."""

    def __init__(self, wanted: bool) -> None:
        self.on = wanted and can_display()
        if wanted and not self.on:
            LOG.warning("--show: no display here (DISPLAY is not set); running without a window")

    def show(self, image: np.ndarray) -> bool:
        """Show one frame; False when the user asked to stop."""
        if not self.on:
            return True
        try:
            cv2.imshow(WINDOW, image)
            return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)
        except cv2.error as exc:  # opencv-python-headless: no GUI
            LOG.warning("--show: this OpenCV cannot open windows (%s); running without one",
                        str(exc).strip().splitlines()[-1][:80])
            self.on = False
            return True

    def close(self) -> None:
        if self.on:
            try:
                cv2.destroyWindow(WINDOW)
            except cv2.error:
                pass


def partial_path(path: Path) -> Path:
    """The hidden file a video is written to before it takes ``path``'s name (the same suffix: OpenCV picks the
    container by it)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def fit_frame(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (H, W, 3) fitted into ``size`` (width, height): scaled to fit, its aspect kept, black borders
    around; ``image`` itself when it has that size already."""
    h, w = image.shape[:2]
    width, height = size
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    nw, nh = max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale)))
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - nw) // 2, (height - nh) // 2
    out[y:y + nh, x:x + nw] = cv2.resize(image, (nw, nh),
                                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return out


class _Writer:
    """An mp4v VideoWriter opened on the first frame (its size), writing :func:`partial_path` and moving it to
    ``path`` on :meth:`close` once the closed file proves whole; ValueError naming the file when it cannot open.
    A later frame of another size (a camera that changed its resolution, a capture handed in) is fitted into the
    first one's (:func:`fit_frame`, said once): OpenCV's writer drops such a frame without a word, and the video
    that lacked it was lost whole. ``count``: frames written; ``saved``: whether the video took its name."""

    def __init__(self, path: Path | None, fps: float) -> None:
        self.path, self.fps = path, fps
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] = (0, 0)  # (width, height) of the first frame: the video's
        self.count = 0
        self.saved = False
        self.refitted = False  # whether a frame of another size was fitted (said once)

    def write(self, image: np.ndarray) -> None:
        if self.path is None:
            return
        if self.writer is None:  # run_video checked the suffix
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = image.shape[:2]
            with quiet_opencv(LOG):
                self.writer = cv2.VideoWriter(str(partial_path(self.path)), cv2.VideoWriter_fourcc(*"mp4v"),
                                              self.fps, (w, h))
            if not self.writer.isOpened():
                self.writer = None
                partial_path(self.path).unlink(missing_ok=True)
                raise ValueError(f"--save-video {self.path}: OpenCV cannot write an mp4v video there")
            self.size = (w, h)
        if image.shape[1::-1] != self.size:
            if not self.refitted:
                self.refitted = True
                LOG.warning("--save-video %s: frame %d is %d x %d, not the %d x %d of the first frame; such frames "
                            "are fitted into the video at that size (scaled, black borders), and their hands keep "
                            "their own frame's pixels in the record", self.path, self.count, image.shape[1],
                            image.shape[0], *self.size)
            image = fit_frame(image, self.size)
        self.writer.write(image)
        self.count += 1

    def close(self) -> str | None:
        """Close the video and give it its name; the error, naming the file, when the closed file does not hold
        every frame written: OpenCV's writer reports no failed write (a full disk, a file over ``ulimit -f``), and
        the cut file would have replaced an earlier video of that name. The partial file is then deleted."""
        if self.writer is None or self.path is None:
            return None
        self.writer.release()
        partial = partial_path(self.path)
        if not whole_video(partial, self.count):
            partial.unlink(missing_ok=True)
            return (f"--save-video {self.path}: could not be written (the closed file lacks frames of the "
                    f"{self.count} written: a full disk or a file size limit?); nothing was written there and the "
                    "previous file, if any, is unchanged")
        replace_file(partial, self.path)
        self.saved = True
        return None


def whole_video(path: Path, frames: int) -> bool:
    """Whether the video file ``path`` opens and its frame ``frames - 1``, the last written, decodes there: an mp4
    cut short does not open (its index comes last); an avi or mkv cut short opens, and its seek fails, or, where
    its header never got a frame count, leaves it at the first frame (the position after the read tells). Seeking
    decodes from the keyframe before that frame, not the whole video."""
    with quiet_opencv(LOG):
        cap = cv2.VideoCapture(str(path))
        try:
            if not (cap.isOpened() and cap.set(cv2.CAP_PROP_POS_FRAMES, frames - 1) and cap.read()[0]):
                return False
            return cap.get(cv2.CAP_PROP_POS_FRAMES) == frames
        finally:
            cap.release()


def frame_time(cap: cv2.VideoCapture, index: int, fps: float, previous: float | None, webcam: bool,
               start: float) -> float:
    """Seconds of the frame just read: a webcam's by the clock since ``start``; a file's by its container
    timestamp where it has one that goes forward (a variable frame rate keeps its real times), else one frame
    interval after the previous frame (``index / fps`` for the first), so times always go forward."""
    if webcam:
        return time.perf_counter() - start
    stamp = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
    if np.isfinite(stamp) and (index == 0 or (previous is not None and stamp > previous)):
        return stamp
    return index / fps if previous is None else previous + 1.0 / fps


def run_video(
    predictor: Predictor,
    source: str | Path | int,
    config: TrackingConfig | None = None,
    save_video: str | Path | None = None,
    show: bool = False,
    max_frames: int | None = None,
    threshold: float = 0.1,
    start_box: np.ndarray | None = None,
    is_left: bool | None = None,
    on_frame: Callable[[int, Hands], None] | None = None,
    stop: Callable[[], str | None] | None = None,
    record: Callable[[int, float, Hands], None] | None = None,
    capture: cv2.VideoCapture | None = None,
) -> VideoResult:
    """Track hands through a video file or webcam; see the module docstring. Opening errors, and any error at the
    first frame, raise (one line); any error after it (an undecodable frame, an interrupt, a failure of the tracker
    or the writer) ends the run with :attr:`VideoResult.error` set and the frames done kept. ``stop``: asked after
    each frame; a reason it returns (e.g. "SIGINT") ends the run there, said in :attr:`VideoResult.error`.
    ``record``: given, each frame's (index, time, hands) goes to it and not into :attr:`VideoResult.frames` and
    :attr:`VideoResult.times`, which stay empty (memory stays flat however long the video); the frames it got past
    :attr:`VideoResult.count` (at most one, the frame an interrupt or a writer failure cut short) are not in the
    video and are the caller's to drop. ``capture``: ``source`` already opened (:func:`open_capture`), read instead of
    opening it again (a webcam ``predict`` opened before its models loaded); the run releases it as it ends, an error
    included."""
    if save_video is not None:
        try:
            check_save_suffix(save_video)
        except ValueError:
            if capture is not None:
                capture.release()  # handed over: the run's to release however it ends
            raise
    cap, name = (capture, capture_name(source)) if capture is not None else open_capture(source)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    fps = fps if 0 < fps < 1000 else DEFAULT_FPS
    expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if webcam_index(source) is None else 0  # type: ignore
    result = VideoResult(name, fps)
    tracker = HandTracker(predictor, config, start_box, is_left)
    writer = _Writer(None if save_video is None else Path(save_video), fps)
    display = _Display(show)
    start = time.perf_counter()
    webcam = webcam_index(source) is not None  # type: ignore[arg-type]
    previous: float | None = None  # the last frame's time
    last = 0  # hands in the last frame done
    try:
        while max_frames is None or result.count < max_frames:
            ok, frame = cap.read()  # (H, W, 3) uint8 BGR
            if not ok or frame is None:
                done = result.count
                if done == 0:
                    result.error = no_frame_message(name)
                elif webcam_index(source) is not None:  # type: ignore[arg-type]
                    result.error = f"{name} stopped delivering frames after {done} frames"
                elif expected and done < expected - 1:  # the container promised more: a frame is broken
                    result.error = f"{name}: frame {done} of {expected} cannot be decoded; kept the {done} before it"
                elif (cut := ts_cut(Path(str(source)))) is not None:  # a transport stream gives no frame count
                    result.error = f"{name}: {cut}; kept the {done} frames read"
                break
            if not result.count:  # the first frame's size: the saved video's (later sizes are fitted into it)
                result.height, result.width = frame.shape[:2]
            index = result.count
            t = previous = frame_time(cap, index, fps, previous, webcam, start)
            hands = tracker.update(frame, t)
            drawn = hands.plot(threshold) if (writer.path is not None or display.on) else None
            hands.image = None  # keep the numbers, not every frame's pixels
            if on_frame is not None:
                on_frame(index, hands)
            if record is not None:
                record(index, t, hands)
            else:
                result.frames.append(hands)
                result.times.append(t)
            result.count, result.hands, last = index + 1, result.hands + len(hands), len(hands)
            if drawn is not None:
                writer.write(drawn)  # fails at the first frame alone (the file is opened there)
            if drawn is not None and not display.show(drawn):
                break
            reason = stop() if stop is not None else None
            if reason:
                result.error = f"{name}: stopped by {reason} after {result.count} frames"
                break
    except KeyboardInterrupt:
        _agree(result, writer, last)
        result.error = f"{name}: interrupted after {result.count} frames"
    except Exception as exc:  # noqa: BLE001 (any failure part way: the frames done are the caller's to write)
        _agree(result, writer, last)
        if not result.count:
            raise
        LOG.debug("%s: stopped at frame %d", name, result.count, exc_info=True)
        result.error = (f"{name}: stopped at frame {result.count} (counted from 0) by {type(exc).__name__}: "
                        f"{exc}; kept the {result.count} frames before it")
    finally:
        result.seconds = time.perf_counter() - start
        result.detector_runs = tracker.detector_runs
        cap.release()
        video_error = writer.close()
        display.close()
    if video_error:  # the hands found are kept: the caller writes them, then reports the error
        result.error = video_error if not result.error else f"{result.error}; {video_error}"
    result.saved_video = writer.path if writer.saved else None
    return result


def _agree(result: VideoResult, writer: _Writer, last: int) -> None:
    """After a run ended inside a frame: the record keeps the frames the video holds (a frame is recorded, then
    drawn; an interrupt between the two leaves it out of both). That can only be the last frame done, which held
    ``last`` hands; a frame given to ``record`` is then out of :attr:`VideoResult.count`."""
    if writer.path is not None and writer.count < result.count:
        del result.frames[writer.count:]
        del result.times[writer.count:]
        result.count, result.hands = writer.count, result.hands - last
