"""Output-folder safety: foreign folders need --overwrite, a manifest marks handpose's own, bad flags get one line."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from handpose.cli import main
from handpose.synth import write_dataset
from handpose.synth.output_folder import MANIFEST_NAME, check_request


def test_a_foreign_folder_is_refused_without_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "synth1"
    target.mkdir()
    (target / "00000007.jpg").write_bytes(b"someone else's photo")
    args = ["synth", "--out", str(tmp_path), "--count", "2", "--size", "64"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0] and "00000007.jpg" in err[0]
    assert sorted(os.listdir(target)) == ["00000007.jpg"]  # nothing written
    assert main(args + ["--overwrite"]) == 0
    names = sorted(os.listdir(target))
    assert "00000007.jpg" in names and "00000000.json" in names  # theirs kept (not a stale sample of ours)
    assert MANIFEST_NAME not in names  # still not handpose's folder: the next render asks again
    assert main(args) == 2
    capsys.readouterr()


@pytest.mark.parametrize("scenes", [False, True])
def test_the_refusal_names_the_users_files_not_an_earlier_renders(scenes: bool, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """After an --overwrite render beside a user's file, a render without --overwrite is refused: the refusal named
    the first three names in the folder, the render's own samples, as files synth did not write."""
    target = tmp_path / ("scenes" if scenes else "synth1")
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    args = ["synth", "--out", str(tmp_path), "--count", "3"]
    args += ["--scenes", "--scene-size", "64x48"] if scenes else ["--size", "64", "--renderer", "fallback"]
    assert main(args + ["--overwrite"]) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did not write (notes.txt);" in err[0], err


