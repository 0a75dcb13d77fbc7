"""``train`` without ``--data`` renders its hands into the cache under a temporary folder: a render that fails part
way (a full disk) or was killed no longer leaves that folder behind. It held the space a run after space was freed
needed again, so that run filled the disk once more and left one more."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from handpose.files import DiskFullError
from handpose.training.data import embedded_dataset


@pytest.mark.slow
def test_a_render_stopped_by_a_full_disk_leaves_no_partial_dataset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = Path.write_bytes
    written: list[str] = []

    def write_bytes(self: Path, data: bytes) -> int:  # synth's sample files: the disk is full after five
        if len(written) >= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(self.name)
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    with pytest.raises(DiskFullError, match="the disk is full"):
        embedded_dataset(seed=3, count=8, size=64, root=tmp_path)
    monkeypatch.undo()
    assert len(written) == 5 and list((tmp_path / "synth").iterdir()) == []


def test_a_killed_renders_folder_is_removed_by_the_next_render(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # its process id now names no process
    done = embedded_dataset(seed=3, count=2, size=64, root=tmp_path)
    killed = done.with_name(f".{done.name}.tmp-{proc.pid}")
    killed.mkdir()
    (killed / "00000000.jpg").write_bytes(b"part of a render")
    running = done.with_name(f".{done.name}.tmp-1")  # process 1 is alive: its render goes on
    running.mkdir()
    done.rename(done.with_name("earlier"))
    assert embedded_dataset(seed=3, count=2, size=64, root=tmp_path) == done
    assert not killed.exists() and running.is_dir()


def test_a_render_too_large_for_the_disk_names_trains_own_flags(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """train renders its hands with --synth-count and --synth-size; the space refusal named synth's --count and
    --size, flags train does not have."""
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**9, 10**9 - 2**20, 2**20))
    with pytest.raises(ValueError, match=r"^--synth-count 500 at --synth-size 128 needs about"):
        embedded_dataset(seed=3, count=500, size=128, root=tmp_path)


def test_a_render_folder_whose_lock_is_held_is_kept_though_its_pid_is_not_here(tmp_path: Path) -> None:
    """On a cache shared between machines, a temporary folder's PID can be another machine's live render: this
    machine sees no such process, but the render's lock is held, so the folder stays."""
    from handpose.folder_lock import RunLock

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # its process id now names no process here
    done = embedded_dataset(seed=3, count=2, size=64, root=tmp_path)
    elsewhere = done.with_name(f".{done.name}.tmp-{proc.pid}")
    (elsewhere / "synth1").mkdir(parents=True)
    done.rename(done.with_name("earlier"))
    with RunLock(elsewhere / "synth1", "render"):  # the other machine's render, writing
        assert embedded_dataset(seed=3, count=2, size=64, root=tmp_path) == done
        assert (elsewhere / "synth1").is_dir()
