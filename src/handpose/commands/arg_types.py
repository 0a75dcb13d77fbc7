"""argparse types shared by the commands: a whole number of at least 1, with the other words a flag also takes
named in its messages (``--threads``: "auto"), and a score from 0 to 1; argparse prints their errors as
``argument --flag: ...``."""

from __future__ import annotations

import argparse


def at_least_one(text: str, unit: str = "", also: str = "") -> int:
    """``text`` as a whole number of at least 1; ArgumentTypeError otherwise, naming ``also`` (e.g. "'auto'"), the
    other words the flag takes, and the ``unit`` counted (e.g. "thread")."""
    either = f"{also} or " if also else ""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {either}a whole number{' of ' + unit + 's' if unit else ''}, "
                                         f"got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected {either}at least 1{' ' + unit if unit else ''}, got {n}")
    return n


def unit_interval(text: str) -> float:
    """``text`` as a number from 0 to 1 (a score or a share); ArgumentTypeError otherwise (nan and inf too)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:  # False for nan
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return value
