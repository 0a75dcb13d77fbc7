"""`Hands`: the hands found in one image (a list of ``Prediction``) with the image, to draw, save and export.

``Predictor.predict(image)`` without a box returns one; it is a plain ``list`` (empty when no hand was found), so
``len``, indexing and iteration work as usual. :meth:`Hands.plot` draws every hand with its side and score,
:meth:`Hands.save` writes that picture (or, for ``.json``, the hands), :meth:`Hands.to_coco` gives COCO keypoint
results (``image_id``, ``category_id``, 63 keypoint numbers ``x, y, score``, ``score``, ``bbox``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

import numpy as np

from handpose.files import write_json

if TYPE_CHECKING:
    from handpose.inference.predictor import Prediction

HAND_CATEGORY_ID = 1  # the one category of the COCO files handpose reads and writes


class Hands(list["Prediction"]):
    """The hands of one image, best first; ``image`` is the BGR uint8 (H, W, 3) they were found in."""

    def __init__(self, hands: Iterable[Prediction] = (), image: np.ndarray | None = None) -> None:
        super().__init__(hands)
        self.image = image

    @overload
    def __getitem__(self, index: SupportsIndex) -> Prediction: ...

    @overload
    def __getitem__(self, index: slice) -> Hands: ...

    # a slice, a copy or a sum keeps the image, so it can still be drawn (sorted() gives a plain list: Hands(it, img))
    def __getitem__(self, index: SupportsIndex | slice) -> Prediction | Hands:
        if isinstance(index, slice):
            return Hands(super().__getitem__(index), self.image)
        return super().__getitem__(index)

    def copy(self) -> Hands:
        return Hands(self, self.image)

    def __add__(self, other: Iterable[Prediction]) -> Hands:  # type: ignore[override]
        return Hands([*self, *other], self.image)

    def plot(self, threshold: float = 0.1) -> np.ndarray:
        """The image (BGR uint8 (H, W, 3), a copy) with every hand drawn; says so on the picture when none."""
        from handpose.viz import draw_hands

        if self.image is None:
            raise ValueError("these results hold no image to draw on: make them with Hands(hands, image_bgr), or draw "
                             "one hand with hand.plot(image)")
        return draw_hands(self.image, self, threshold)

    def save(self, path: str | Path, threshold: float = 0.1) -> Path:
        """Write the drawing (``.png``, ``.jpg``, ...) or, for a ``.json`` path, the hands as JSON; returns the path."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            return write_json(path, self.to_dict())
        from handpose.viz import save_bgr

        return save_bgr(path, self.plot(threshold))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the image size and every hand's :meth:`Prediction.to_dict`."""
        size = {} if self.image is None else {"width": int(self.image.shape[1]), "height": int(self.image.shape[0])}
        return {**size, "hands": [h.to_dict() for h in self]}

    def to_coco(self, image_id: int | str) -> list[dict[str, Any]]:
        """COCO keypoint results of these hands (see :func:`coco_result`)."""
        return [coco_result(h, image_id) for h in self]


def coco_result(hand: Prediction, image_id: int | str) -> dict[str, Any]:
    """One COCO keypoint result: ``keypoints`` = 21 x (x, y, keypoint score) flattened (63 numbers),
    ``score`` = :attr:`Prediction.confidence`, ``bbox`` = the hand box ``[x, y, w, h]``."""
    xy = np.asarray(hand.keypoints, np.float64).reshape(-1, 2)  # (21, 2)
    sc = np.asarray(hand.scores, np.float64).reshape(-1, 1)  # (21, 1)
    triples = np.concatenate([xy, sc], axis=1).reshape(-1)  # (63,)
    return {
        "image_id": image_id if isinstance(image_id, str) else int(image_id),
        "category_id": HAND_CATEGORY_ID,
        "keypoints": [round(float(v), 3) for v in triples],
        "score": round(hand.confidence, 5),
        "bbox": [round(float(v), 2) for v in hand.box],
        "is_left": bool(hand.is_left),
    }
