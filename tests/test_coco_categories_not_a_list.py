"""A COCO json whose ``categories`` is no list (a number, text, a dict) is read as one that lists no category,
every annotation a hand, instead of ending the read with a TypeError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_data_helpers import write_coco

from handpose.data.formats import load_splits


@pytest.mark.parametrize("categories", [5, 2.5, True, {"id": 1, "name": "hand"}])
def test_categories_that_are_no_list_are_no_categories(tmp_path: Path, categories: object) -> None:
    jpath = write_coco(tmp_path / "coco" / "hands.json", tmp_path / "coco", 3)
    obj = json.loads(jpath.read_text())
    obj["categories"] = categories
    jpath.write_text(json.dumps(obj))
    assert len(load_splits(jpath, fmt="coco", val_fraction=0.0, workers=1).train) == 3
