"""Render tasks for the worker-pool tests, importable by a spawned worker: one that fails as a graphics driver's
error does (an exception type the command line has no one-line message for)."""

from __future__ import annotations


class DriverError(Exception):
    """Stands for moderngl.Error: a plain Exception subclass raised by the GL stack."""


def fail_on_third(task: int) -> int:
    """``task`` back, except task 2, which raises DriverError."""
    if task == 2:
        raise DriverError("GL_OUT_OF_MEMORY while drawing the hand")
    return task


def refuse_fourth(task: int) -> int:
    """``task`` back, except task 3, which raises a ValueError (an error with its own message for the user)."""
    if task == 3:
        raise ValueError("task 3 is not a render task")
    return task


def full_disk_or_late_file(task: tuple[int, str]) -> int:
    """Task 0 fails as a full disk does, half a second in; any other writes ``late`` into the folder ``task[1]``
    three seconds in (a worker still rendering after the render stopped)."""
    import errno
    import time
    from pathlib import Path

    index, folder = task
    if index == 0:
        time.sleep(0.5)
        raise OSError(errno.ENOSPC, "No space left on device")
    time.sleep(3)
    (Path(folder) / f"late-{index}").write_text("written after the render stopped")
    return index
