"""A real process on a pseudo-terminal that is its controlling terminal, hung up part way: the system sends the
process SIGHUP and fails its later writes to the terminal with EIO, as when a terminal window or an SSH session
closes under a running command (POSIX only)."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable

from terminal_signals import from_a_terminal


def _take_terminal() -> None:
    """In the child: a session of its own, with the pseudo-terminal on its standard input as controlling terminal,
    and SIGINT and SIGHUP at their default actions whatever the test run inherited (``terminal_signals``)."""
    import fcntl
    import termios

    from_a_terminal()
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_and_hang_up(cmd: list[str], ready: Callable[[str], bool], env: dict[str, str],
                    timeout: float = 120.0) -> tuple[int, str]:
    """Run ``cmd`` on a new pseudo-terminal, close the terminal once ``ready(output so far)`` holds, and return the
    exit code and the output the terminal showed before the hang-up. Fails if ``cmd`` ends before it is ready."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=_take_terminal)
    os.close(slave)
    shown = b""
    try:
        deadline = time.monotonic() + timeout
        while not ready(shown.decode(errors="replace")):
            assert time.monotonic() < deadline, f"not ready after {timeout:.0f} s:\n{shown.decode(errors='replace')}"
            readable, _, _ = select.select([master], [], [], 0.5)
            if readable:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the process ended and the terminal has no writer left
                    chunk = b""
                assert chunk, f"ended before it was ready:\n{shown.decode(errors='replace')}"
                shown += chunk
    except BaseException:
        proc.kill()
        proc.wait()
        os.close(master)
        raise
    os.close(master)  # the hang-up: SIGHUP to the process, EIO for its writes to the terminal from now on
    try:
        return proc.wait(timeout=timeout), shown.decode(errors="replace")
    except subprocess.TimeoutExpired:  # it did not stop: ended here, not left running through the later tests
        proc.kill()
        proc.wait()
        raise
