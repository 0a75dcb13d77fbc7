"""What every reader takes besides the path (:class:`ReadContext`) and what it returns (``Tagged`` samples)."""

from __future__ import annotations

from dataclasses import dataclass, field

from handpose.data.formats.json_io import ParsedJson
from handpose.data.sample import Sample
from handpose.data.skip_report import SkipReport

Tagged = list[tuple[Sample, str | None]]  # samples with their split tag: "train", "val" or None (hash split)


@dataclass
class ReadContext:
    """A reader's inputs besides the path: where to count skipped annotations, how many processes may read json,
    the json detection already parsed (None: read it), and the keypoint order of COCO files (None: CMU order,
    or the order the file's name declares)."""

    report: SkipReport = field(default_factory=SkipReport)
    workers: int = 1
    parsed: ParsedJson | None = None
    keypoint_order: str | None = None