def test_samples_of_a_larger_render_left_in_a_users_folder_are_named(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """--overwrite into a user's folder removes nothing, so an earlier, larger render's samples there join the new
    one as a dataset: said, not left silently."""
    target = tmp_path / "synth1"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    write_dataset(tmp_path, 5, seed=0, size=64, renderer="fallback", overwrite=True)
    with caplog.at_level(logging.WARNING):
        write_dataset(tmp_path, 3, seed=1, size=64, renderer="fallback", overwrite=True)
    assert "holds 2 samples numbered 3 and above from an earlier, larger render" in caplog.text
    assert (target / "00000004.jpg").is_file() and (target / "notes.txt").read_text() == "mine"  # deleted nothing


def test_overwrite_never_writes_over_a_users_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--overwrite writes beside a user's files; one of a name the render writes is refused, not replaced."""
    target = tmp_path / "synth1"
    target.mkdir()
    (target / "00000001.jpg").write_bytes(b"someone else's photo")
    (target / "notes.txt").write_text("mine")
    args = ["synth", "--out", str(tmp_path), "--count", "3", "--size", "64", "--overwrite"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "00000001.jpg" in err[0] and "never over them" in err[0]
    assert (target / "00000001.jpg").read_bytes() == b"someone else's photo" and len(os.listdir(target)) == 2
    scenes = tmp_path / "scenes"
    (scenes / "images").mkdir(parents=True)
    (scenes / "hands_coco.json").write_text("{}")  # the user's own json of that name
    assert main(["synth", "--scenes", "--out", str(tmp_path), "--count", "1", "--overwrite"]) == 2
    assert "hands_coco.json" in capsys.readouterr().err and (scenes / "hands_coco.json").read_text() == "{}"


def test_manifest_records_the_render_and_allows_rerendering(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, 3, seed=4, size=64, renderer="fallback")
    info = json.loads((folder / MANIFEST_NAME).read_text())
    assert info["seed"] == 4 and info["count"] == 3 and info["size"] == 64 and info["complete"]
    assert info["renderer"] == "fallback" and isinstance(info["renderer_version"], str)
    write_dataset(tmp_path, 2, seed=4, size=64, renderer="fallback")  # its own folder: no --overwrite needed
    assert not (folder / "00000002.jpg").exists()  # the stale third sample is gone


def test_workers_are_capped_at_the_cpu_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cpus = os.cpu_count() or 1
    with caplog.at_level(logging.WARNING):
        assert check_request(10, (64, 64), cpus + 7, 0, tmp_path) == cpus
    assert any(f"--workers {cpus + 7}" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("flag", "value"), [("--size", "8"), ("--size", "100000"), ("--count", "-1"),
                                             ("--count", "1000000000"), ("--workers", "0"), ("--seed", "-3")])
def test_bad_flags_get_one_line_naming_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str,
                                                value: str) -> None:
    args = {"--out": str(tmp_path), "--count": "2", "--size": "64"}
    args[flag] = value
    assert main(["synth"] + [x for kv in args.items() for x in kv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "synth1").exists()


def test_memory_that_would_not_fit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from handpose.synth import output_folder

    monkeypatch.setattr(output_folder, "_available_memory", lambda: 64 * 2**20)  # 64 MiB free
    with pytest.raises(ValueError, match="--workers 1 at --size 4096 needs about .* memory"):  # as the flag reads
        check_request(10, (4096, 4096), 1, 0, tmp_path)
    with pytest.raises(ValueError, match="--workers 1 at --scene-size 4096x2048 needs about .* memory"):
        check_request(10, (4096, 2048), 1, 0, tmp_path, size_flag="--scene-size")


def test_a_render_written_with_overwrite_can_be_written_again(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The files an earlier --overwrite render wrote beside a user's are handpose's own (their marks say so): the
    same command again replaces them, where it used to call them foreign and refuse, for crops and scenes alike."""
    for args, folder in ((["--count", "2", "--size", "64"], "synth1"), (["--scenes", "--count", "1"], "scenes")):
        target = tmp_path / folder
        target.mkdir()
        (target / "notes.txt").write_text("mine")
        command = ["synth", "--out", str(tmp_path), "--overwrite", *args]
        assert main(command) == 0
        assert main(command) == 0, capsys.readouterr().err
        assert (target / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(("flags", "message"), [
    (["--scene-size", "320x240"], "--scene-size applies to --scenes"),
    (["--scenes", "--size", "64"], "--size applies to one-hand images"),
])
def test_a_size_flag_of_the_other_kind_of_render_is_refused(flags: list[str], message: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--out", str(tmp_path), "--count", "1", *flags]) == 2  # it was accepted and ignored
    assert message in capsys.readouterr().err and not any(tmp_path.iterdir())


def test_stale_samples_removed_are_only_those_synth_wrote(tmp_path: Path) -> None:
    """A render of fewer samples removes an earlier render's extra samples, never a user's files of sample names
    placed in the folder (they went too, as 'left by an earlier, larger render')."""
    folder = write_dataset(tmp_path, 3, seed=4, size=64, renderer="fallback")
    (folder / "00000007.json").write_text('{"mine": 1}')
    (folder / "00000007.jpg").write_bytes(b"mine")
    write_dataset(tmp_path, 1, seed=4, size=64, renderer="fallback")
    names = sorted(os.listdir(folder))
    assert "00000002.json" not in names and "00000001.jpg" not in names  # the earlier render's extra samples
    assert (folder / "00000007.json").read_text() == '{"mine": 1}' and (folder / "00000007.jpg").read_bytes() == b"mine"


def test_stale_scene_images_removed_are_only_those_synth_wrote(tmp_path: Path) -> None:
    args = ["synth", "--scenes", "--out", str(tmp_path), "--scene-size", "160x120"]
    assert main([*args, "--count", "2"]) == 0
    images = tmp_path / "scenes" / "images"
    (images / "00000005.jpg").write_bytes(b"mine")
    assert main([*args, "--count", "1"]) == 0
    assert sorted(p.name for p in images.iterdir()) == ["00000000.jpg", "00000005.jpg"]
