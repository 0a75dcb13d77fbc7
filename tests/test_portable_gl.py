"""Off Linux there is no EGL for moderngl: making the context fails (the ``egl`` backend module is missing from
glcontext's macOS and Windows wheels, or the backend is refused), and ``--renderer auto`` falls back to the capsule
renderer with one warning that says the GL renderer is Linux-only. Simulated here on Linux."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handpose.synth import gl_context, gl_render, write_dataset


@pytest.fixture
def fresh_gl() -> Iterator[None]:
    """The process's GL caches reset before and after (the failure is made by the test)."""
    caches = (gl_context._context_or_reason, gl_context._warn_once, gl_render.get_renderer)
    for c in caches:
        c.cache_clear()
    yield
    for c in caches:
        c.cache_clear()


def _no_egl_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import glcontext

    monkeypatch.setitem(sys.modules, "glcontext.egl", None)  # as in glcontext's macOS and Windows wheels
    monkeypatch.delattr(glcontext, "egl", raising=False)  # imported by an earlier context of this process


def _backend_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import moderngl

    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("Cannot find supported backend: 'egl'")

    monkeypatch.setattr(moderngl, "create_standalone_context", refuse)


@pytest.mark.parametrize("fail", [_no_egl_module, _backend_refused])
@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_off_linux_auto_falls_back_with_one_warning(fail: Callable[[pytest.MonkeyPatch], None], platform: str,
                                                   fresh_gl: None,
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(gl_context.GL_ENV, raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    fail(monkeypatch)
    with caplog.at_level(logging.WARNING):
        assert gl_context.resolve_renderer("auto") == "fallback"
        assert gl_context.resolve_renderer("auto") == "fallback"
        write_dataset(tmp_path, 2, seed=1, size=64)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "fallback capsule renderer" in warnings[0] and "Linux only" in warnings[0]
    assert "apt" not in warnings[0] and "Debian" not in warnings[0]
    with pytest.raises(gl_context.GLUnavailableError, match="Linux only") as refused:
        gl_context.resolve_renderer("gl")
    assert "Debian" not in str(refused.value)
