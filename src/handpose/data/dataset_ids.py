"""Which datasets a model trained on, recorded in its weights without naming them: the digest of each dataset's
resolved path (a folder of several datasets, or of links to them, counts each one it holds). ``handpose eval``
compares them with the datasets it scores, and warns where a split that holds training hands (``--split all`` or
``train``) scores a dataset the model trained on. A path, not the data: the weights a user shares carry no folder
names, and a copy of the data elsewhere is not recognised."""

from __future__ import annotations

import hashlib
from pathlib import Path

DIGEST_CHARS = 16


def dataset_id(path: str | Path) -> str:
    """The digest of one dataset's resolved path (links followed)."""
    return hashlib.sha256(str(Path(path).resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]


def dataset_ids(data: str | Path) -> list[str]:
    """The digests of the datasets ``data`` holds (itself where it is one), as training reads them."""
    from handpose.data.formats.several import find_datasets

    found = find_datasets(data) or [Path(data)]
    return sorted({dataset_id(p) for p in found})
