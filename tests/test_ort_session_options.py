"""handpose's onnxruntime sessions stop their threads' spinning at the end of each run (``session_options``), so the
detector's threads do not take the cores the keypoint network needs next (benchmarks/bench_ort_threads.py)."""

from __future__ import annotations

from handpose import pretrained
from handpose.detection.onnx_network import OnnxDetectorNetwork
from handpose.inference.backends import OnnxBackend, session_options

STOP = "session.force_spinning_stop"


def test_options_stop_spinning_and_keep_the_thread_count() -> None:
    opts = session_options(3)
    assert opts.get_session_config_entry(STOP) == "1"
    assert opts.intra_op_num_threads == 3
    assert session_options().intra_op_num_threads == 0  # onnxruntime's own default where none is asked


def test_keypoint_and_detector_sessions_use_them() -> None:
    keypoints = OnnxBackend(pretrained.path("lite-int8"), threads=2).session
    detector = OnnxDetectorNetwork(pretrained.path(pretrained.DETECTOR_ONNX), threads=2).session
    for session in (keypoints, detector):
        opts = session.get_session_options()
        assert opts.get_session_config_entry(STOP) == "1" and opts.intra_op_num_threads == 2
