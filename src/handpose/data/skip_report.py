"""`SkipReport`: counts of skipped samples per reason, with the first few paths, logged as one summary."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)

# Reasons (stable strings: tests and logs use them).
BAD_JSON = "unreadable or malformed json"
MISSING_JSON = "missing json"
BAD_ANNOTATION = "malformed annotation"
WRONG_POINT_COUNT = "wrong number of points"
NON_FINITE = "NaN or infinite coordinates"
NO_VISIBLE = "no visible keypoint"
MISSING_IMAGE = "missing image"
CORRUPT_IMAGE = "corrupt or truncated image"
UNSUPPORTED_IMAGE = "image format not supported"
TOO_LARGE = "image too large (pixel limit)"
BAD_BOX = "box not positive, outside the image or far larger than it"
INVALID_HAND = "hand marked invalid in the dataset"
NOT_A_HAND = "annotation of another category than hand"
WRONG_SIZE = "image size differs from the json's"

AS_THE_DATASET_SAYS = frozenset({INVALID_HAND, NOT_A_HAND})  # skips the dataset asks for: nothing is wrong with it


@dataclass
class SkipReport:
    """Skipped samples: ``counts[reason]`` and up to ``keep`` example ``paths[reason]`` (with a detail each)."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    keep: int = 3

    def add(self, reason: str, path: object, detail: str = "") -> None:
        """Count one skipped sample."""
        self.counts[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < self.keep:
            ex.append(f"{path}" + (f" ({detail})" if detail else ""))

    def merge(self, other: SkipReport) -> None:
        """Add another report's counts and examples to this one's."""
        self.counts.update(other.counts)
        for reason, paths in other.examples.items():
            mine = self.examples.setdefault(reason, [])
            mine += paths[: max(0, self.keep - len(mine))]

    @property
    def total(self) -> int:
        """How many samples were skipped, all reasons together."""
        return int(sum(self.counts.values()))

    def __bool__(self) -> bool:
        return self.total > 0

    def summary(self, what: str = "samples") -> str:
        """One multi-line message: total, then per reason the count and the first paths."""
        if not self.total:
            return f"skipped 0 {what}"
        lines = [f"skipped {self.total} {what}:"]
        for reason, n in self.counts.most_common():
            lines.append(f"  {n} x {reason}, e.g. " + "; ".join(self.examples.get(reason, [])))
        return "\n".join(lines)

    def log(self, what: str = "samples", logger: logging.Logger = LOG) -> None:
        """Log the summary once: a warning, or an info line where every skip is one the dataset itself asks for (a
        hand it marks invalid, an annotation of another category: on COCO-WholeBody most people's hands are marked
        invalid, and a warning of hundreds of thousands said nothing was wrong); nothing when nothing was skipped."""
        if self.total:
            level = logging.INFO if set(self.counts) <= AS_THE_DATASET_SAYS else logging.WARNING
            logger.log(level, "%s", self.summary(what))
