"""The scene render's COCO json is spooled as the scenes come: earlier chunks' labels are not held in memory, and the
file is the one a json built whole would be, in scene order whatever order the chunks finish in."""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from handpose.synth import scenes
from handpose.synth.scenes_json import SceneLabels, categories


class _Label(dict):  # type: ignore[type-arg]
    """An annotation dict that can be followed by a weak reference (a plain dict cannot)."""

    __slots__ = ("__weakref__",)


def test_labels_of_earlier_chunks_are_not_held_while_later_scenes_render(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[weakref.ref[_Label]] = []  # every annotation rendered, alive while something holds it
    held: list[int] = []  # how many are alive as each scene starts rendering

    def render(seed: int, index: int, width: int, height: int, *rest: float) -> tuple[np.ndarray, list[dict], int]:
        held.append(sum(r() is not None for r in rendered))
        label = _Label(bbox=[1.0, 1.0, 4.0, 4.0], keypoints=[2.0, 2.0, 2] * 21, num_keypoints=21, is_left=index % 2,
                       category_id=1)
        rendered.append(weakref.ref(label))
        return np.zeros((height, width, 3), np.uint8), [label], 90

    monkeypatch.setattr(scenes, "_CHUNK", 2)
    monkeypatch.setattr(scenes, "render_scene_image", render)
    folder = scenes.write_scenes(tmp_path, 10, seed=0, width=48, height=32)
    assert len(held) == 10
    assert max(held) <= 1, f"labels of earlier chunks still held while rendering: {held}"  # its own chunk's only
    doc = json.loads((folder / scenes.JSON_NAME).read_text())
    assert [a["id"] for a in doc["annotations"]] == list(range(1, 11))
    assert [a["image_id"] for a in doc["annotations"]] == list(range(10))
    assert [im["file_name"] for im in doc["images"]] == [f"{i:08d}.jpg" for i in range(10)]
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name]  # the spool is gone


def _chunk(first: int, hands: list[int]) -> list[tuple[int, list[dict[str, Any]]]]:
    return [(first + k, [{"bbox": [0.0, 0.0, 1.0, 1.0], "hand": h} for h in range(n)]) for k, n in enumerate(hands)]


def test_chunks_out_of_order_are_written_in_scene_order_as_a_whole_json_would_be(tmp_path: Path) -> None:
    info = {"description": "scenes", "seed": 5}
    with SceneLabels(tmp_path, "hands_coco.json", 6, 16, 12, info) as labels:
        labels.add(_chunk(4, [1, 0]))  # a later chunk first, as a rendering worker may finish it
        labels.add(_chunk(2, [3, 1]))
        assert labels.hands == 0 and sorted(labels.waiting) == [2, 4]  # nothing spooled before scene 0's labels
        labels.add(_chunk(0, [2, 0]))
        assert labels.hands == 7 and not labels.waiting
        path = labels.finish()
    annotations, n = [], 0
    for index, anns in _chunk(0, [2, 0]) + _chunk(2, [3, 1]) + _chunk(4, [1, 0]):
        for a in anns:
            n += 1
            annotations.append({"id": n, "image_id": index, **a})
    whole = {"info": info, "images": [{"id": i, "file_name": f"{i:08d}.jpg", "width": 16, "height": 12}
                                      for i in range(6)],
             "annotations": annotations, "categories": categories()}
    assert path.read_text(encoding="utf-8") == json.dumps(whole) + "\n"


def test_a_missing_chunk_is_an_error_not_a_json_without_its_scenes(tmp_path: Path) -> None:
    with SceneLabels(tmp_path, "hands_coco.json", 4, 16, 12, {}) as labels:
        labels.add(_chunk(2, [1, 1]))
        with pytest.raises(RuntimeError, match=r"scenes 0 to 1 never came \(scenes 2 to 3 came and wait for them\)"):
            labels.finish()
    assert not (tmp_path / "hands_coco.json").exists()
    assert not list(tmp_path.iterdir())
