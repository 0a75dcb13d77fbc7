"""Training: the loop (``trainer``), its set-up, data stream, losses, schedule, checkpoints, signals, reporting and
distributed helpers. ``handpose.training.train(cfg)`` runs a ``TrainConfig``.

``train`` and ``NonFiniteLossError`` are loaded on first use, so that the light modules (``recipes``, for the
commands' flags) can be imported without torch: ``handpose train --help`` needs no network library."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a type checker sees of the names loaded on first use
    from handpose.training.trainer import NonFiniteLossError, train

__all__ = ["NonFiniteLossError", "train"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from handpose.training import trainer

    return getattr(trainer, name)
