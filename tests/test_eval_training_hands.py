"""A model's weights record which datasets it trained on (digests of their paths), and ``handpose eval`` warns
where a split that holds the training hands (``--split all`` or ``train``) scores one of them: the old script
validated on its own training images without a word."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from handpose.cli import main
from handpose.data.dataset_ids import dataset_id
from handpose.eval_held_out import stored_train_sets

TINY = ["--preset", "tiny", "--input-size", "64", "--batch-size", "4", "--val-every", "0", "--workers", "0",
        "--device", "cpu", "--threads", "1", "--no-amp", "--no-channels-last", "--max-steps", "2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(a rendered dataset, another one, the run folder of a tiny model trained on the first through a link)."""
    from handpose.synth import write_dataset

    root = tmp_path_factory.mktemp("sets")
    first = write_dataset(root / "first", count=24, seed=5, size=96)
    other = write_dataset(root / "other", count=24, seed=6, size=96)
    mixed = root / "mixed"
    mixed.mkdir()
    os.symlink(first, mixed / "first")  # a folder of links to datasets, as README describes
    run = root / "run"
    assert main(["-q", "train", "--data", str(mixed), "--out", str(run), *TINY]) == 0
    return first, other, run


def test_the_weights_and_checkpoints_record_the_datasets_they_trained_on(trained: tuple[Path, Path, Path]) -> None:
    first, other, run = trained
    for weights in (run / "model.safetensors", sorted((run / "checkpoints").glob("ckpt-*.pt"))[-1]):
        assert stored_train_sets(weights) == {dataset_id(first)}  # through the link: the dataset itself
    assert dataset_id(other) not in stored_train_sets(run / "model.safetensors")
    assert stored_train_sets("pretrained:lite") == set()  # renders alone


@pytest.mark.parametrize(("split", "which", "warned"), [("all", "first", True), ("train", "first", True),
                                                        ("val", "first", False), ("all", "other", False),
                                                        ("all", "mixed", True)])
def test_eval_warns_where_a_split_scores_the_training_hands(
        split: str, which: str, warned: bool, trained: tuple[Path, Path, Path], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    first, other, run = trained
    data = {"first": first, "other": other, "mixed": first.parent.parent / "mixed"}[which]
    with caplog.at_level(logging.WARNING):
        assert main(["eval", "--weights", str(run / "model.safetensors"), "--data", str(data), "--split", split,
                     "--device", "cpu"]) == 0
    said = [r.getMessage() for r in caplog.records if "scores the" in r.getMessage()]
    assert bool(said) == warned, said
    if warned:  # a folder of datasets: the set inside it that the model trained on is named
        where = data / "first" if which == "mixed" else data
        assert f"trained on {where} (its file records it): --split {split} scores the" in said[0]


def test_a_detector_scored_on_the_images_it_trained_on_is_warned_about(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    from handpose.detection.toy_scenes import write_toy_scenes

    data = write_toy_scenes(tmp_path / "scenes", count=40, seed=1)
    run = tmp_path / "run"
    assert main(["-q", "train", "--task", "detect", "--data", str(data), "--out", str(run), "--input-size", "128",
                 "--batch-size", "4", "--val-every", "0", "--workers", "0", "--device", "cpu", "--threads", "1",
                 "--no-amp", "--max-steps", "2"]) == 0
    evaluate = ["eval", "--task", "detect", "--weights", str(run / "model.safetensors"), "--data", str(data)]
    for split, warned in (("all", True), ("val", False)):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert main([*evaluate, "--split", split]) == 0
        said = [r.getMessage() for r in caplog.records if "images it trained on too" in r.getMessage()]
        assert bool(said) == warned, (split, said)
