"""Skips the dataset itself asks for (hands marked invalid, annotations of another category) are logged as an info
line, not a warning: on COCO-WholeBody most people's hands are marked invalid, and a warning of their count said
something was wrong where nothing was. A skip of anything else still warns, with the dataset's own ones listed."""

from __future__ import annotations

import logging

import pytest

from handpose.data import skip_report as R
from handpose.data.skip_report import SkipReport


def _logged(report: SkipReport, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="handpose.test"):
        report.log("annotations in person_keypoints.json", logging.getLogger("handpose.test"))
    return caplog.records


def test_invalid_hands_are_said_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    report = SkipReport()
    for i in range(5):
        report.add(R.INVALID_HAND, f"person_keypoints.json#annotations[{i}].lefthand")
    report.add(R.NOT_A_HAND, "person_keypoints.json#annotations[9]")
    (record,) = _logged(report, caplog)
    assert record.levelno == logging.INFO and "5 x hand marked invalid in the dataset" in record.getMessage()
    report.add(R.BAD_BOX, "person_keypoints.json#annotations[7].righthand")
    (record,) = _logged(report, caplog)
    assert record.levelno == logging.WARNING and "1 x box not positive" in record.getMessage()
    assert "5 x hand marked invalid" in record.getMessage()
    assert _logged(SkipReport(), caplog) == []
