"""An InterHand2.6M hand skipped as invalid says why its wrist is not valid: marked so in ``joint_valid``, behind the
camera, or projected outside its image. The skip report said "wrist not valid" for all three, so a hand the dataset
marks valid read as marked invalid."""

from __future__ import annotations

import json
from pathlib import Path

from test_data_formats_interhand import H, write_interhand

from handpose.data import skip_report as R
from handpose.data.formats import load_splits


def test_each_invalid_hand_names_why_its_wrist_is_not_valid(tmp_path: Path) -> None:
    write_interhand(tmp_path)
    data_path = tmp_path / "annotations" / "all" / "InterHand2.6M_test_data.json"
    data = json.loads(data_path.read_text())
    data["images"][3]["width"] = 60  # image 3 (frame 10, left hand only): the left wrist lies at x = 110
    data_path.write_text(json.dumps(data))
    splits = load_splits(tmp_path)
    assert splits.skipped.counts[R.INVALID_HAND] == 3
    text = splits.skipped.summary()
    for words in ("annotations[1].right (wrist not valid in joint_valid)",
                  "annotations[2].left (wrist not in front of the camera: depth -",
                  f"annotations[3].left (wrist at (110, 95), outside the 60 x {H} image)"):
        assert words in text, text
