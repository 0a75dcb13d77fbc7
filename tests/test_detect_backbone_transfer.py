"""A detector started from a keypoint model's MobileNet front (``--task detect --init pretrained:lite``): the units
that fit are copied in order, the rest keep their fresh weights, and a front that cannot fit is named."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from handpose.config import DetectorConfig
from handpose.detection.backbone_transfer import detector_units, keypoint_units, transfer_backbone
from handpose.detection.model import build_detector
from handpose.detection.task import DetectTask
from handpose.model import artifact
from handpose.model.cpm import build_model


def _equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_shipped_keypoint_front_starts_ten_detector_units() -> None:
    torch.manual_seed(0)
    detector = build_detector()
    fresh = {k: v.clone() for k, v in detector.state_dict().items()}
    keypoints = artifact.load_model("pretrained:lite")
    DetectTask().initial_weights(detector, "pretrained:lite")  # what `train --init pretrained:lite` calls
    det_units, kp_units = detector_units(detector), keypoint_units(keypoints)
    # stem + 64, 128/2, 128 | 256/2, 256 | 512/2 and three 512s: all the keypoint front has; 1024/2 and 1024 stay fresh
    assert len(kp_units) == 10 and len(det_units) == 12
    assert all(_equal(d, k) for d, k in zip(det_units, kp_units))
    for name, value in detector.state_dict().items():
        if name.startswith(("levels.3.", "lateral.", "smooth.", "heads.")):
            assert torch.equal(value, fresh[name]), name
    stem = [k for k in fresh if k.startswith("stem.")]
    assert stem and any(not torch.equal(detector.state_dict()[k], fresh[k]) for k in stem)  # really copied


def test_a_wider_detector_takes_nothing_and_says_why() -> None:
    wide = build_detector(dataclasses.replace(DetectorConfig(), width=1.0))
    with pytest.raises(ValueError, match="widths differ"):
        transfer_backbone(wide, artifact.load_model("pretrained:lite"))


def test_a_vgg_front_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="MobileNet front.*'vgg19'"):
        transfer_backbone(build_detector(), build_model("tiny"))
