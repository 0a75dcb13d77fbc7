"""The headless OpenGL context (moderngl on EGL; Mesa's llvmpipe renders on the CPU) and the fallback decision.

``gl_context()`` makes one context per process, or returns None after logging ONE warning (no traceback) when
none can be made: moderngl missing, no EGL library, no usable driver, or not Linux (macOS and Windows have no EGL
for moderngl: its ``egl`` backend fails to load there, a failure caught like any other). Setting
``HANDPOSE_SYNTH_GL=0`` forces that outcome (tests; machines whose GL is broken in a way that crashes instead of
failing). ``resolve_renderer`` turns the user's choice (auto, gl, fallback) into the renderer that will run.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any

LOG = logging.getLogger(__name__)

GL_ENV = "HANDPOSE_SYNTH_GL"
RENDERERS: tuple[str, ...] = ("auto", "gl", "fallback")


class GLUnavailableError(RuntimeError):
    """No OpenGL context could be made; the message says why and what to install."""


def _create_context() -> Any:
    """A standalone moderngl context on EGL (raises on any failure)."""
    if os.environ.get(GL_ENV, "").strip().lower() in ("0", "off", "no", "false"):
        raise GLUnavailableError(f"disabled by {GL_ENV}={os.environ[GL_ENV]}")
    import moderngl

    ctx = moderngl.create_standalone_context(backend="egl", require=330)
    return ctx


@functools.lru_cache(maxsize=1)
def _context_or_reason() -> tuple[Any, str]:
    try:
        return _create_context(), ""
    except Exception as exc:  # noqa: BLE001 - any failure of the driver stack means "no GL here"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"{type(exc).__name__}: {reason}"


def gl_context(warn: bool = True) -> Any:
    """The process's GL context, or None (after one warning per process when ``warn``)."""
    ctx, reason = _context_or_reason()
    if ctx is None and warn:
        _warn_once(reason)
    return ctx


def gl_driver() -> str | None:
    """The OpenGL driver that renders here, e.g. ``llvmpipe (LLVM 15.0.6, 256 bits); 4.5 (Core Profile) Mesa
    22.3.6``, or None without a context. Another driver (or Mesa version) draws other pixels from the same seed, so
    renders record it."""
    ctx = gl_context(warn=False)
    if ctx is None:
        return None
    return f"{ctx.info['GL_RENDERER']}; {ctx.info['GL_VERSION']}"


def gl_install_hint() -> str:
    """What a user can do to get the GL renderer on this platform: Mesa's EGL packages on Linux; elsewhere nothing
    to install, since handpose makes its headless EGL context on Linux only."""
    if sys.platform.startswith("linux"):
        return "install moderngl and Mesa's EGL (Debian/Ubuntu: libegl1 libgl1-mesa-dri)"
    return "the GL renderer needs a headless EGL context, which handpose makes on Linux only"


@functools.lru_cache(maxsize=1)
def _warn_once(reason: str) -> None:
    LOG.warning("no OpenGL context (%s); rendering hands with the fallback capsule renderer. For the GL renderer: %s",
                reason, gl_install_hint())


def gl_failure_reason() -> str:
    """Why no context could be made ('' when one was)."""
    return _context_or_reason()[1]


def resolve_renderer(choice: str) -> str:
    """'gl' or 'fallback' for a user choice of 'auto', 'gl' or 'fallback'.

    'gl' raises GLUnavailableError (a one-line reason) where no context can be made; 'auto' falls back with one
    warning.
    """
    if choice not in RENDERERS:
        raise ValueError(f"--renderer must be one of {', '.join(RENDERERS)}, got {choice!r}")
    if choice == "fallback":
        return "fallback"
    if gl_context(warn=choice == "auto") is not None:
        return "gl"
    if choice == "gl":
        raise GLUnavailableError(f"--renderer gl: no OpenGL context ({gl_failure_reason()}); {gl_install_hint()}, "
                                 "or use --renderer fallback")
    return "fallback"
