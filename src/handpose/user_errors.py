"""The errors that carry their own message to the user: what was wrong and where.

``handpose``'s command line prints one of these as one line (``cli._main``; the traceback with ``-v``), and parts that
run work elsewhere (the renderer's worker processes) pass them on as they are, where any other error is wrapped in
one that says which part failed. ``OSError`` covers FileNotFoundError, PermissionError and ``files.DiskFullError``.
"""

from __future__ import annotations

USER_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError, RuntimeError)
