"""A rendering worker that raises an error of a kind the command line has no one-line message for (the GL stack's
``moderngl.Error``, a bug) ended `handpose synth` in a traceback that named neither the render nor how far it got.
Real spawned workers run a task that raises such an error (a spawned worker cannot be monkeypatched)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from failing_render import fail_on_third, full_disk_or_late_file, refuse_fourth

from handpose.synth.render_pool import RenderWorkerError, render_in_workers


def test_an_unexpected_error_in_a_worker_names_the_render_and_the_error() -> None:
    with pytest.raises(RenderWorkerError) as raised:
        list(render_in_workers(fail_on_third, list(range(6)), 2, "out/synth1"))
    message = str(raised.value)
    assert message.startswith("out/synth1: a rendering worker failed after ")
    assert "failing_render.DriverError: GL_OUT_OF_MEMORY while drawing the hand" in message
    assert "the render is incomplete" in message
    assert isinstance(raised.value, RuntimeError)  # the command line prints it as one line


def test_an_error_with_its_own_message_is_passed_on_as_it_is() -> None:
    with pytest.raises(ValueError, match="task 3 is not a render task"):
        list(render_in_workers(refuse_fourth, list(range(6)), 2, "out/synth1"))



@pytest.mark.slow
def test_the_other_workers_stop_when_one_fails(tmp_path: Path) -> None:
    """A worker's full disk stops the render; the others used to render on to the end of their parts, writing into
    the folder after the command had reported the error (the pool's shutdown forgets its processes, so none was
    terminated)."""
    with pytest.raises(OSError, match="No space left"):
        list(render_in_workers(full_disk_or_late_file, [(0, str(tmp_path)), (1, str(tmp_path))], 2, str(tmp_path)))
    time.sleep(4)  # past the moment the other worker would write
    assert list(tmp_path.iterdir()) == []
