"""Training: the loop (``trainer``), its set-up, data stream, losses, schedule, checkpoints, signals, reporting and
distributed helpers. ``handpose.training.train(cfg)`` runs a ``TrainConfig``."""

from handpose.training.trainer import NonFiniteLossError, train

__all__ = ["NonFiniteLossError", "train"]
