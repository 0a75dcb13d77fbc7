"""An MPEG transport stream cut short says so: it gives no frame count of its own (OpenCV's comes from its last
timestamps), so a cut ``.ts`` ended like a whole one, its later frames gone without a word, where an MP4, AVI or MKV
cut short says "frame N of M cannot be decoded". Its last packet, cut in part, is the sign; a stream of whole
packets, or another container, says nothing more than before."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from dot_hands import DotBackend, DotDetector

from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.ts_packets import ts_cut
from handpose.inference.video import run_video


def _ts(path: Path, frames: int = 30) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    return path.read_bytes()


def _predictor() -> Predictor:
    return Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())


def test_a_ts_cut_inside_a_packet_ends_with_an_error(tmp_path: Path) -> None:
    data = _ts(tmp_path / "whole.ts")
    assert len(data) % 188 == 0
    whole = run_video(_predictor(), tmp_path / "whole.ts")
    assert whole.error is None and whole.count == 30
    keep = len(data) * 2 // 3 // 188 * 188 + 100  # 100 bytes into a packet
    (tmp_path / "cut.ts").write_bytes(data[:keep])
    cut = run_video(_predictor(), tmp_path / "cut.ts")
    assert 0 < cut.count < 30
    assert cut.error == (f"{tmp_path / 'cut.ts'}: the file ends inside an MPEG-TS packet ({keep} bytes, not a whole "
                         f"number of 188-byte packets): it was cut short; kept the {cut.count} frames read")


def test_packet_sizes_and_other_files(tmp_path: Path) -> None:
    packet = bytes([0x47]) + bytes(187)
    cases = {
        "whole_188": (packet * 5, None),
        "cut_188": (packet * 5 + packet[:10], "(950 bytes, not a whole number of 188-byte packets)"),
        "whole_192": ((bytes(4) + packet) * 5, None),  # a Blu-ray / camcorder stream: a 4-byte time code first
        "cut_192": ((bytes(4) + packet) * 5 + bytes(3), "(963 bytes, not a whole number of 192-byte packets)"),
        "not_ts": (bytes(1001), None),
        "too_short": (packet * 2 + bytes(5), None),  # fewer packets than checked: not taken for a stream
    }
    for name, (data, said) in cases.items():
        (tmp_path / name).write_bytes(data)
        why = ts_cut(tmp_path / name)
        assert (why is None) if said is None else (why is not None and said in why), (name, why)
    assert ts_cut(tmp_path / "absent.ts") is None
