"""Eval mode for a network that concurrent calls share, and the caller's training mode given back after the last.

:class:`~handpose.inference.backends.TorchBackend` runs the caller's own network (``Predictor.from_model``), which may
be in training mode (a validation pass during training), so each call switches it to eval mode and back. Done by each
call for itself, two calls from two threads undo each other: the second finds the network already in eval mode and
remembers that, the first puts training mode back while the second is still running (batch norm then normalises the
second's later layers by the batch's statistics and updates the running ones), and the second leaves the network in
eval mode for good. :class:`SharedEvalMode` counts the calls under way instead: the first one in switches to eval
mode and remembers the caller's mode, the last one out puts it back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SharedEvalMode:
    """``with shared(model):`` runs the block with ``model`` in eval mode, whatever other threads' blocks do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0  # calls inside the block now
        self._was_training = False  # the caller's mode, put back when the last call leaves

    @contextmanager
    def __call__(self, model: Any) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._was_training = bool(model.training)
                model.eval()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    model.train(self._was_training)

    def __getstate__(self) -> dict[str, Any]:
        """A pickled or deep-copied backend starts with no call under way (a lock does not pickle)."""
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()
