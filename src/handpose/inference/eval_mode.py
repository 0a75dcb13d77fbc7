"""Eval mode for a network that concurrent calls share, and the caller's training mode given back after the last.

:class:`~handpose.inference.backends.TorchBackend` runs the caller's own network (``Predictor.from_model``), which may
be in training mode (a validation pass during training), so each call switches it to eval mode and back. Done by each
call for itself, two calls from two threads undo each other: the second finds the network already in eval mode and
remembers that, the first puts training mode back while the second is still running (batch norm then normalises the
second's later layers by the batch's statistics and updates the running ones), and the second leaves the network in
eval mode for good. :class:`SharedEvalMode` counts the calls under way instead: the first one in switches to eval
mode and remembers the caller's mode, the last one out puts it back. There is one count per network
(:func:`eval_mode`), not per backend: two predictors made on one network (``Predictor.from_model`` called twice)
switch the same network, and with a count each they undid each other as two threads did.

The mode given back is each layer's own, not the network's top flag: a caller fine-tuning with some layers held in
eval mode (frozen batch norm) gets them back in eval mode, where ``model.train(True)`` would have set every layer
training (their running statistics then moved with each later training batch).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any


class SharedEvalMode:
    """``with shared(model):`` runs the block with ``model`` in eval mode, whatever other threads' blocks do; one
    per network (:func:`eval_mode`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0  # calls inside the block now
        self._modes: list[tuple[Any, bool]] = []  # (layer, its training flag) as the caller left them

    @contextmanager
    def __call__(self, model: Any) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._modes = _modes(model)
                model.eval()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    model.train(self._modes[0][1])  # the network's own flag, through its train() as before
                    for layer, training in self._modes[1:]:
                        if layer.training != training:  # a layer the caller held in another mode
                            layer.training = training  # that layer alone (train() would set its children too)
                    self._modes = []


def _modes(model: Any) -> list[tuple[Any, bool]]:
    """(layer, training flag) of ``model`` (first) and each of its layers (``modules()``), or of ``model`` alone."""
    layers = model.modules() if callable(getattr(model, "modules", None)) else []
    return [(model, bool(model.training))] + [(layer, bool(layer.training)) for layer in layers if layer is not model]


_COUNTS: weakref.WeakKeyDictionary[Any, SharedEvalMode] = weakref.WeakKeyDictionary()  # network -> its count
_COUNTS_LOCK = threading.Lock()


def eval_mode(model: Any) -> AbstractContextManager[None]:
    """``with eval_mode(model):`` runs the block with ``model`` in eval mode, sharing the switch with every other
    thread's block on the same network (whichever backend or predictor runs it)."""
    with _COUNTS_LOCK:
        try:
            shared = _COUNTS.get(model)
            if shared is None:
                shared = _COUNTS[model] = SharedEvalMode()
        except TypeError:  # a network that takes no weak reference: a count of its own for this call
            shared = SharedEvalMode()
    return shared(model)
