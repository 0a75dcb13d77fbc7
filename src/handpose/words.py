"""Counts in the messages handpose prints: ``1 hand``, ``2 hands``, never ``1 hands``."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` and ``noun``, plural unless the number is 1 (``plural``, or ``noun`` + "s")."""
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"
