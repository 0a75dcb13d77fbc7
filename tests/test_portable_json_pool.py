"""The pool that reads many json files starts its processes by fork on Linux, by spawn on macOS and Windows; the
spawned pool runs for real here and gives what reading in one process gives."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from handpose.data.formats import json_io


def _pid_and_size(chunk: list[str]) -> tuple[int, list[str]]:
    """A task for the pool: which process ran it, and the chunk back (importable by a spawned worker)."""
    return os.getpid(), chunk


def test_linux_forks() -> None:
    assert json_io.pool_context().get_start_method() == ("fork" if sys.platform.startswith("linux") else "spawn")


@pytest.mark.slow
def test_macos_spawns_and_reads_the_same(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert json_io.pool_context().get_start_method() == "spawn"
    monkeypatch.setattr(json_io, "CHUNK", 3)
    monkeypatch.setattr(json_io, "POOL_MIN_FILES", 5)
    items = [f"file{i}.json" for i in range(7)]
    with caplog.at_level(logging.WARNING, logger=json_io.LOG.name):
        done = json_io.map_chunks(_pid_and_size, items, workers=2)
    assert not caplog.records  # no fallback to reading in this process
    assert [c for _, c in done] == [items[0:3], items[3:6], items[6:7]]
    assert os.getpid() not in {pid for pid, _ in done}  # read in the spawned processes
