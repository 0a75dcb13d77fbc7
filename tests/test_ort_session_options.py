"""handpose's onnxruntime sessions that take turns (the detector, then the keypoint network) stop their threads'
spinning at the end of each run (``session_options``); a keypoint network run alone keeps onnxruntime's default
(benchmarks/bench_ort_threads.py, bench_video.py)."""

from __future__ import annotations

from typing import Any

from handpose import pretrained
from handpose.detection.onnx_network import OnnxDetectorNetwork
from handpose.inference.backends import OnnxBackend, session_options
from handpose.inference.predictor import Predictor

STOP = "session.force_spinning_stop"


def stops_spinning(opts: Any) -> bool:
    """Whether onnxruntime ``SessionOptions`` hold the stop (onnxruntime raises for a key never set)."""
    try:
        return opts.get_session_config_entry(STOP) == "1"
    except RuntimeError:
        return False


def stops(session: Any) -> bool:
    """Whether an onnxruntime session was made with the stop."""
    return stops_spinning(session.get_session_options())


def test_options_stop_spinning_when_asked_and_keep_the_thread_count() -> None:
    assert stops_spinning(session_options(3))
    assert session_options(3).intra_op_num_threads == 3
    assert session_options().intra_op_num_threads == 0  # onnxruntime's own default where none is asked
    assert not stops_spinning(session_options(2, stop_spinning=False))


def test_the_detector_always_stops_the_keypoint_network_beside_a_detector() -> None:
    detector = OnnxDetectorNetwork(pretrained.path(pretrained.DETECTOR_ONNX), threads=2).session
    assert stops(detector) and detector.get_session_options().intra_op_num_threads == 2
    assert not stops(OnnxBackend(pretrained.path("lite-int8"), threads=2).session)
    assert stops(OnnxBackend(pretrained.path("lite-int8"), threads=2, stop_spinning=True).session)
    alone = Predictor.from_file(pretrained.path("lite-int8"))
    paired = Predictor.from_file(pretrained.path("lite-int8"), detector=pretrained.path("detector-onnx"))
    assert not stops(alone.backend.session) and stops(paired.backend.session)
