"""FreiHAND's boxes are checked against the size of its images, all one size: that size is the one most of a spread
sample of the part's images have. It was the first image's alone, so one odd first file (a 1 x 1 JPEG) had every
annotation of the part skipped as a box outside its images."""

from __future__ import annotations

from pathlib import Path

from test_data_formats_freihand import write_part
from test_data_helpers import write_image

from handpose.data import skip_report as R
from handpose.data.formats import load_splits
from handpose.data.formats.freihand_files import common_image_size


def test_a_one_pixel_first_image_does_not_skip_the_part(tmp_path: Path) -> None:
    write_part(tmp_path, "training", 5, 1)
    write_image(tmp_path / "training" / "rgb" / "00000000.jpg", None, 1, 1)
    splits = load_splits(tmp_path, val_fraction=0.0)
    assert len(splits.train) == 5  # the one odd image is the crop's to refuse, when it is loaded
    assert R.BAD_BOX not in splits.skipped.counts, splits.skipped.summary()


def test_the_common_size_is_what_most_images_have(tmp_path: Path) -> None:
    names = [f"{i:08d}.jpg" for i in range(5)]
    for i, name in enumerate(names):
        write_image(tmp_path / name, None, *((1, 1) if i == 0 else (40, 30)))
    assert common_image_size(tmp_path, names) == (40, 30)
    assert common_image_size(tmp_path, []) is None
