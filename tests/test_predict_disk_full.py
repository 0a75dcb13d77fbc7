"""`handpose predict` over a folder stops at a full disk, in one line naming the file, with the images done whole
and their COCO results written; it used to skip every later image for the same reason, running the network on
each, and listed them all."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest
import torch

from handpose.cli import main
from handpose.config import DataConfig, to_dict
from handpose.export import sample_crops
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


@pytest.mark.slow
def test_a_full_disk_stops_a_folder_run_with_the_images_done_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(5)
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    folder = tmp_path / "images"
    folder.mkdir()
    for i, crop in enumerate(sample_crops(64, 6, seed=9)):
        cv2.imwrite(str(folder / f"im{i}.png"), cv2.resize(crop, (80, 60)))
    real_write = Path.write_bytes
    tried: list[str] = []

    def write_bytes(self: Path, data: bytes) -> int:  # the overlay's temporary file: full from image 3 on
        tried.append(self.name)
        if "_overlay.tmp-" in self.name and int(self.name[3]) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    out = tmp_path / "out"
    code = main(["predict", "--model", str(weights), "--detector", "none", "--no-maps", str(folder), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"handpose predict: error: {out / 'im3_overlay.png'}: the disk is "
                                                   "full"), err
    assert "stopped there, after 3 images of 6" in lines[0]
    assert not any(n.startswith((".im4", ".im5")) for n in tried)  # nothing more was tried
    done = [f"im{i}.png" for i in range(3)]
    images = json.loads((out / "coco_images.json").read_text())["images"]
    assert [Path(im["file_name"]).name for im in images] == done
    assert {r["image_id"] for r in json.loads((out / "coco_results.json").read_text())} <= {0, 1, 2}
    for i in range(3):
        assert (out / f"im{i}_overlay.png").is_file() and json.loads((out / f"im{i}.json").read_text())["hands"]
    assert not (out / "im3_overlay.png").exists() and not list(out.glob(".*.tmp-*"))
    assert not (out / "im3.json").exists()  # the image stopped at leaves no json without its overlay


def _one_photo_predicted(tmp_path: Path, out: Path) -> list[str]:
    """A tiny random model's predict of one photo into ``out`` (done once): its command line, to run again."""
    torch.manual_seed(5)
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), cv2.resize(sample_crops(64, 1, seed=9)[0], (80, 60)))
    argv = ["predict", "--model", str(weights), "--detector", "none", "--no-maps", str(image), "--out", str(out)]
    assert main(argv) == 0
    return argv


def _full_at_overlays(real_write: Callable[[Path, bytes], int]) -> Callable[[Path, bytes], int]:
    """``Path.write_bytes`` on a disk that is full when an overlay's temporary file is written."""
    def write_bytes(self: Path, data: bytes) -> int:
        if "_overlay.tmp-" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    return write_bytes


@pytest.mark.slow
def test_an_image_cut_short_leaves_none_of_its_files_of_two_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A re-run that wrote an image's new json, then could not write its overlay, left the new json beside the
    earlier run's overlay: one said what the other did not show."""
    out = tmp_path / "out"
    argv = _one_photo_predicted(tmp_path, out)
    assert (out / "photo.json").is_file() and (out / "photo_overlay.png").is_file()
    monkeypatch.setattr(Path, "write_bytes", _full_at_overlays(Path.write_bytes))
    assert main(argv + ["--box", "10,10,40,30"]) == 2
    assert "the disk is full" in capsys.readouterr().err
    assert not (out / "photo.json").exists() and not (out / "photo_overlay.png").exists()


@pytest.mark.slow
def test_a_file_that_cannot_be_removed_does_not_hide_the_full_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The clean-up of an image cut short deletes its files; one that cannot be deleted (on Windows, an earlier
    overlay an image viewer holds open) replaced the full disk's error with its own PermissionError."""
    out = tmp_path / "out"
    argv = _one_photo_predicted(tmp_path, out)
    write_bytes, real_unlink = _full_at_overlays(Path.write_bytes), Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name == "photo_overlay.png":
            raise PermissionError(errno.EACCES, "The process cannot access the file: it is being used", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    monkeypatch.setattr(Path, "unlink", unlink)
    assert main(argv + ["--box", "10,10,40,30"]) == 2
    err = capsys.readouterr().err
    assert "the disk is full" in err and "being used" not in err, err
    assert not (out / "photo.json").exists()  # the files that could go went
