"""The names of a folder's datasets in `handpose eval`'s report (eval_sets.json and the table)."""

from __future__ import annotations


def test_set_names_use_forward_slashes_on_every_system() -> None:
    """A folder of sets evaluated on Windows named its sets ``mediapipe_labelled\\tfjs_models`` in eval_sets.json
    (``str`` of a Windows path), so one report could not be compared with another made elsewhere."""
    from pathlib import PurePosixPath, PureWindowsPath

    from handpose.evaluate_sets import set_name

    root = PureWindowsPath(r"C:\data\photos")
    assert set_name(PureWindowsPath(r"C:\data\photos\mediapipe_labelled\tfjs_models"), root) == \
        "mediapipe_labelled/tfjs_models"
    assert set_name(root, root) == "photos"
    assert set_name(PurePosixPath("/d/photos/a/b"), PurePosixPath("/d/photos")) == "a/b"
