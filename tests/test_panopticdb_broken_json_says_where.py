"""A panopticdb json that cannot be parsed is refused in one line that says what the parser found and where (line
and column), as FreiHAND's and COCO's files are; it said "unreadable or malformed json" alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_data_helpers import write_panopticdb

from handpose.data.formats import load_splits


def test_a_truncated_panopticdb_json_is_refused_naming_the_parse_error(tmp_path: Path) -> None:
    root = write_panopticdb(tmp_path / "hand143_panopticdb", 2)
    jpath = root / "hands_v143_14817.json"
    jpath.write_text(jpath.read_text()[:50])
    with pytest.raises(ValueError, match=rf"^{jpath}: unreadable or malformed json \(JSONDecodeError: .*line 1 "
                                         r"column \d+.*\); expected hands_v143_14817.json"):
        load_splits(root, "panopticdb")


def test_an_over_deep_panopticdb_json_is_refused_saying_so(tmp_path: Path) -> None:
    root = write_panopticdb(tmp_path / "hand143_panopticdb", 2)
    (root / "hands_v143_14817.json").write_text("[" * 100_000)
    with pytest.raises(ValueError, match=r"unreadable or malformed json \(nested too deeply\)"):
        load_splits(root, "panopticdb")
