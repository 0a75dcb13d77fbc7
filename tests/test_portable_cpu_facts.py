"""Where Linux's CPU facts are missing (macOS, Windows: no /proc/stat, /proc/cpuinfo, os.sched_getaffinity or
os.sysconf), the autotune code degrades to plain figures instead of failing; simulated by removing them here."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from handpose.autotune import choice, contention, free_cores
from handpose.data.formats import json_io


@pytest.fixture
def no_linux_cpu_facts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(contention, "STAT", tmp_path / "no" / "stat")
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.delattr(os, "sysconf", raising=False)
    monkeypatch.setattr(choice, "_cpuinfo", lambda: "")


def test_threads_and_contention_without_proc(no_linux_cpu_facts: None) -> None:
    assert free_cores.usable_cores() == frozenset(range(os.cpu_count() or 1))
    meter = contention.start_meter()
    assert meter() is None  # cannot tell: nothing is flagged as busy
    governor = free_cores.FreeCores(interval=0.0)
    assert governor.current() == governor.cores  # every core where the load cannot be measured
    assert json_io.default_workers() >= 1


def test_cpu_identity_without_cpuinfo(no_linux_cpu_facts: None) -> None:
    assert choice.cpu_identity() == (platform.processor() or platform.machine() or "unknown")
    assert choice.cpu_identity("") == choice.cpu_identity()
