"""Batched evaluation gives the numbers of the one-hand-at-a-time path, whatever the batch and the reading."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose.config import DataConfig
from handpose.data.formats import load_splits
from handpose.evaluate import evaluate
from handpose.inference.backends import TorchBackend
from handpose.inference.predictor import Predictor
from handpose.model.cpm import build_model
from handpose.synth import write_dataset


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list:
    folder = write_dataset(tmp_path_factory.mktemp("hands"), 10, seed=3, size=96)
    splits = load_splits(folder)
    return splits.train + splits.val


class OneByOne:
    """A backend running its inner backend one crop at a time: batch-invariant to the last bit."""

    def __init__(self, inner: TorchBackend) -> None:
        self.inner, self.stages = inner, inner.stages

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
        return np.concatenate([self.inner(x[i : i + 1], all_stages) for i in range(len(x))], axis=1)  # (S, N, ...)


@pytest.mark.parametrize("flip", [False, True])
def test_batch_of_8_in_threads_equals_one_at_a_time(rendered: list, flip: bool) -> None:
    """With a network that is batch-invariant, the batched, thread-read evaluation (crops, batching, flip test,
    decoding, mapping back, metrics) gives exactly the one-hand-at-a-time numbers."""
    torch.manual_seed(4)
    predictor = Predictor.from_model(build_model("tiny"), DataConfig(input_size=64))
    predictor = replace(predictor, backend=OneByOne(predictor.backend))
    one = evaluate(predictor, rendered, batch_size=1, threads=1, flip_test=flip, keep_predictions=True)
    eight = evaluate(predictor, rendered, batch_size=8, threads=2, flip_test=flip, keep_predictions=True)
    assert one["num_samples"] == eight["num_samples"] == len(rendered)
    assert eight["predictions"] == one["predictions"]  # every keypoint and score
    for key in ("PCK@0.2", "AUC", "EPE"):
        assert eight[key] == one[key]


def test_the_network_itself_differs_by_float_rounding_only(rendered: list) -> None:
    """What batching can change is the network's arithmetic order (oneDNN blocks a batch differently): the maps of
    8 crops at once equal those of one at a time to float32 rounding."""
    torch.manual_seed(4)
    backend = TorchBackend(build_model("tiny"))
    x = np.random.default_rng(0).normal(0, 0.25, (8, 3, 64, 64)).astype(np.float32)  # (N, 3, S, S)
    batched = backend(x)  # (1, 8, 22, 8, 8)
    single = OneByOne(backend)(x)
    assert np.abs(batched - single).max() <= 1e-5 * max(1.0, float(np.abs(single).max()))


def test_threads_keep_the_sample_order_and_count_skips(rendered: list, tmp_path: Path) -> None:
    broken = [*rendered[:3], replace(rendered[3], image_path=tmp_path / "missing.jpg"), *rendered[4:]]
    model = build_model("tiny")
    cfg = DataConfig(input_size=64)
    a = evaluate(model, broken, cfg, batch_size=3, threads=1, keep_predictions=True)
    b = evaluate(model, broken, cfg, batch_size=3, threads=2, keep_predictions=True)
    assert a["num_skipped"] == b["num_skipped"] == 1 and a["predictions"] == b["predictions"]
    assert [p["key"] for p in b["predictions"]] == [s.key or str(s.image_path) for s in broken if s is not broken[3]]


def test_a_predictor_keeps_its_own_test_time_options_unless_others_are_given(rendered: list) -> None:
    torch.manual_seed(4)
    predictor = Predictor.from_model(build_model("tiny"), DataConfig(input_size=64), flip_test=True, scales=(1.0, 1.2))
    own = evaluate(predictor, rendered[:2])
    assert (own["flip_test"], own["scales"]) == (True, [1.0, 1.2])  # they used to be reset to off and (1.0,)
    given = evaluate(predictor, rendered[:2], flip_test=False, scales=(1.0,))
    assert (given["flip_test"], given["scales"]) == (False, [1.0])
    assert evaluate(predictor.with_options(flip_test=False, scales=(1.0,)), rendered[:2])["PCK@0.2"] == given["PCK@0.2"]
