"""handpose used as a library leaves the caller's process as it found it: random streams, thread counts, the
environment."""

from __future__ import annotations

import pytest
import torch

from handpose.model.artifact import load_model


@pytest.mark.parametrize(("name", "task"), [("pretrained:lite", "keypoints"), ("pretrained:detector", "detect")])
def test_loading_a_model_leaves_the_callers_torch_random_stream_alone(name: str, task: str) -> None:
    # a researcher seeds, loads handpose beside their own model, then initialises theirs: the same numbers as
    # without the load (building the layers drew their random start from the global stream)
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    load_model(name, task=task)
    assert torch.equal(torch.rand(4), expected)


def test_a_predictor_leaves_the_callers_torch_random_stream_alone() -> None:
    from handpose import Predictor

    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    Predictor.from_file("pretrained:lite", detector=None).predict(torch.zeros(64, 64, 3, dtype=torch.uint8).numpy())
    assert torch.equal(torch.rand(4), expected)
