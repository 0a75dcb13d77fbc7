"""An interrupt (Ctrl-C, or SIGTERM raised as one by ``handpose synth``) in the middle of a render in workers ends
every worker at once: ``_stop`` read the pool's worker list after ``shutdown``, which empties it, so it ended none,
and the workers went on through the tasks already handed to them while the command waited for them to exit. Real
spawned workers whose tasks are long sleeps."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from handpose.synth.render_pool import render_in_workers

TASK_S = 120.0  # a task far longer than the test allows its workers to outlive the interrupt
GRACE_S = 30.0  # time for terminated workers to end on a busy machine


def test_an_interrupt_ends_the_workers_at_once() -> None:
    before = set(multiprocessing.active_children())
    rendering = render_in_workers(time.sleep, [0.0, TASK_S, TASK_S], 2, "out/synth1")
    started = time.monotonic()
    try:
        assert next(rendering) is None  # the short task is done; the long ones run in both workers
        workers = [p for p in multiprocessing.active_children() if p not in before]
        assert len(workers) == 2
        with pytest.raises(KeyboardInterrupt):
            rendering.throw(KeyboardInterrupt())  # as Ctrl-C raises it while the render waits
        deadline = time.monotonic() + GRACE_S
        while any(p.is_alive() for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = [p.pid for p in workers if p.is_alive()]
        assert not alive, f"workers {alive} still run {time.monotonic() - started:.0f} s after the interrupt"
    finally:
        for p in set(multiprocessing.active_children()) - before:  # ended here, not left to the end of the session
            p.kill()
            p.join(10)
