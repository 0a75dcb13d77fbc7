"""The ``--threads`` flag of the inference commands (``predict``, ``eval``): "auto" (the default: each network on the
cores other processes leave free, ``autotune.free_cores``) or a fixed number, for PyTorch and onnxruntime alike."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from handpose.autotune.free_cores import AUTO
from handpose.commands.arg_types import at_least_one


def parse_threads(text: str) -> int | str:
    """--threads: "auto" or a positive whole number (argparse reports what else was given)."""
    if text.strip().lower() == AUTO:
        return AUTO
    return at_least_one(text, "thread", also=f"'{AUTO}'")


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    """``--threads`` (default auto)."""
    parser.add_argument("--threads", type=parse_threads, default=AUTO, help="CPU threads of each network: auto "
                        "(default: the cores other processes leave free, measured every second as it runs) or a "
                        "number")


@contextlib.contextmanager
def command_threads(threads: int | str) -> Iterator[None]:
    """The command's --threads for every network it makes while it runs (``free_cores.set_process_default``; the
    earlier default comes back after, so a program that runs a command keeps its own); a number is PyTorch's
    thread count too."""
    from handpose.autotune import free_cores

    before = free_cores.process_default()
    free_cores.set_process_default(threads)
    if isinstance(threads, int):
        import torch

        torch.set_num_threads(threads)
    try:
        yield
    finally:
        free_cores.set_process_default(before)
