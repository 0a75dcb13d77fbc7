"""``handpose eval`` of a folder of datasets where one set's images are all unreadable (found only when read): its
row says so with ``-`` and its skips, not ``PCK 0.000 AUC 0.000 EPE 0.0`` (an EPE of 0 reads as perfect); a folder
none of whose hands can be evaluated is refused in one line naming it, as one dataset is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_data_helpers import write_synth

from handpose.config import DataConfig
from handpose.evaluate_sets import evaluate_sets, format_sets
from handpose.inference.predictor import Predictor


def unreadable_set(root: Path) -> Path:
    """A hand_labels_synth set of 3 hands whose jpg files are all empty."""
    write_synth(root, {"synth1": 3})
    for jpg in (root / "synth1").glob("*.jpg"):
        jpg.write_bytes(b"")
    return root


def test_a_set_of_unreadable_images_shows_dashes_and_its_skips(tmp_path: Path,
                                                                tiny_cpm: Callable[[int], Any]) -> None:
    write_synth(tmp_path / "sets" / "good", {"synth1": 4})
    unreadable_set(tmp_path / "sets" / "bad")
    predictor = Predictor.from_model(tiny_cpm(0), DataConfig(input_size=64))
    result = evaluate_sets(predictor, [tmp_path / "sets"])
    rows = {line.split()[0]: line for line in format_sets(result).splitlines()}
    assert rows["bad"].split()[1:5] == ["0", "-", "-", "-"], rows["bad"]
    assert "every hand skipped: {'corrupt': 3}" in rows["bad"]
    assert rows["all"].split()[1] == rows["good"].split()[1] == "4" and "-" not in rows["good"].split()[2:]


def test_a_folder_whose_hands_are_all_unreadable_is_refused_naming_it(tmp_path: Path,
                                                                      tiny_cpm: Callable[[int], Any]) -> None:
    unreadable_set(tmp_path / "sets" / "bad")
    unreadable_set(tmp_path / "sets" / "worse")
    predictor = Predictor.from_model(tiny_cpm(0), DataConfig(input_size=64))
    with pytest.raises(ValueError, match=rf"^{tmp_path / 'sets'}: none of the 6 all samples of its 2 dataset\(s\) "
                                         r"could be evaluated: \{'corrupt': 6\}; e\.g\. .*empty file"):
        evaluate_sets(predictor, [tmp_path / "sets"])

