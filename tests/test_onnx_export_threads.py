"""ONNX exports from several threads of one process: torch's exporter keeps its state in module globals, so two
exports at once failed ("GLOBALS.in_onnx_export must be False"); a service that built two predictors on the shipped
detector at once, before its ONNX export was cached, lost one of them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import onnx
import pytest
from fixture_types import TinyCpm

from handpose import pretrained
from handpose.config import DataConfig
from handpose.detection import onnx_export
from handpose.detection.model import build_detector
from handpose.export import export_onnx

WAIT_S = 60  # a thread that has not reached the barrier by then has hung


def test_a_detector_and_a_keypoint_export_at_once_both_succeed(tmp_path: Path, tiny_cpm: TinyCpm) -> None:
    start = threading.Barrier(3, timeout=WAIT_S)
    detector, keypoints = build_detector().eval(), tiny_cpm(0)

    def detector_export(name: str) -> Any:
        start.wait()
        return onnx_export.export_detector_onnx(detector, tmp_path / name)

    def keypoint_export() -> Any:
        start.wait()
        return export_onnx(keypoints, tmp_path / "keypoints.onnx", DataConfig(input_size=64))

    with ThreadPoolExecutor(3) as pool:
        jobs = [pool.submit(detector_export, "a.onnx"), pool.submit(detector_export, "b.onnx"),
                pool.submit(keypoint_export)]
        reports = [job.result(WAIT_S) for job in jobs]
    for report in reports:
        assert report.max_abs_diff < 1e-4
        onnx.checker.check_model(onnx.load(str(report.path)))
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_threads_asking_for_the_shipped_detector_onnx_export_it_once(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "cache"))
    exports: list[Path] = []
    real_export = onnx_export.export_detector_onnx

    def counted(model: Any, out: Path, **kwargs: Any) -> Any:
        exports.append(Path(out))
        return real_export(model, out, **kwargs)

    monkeypatch.setattr(onnx_export, "export_detector_onnx", counted)
    start = threading.Barrier(3, timeout=WAIT_S)

    def ask(_: int) -> Path:
        start.wait()
        return pretrained.path("detector-onnx")

    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(ask, range(3)))
    assert len(set(paths)) == 1 and exports == paths[:1]
    onnx.checker.check_model(onnx.load(str(paths[0])))
    assert sorted(p.name for p in paths[0].parent.iterdir()) == [paths[0].name]  # no temporary file left
