"""An --out folder moved or removed while ``handpose predict`` writes it: the run keeps its lock on the folder at the
path (made again if need be), and stops rather than write into a folder another run has made there since."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import cv2
import pytest
from dot_hands import dot_hand_keypoints, draw_dot_hands
from stub_predict import start_stub_predict, wait_for

from handpose.commands.predict_files import MANIFEST
from handpose.folder_lock import LOCK_NAME, RunFolderBusyError, RunLock


def test_a_lock_follows_its_folder_path_after_a_move(tmp_path: Path) -> None:
    out, moved = tmp_path / "out", tmp_path / "moved"
    out.mkdir()
    with RunLock(out) as lock:
        lock.follow()  # unchanged: still the path's lock
        out.rename(moved)
        lock.follow()  # nothing there: the folder is made again and locked
        assert out.is_dir()
        with pytest.raises(RunFolderBusyError):
            RunLock(out).acquire()
        with RunLock(moved):  # the moved folder's lock was let go
            pass
    with RunLock(out):  # released at the end
        pass


def test_a_lock_does_not_take_a_folder_another_run_made_at_its_path(tmp_path: Path) -> None:
    out, moved = tmp_path / "out", tmp_path / "moved"
    out.mkdir()
    with RunLock(out, "prediction folder") as lock:
        out.rename(moved)
        out.mkdir()
        with RunLock(out, "prediction folder"), pytest.raises(RunFolderBusyError) as caught:
            lock.follow()
        assert f"{out} was moved or removed while this process wrote it" in str(caught.value)
        assert f"(PID {os.getpid()}) is writing this prediction folder" in str(caught.value)
        lock.follow()  # the other run has ended: the folder at the path is this one's now
        with pytest.raises(RunFolderBusyError):
            RunLock(out).acquire()


def _photos(folder: Path, count: int) -> None:
    folder.mkdir()
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:04d}.png"), draw_dot_hands((320, 200), [dot_hand_keypoints((160, 100))]))


def _text(path: Path) -> str:
    """The text of ``path``; empty while it does not exist."""
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return ""


def _stopped_and_moved(tmp_path: Path) -> tuple[object, Path, Path]:
    """A real predict of 400 images, paused (SIGSTOP) once it has written a few, and its --out moved away."""
    _photos(tmp_path / "photos", 400)
    out, moved = tmp_path / "out", tmp_path / "moved"
    proc = start_stub_predict([str(tmp_path / "photos"), "--out", str(out), "--no-maps"])
    wait_for(proc, out / "0003_overlay.png")  # written after 0003.json: both are in the folder that is moved
    proc.send_signal(signal.SIGSTOP)
    out.rename(moved)
    return proc, out, moved


def test_predict_stops_rather_than_write_into_another_runs_folder(tmp_path: Path) -> None:
    proc, out, moved = _stopped_and_moved(tmp_path)
    try:
        out.mkdir()
        with RunLock(out, "prediction folder"):  # another predict's folder, made at the moved one's path
            proc.send_signal(signal.SIGCONT)
            _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 2, err
    assert "was moved or removed while this process wrote it" in err and f"(PID {os.getpid()})" in err
    # at most the image it was writing when paused (checked and claimed before the move) lands in the new folder,
    # with the manifest line that claims it where the pause fell between the check and that line
    landed = {p.name for p in out.iterdir()} - {LOCK_NAME, MANIFEST}
    claimed = set(_text(out / MANIFEST).split())
    stems = {name.removesuffix(".json").removesuffix("_overlay.png") for name in landed | claimed}
    assert len(stems) <= 1 and landed | claimed <= {f"{s}{end}" for s in stems for end in (".json", "_overlay.png")}, (
        landed, claimed)
    assert (moved / "0003.json").is_file() and (moved / "0003_overlay.png").is_file()


def test_predict_locks_the_folder_it_makes_again_after_a_move(tmp_path: Path) -> None:
    proc, out, moved = _stopped_and_moved(tmp_path)
    try:
        proc.send_signal(signal.SIGCONT)
        # the lock file is made before it is locked, and the PID written once it is: wait for the PID (a probe of
        # the file made but not yet locked would pass, and its shared lock could fail predict's own)
        wait_for(proc, lambda: _text(out / LOCK_NAME).strip() == str(proc.pid))
        with pytest.raises(RunFolderBusyError, match=f"PID {proc.pid}"):
            RunLock(out).check_free()
        text, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    done = {p.stem for p in moved.glob("[0-9]*.json")} | {p.stem for p in out.glob("[0-9]*.json")}
    # the image being written at the move can lose its temporary file with the folder: it is skipped and named
    assert len(done) == 400 or (len(done) == 399 and "skipped 1 of 400 images" in text)
    assert (out / "coco_results.json").is_file()
    RunLock(out).check_free()  # let go at the end


def test_what_predict_wrote_is_read_again_from_the_folder_it_follows_to(tmp_path: Path) -> None:
    from handpose.commands.predict_files import OutputFolder

    out, moved = tmp_path / "out", tmp_path / "moved"
    out.mkdir()
    with RunLock(out, "prediction folder", remove=True) as lock:
        folder = OutputFolder(out, lock)
        folder.claim([out / "photo.json"])  # written into the first folder
        (out / "photo.json").write_text("{}")
        out.rename(moved)
        out.mkdir()
        (out / "photo.json").write_text("the user's own")  # a folder of the user's now at the path
        with pytest.raises(ValueError, match="would replace a file predict did not write"):
            folder.check(out / "photo.json", tmp_path / "photo.png")
        assert lock.at_path() and folder.written == set()
    assert (out / "photo.json").read_text() == "the user's own"


def test_a_removable_lock_file_goes_from_its_folder_after_a_move(tmp_path: Path) -> None:
    """A predict's or render's lock file is deleted at the end from the folder it locked, moved or not: a folder moved
    away mid-run was left with an empty .handpose.lock."""
    out, moved, other = tmp_path / "out", tmp_path / "moved", tmp_path / "other"
    out.mkdir()
    with RunLock(out, remove=True) as lock:
        out.rename(moved)
        lock.follow()  # the folder made again at the path, locked: the moved one's file goes now
        assert not (moved / LOCK_NAME).exists() and (out / LOCK_NAME).is_file()
        out.rename(other)  # moved once more: the end of the run deletes the file where the folder is
    assert not (other / LOCK_NAME).exists() and not out.exists()
    (tmp_path / "kept").mkdir()
    with RunLock(tmp_path / "kept") as lock:  # a run folder's file stays
        (tmp_path / "kept").rename(tmp_path / "kept2")
    assert (tmp_path / "kept2" / LOCK_NAME).is_file()
