"""``panopticdb`` (alias ``hand143_panopticdb``, the dataset's name): ``hands_v143_14817.json`` =
``{"root": [{"img_paths", "joint_self" (21 x [x, y, v]), ...}]}`` beside ``imgs/``; right hands only, no test split."""

from __future__ import annotations

from pathlib import Path

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import BadAnnotationError, box_of, parse_keypoints
from handpose.data.formats.json_io import load_json_once
from handpose.data.sample import Sample

NAME = "panopticdb"
ALIAS = "hand143_panopticdb"
EXPECTED = "hands_v143_14817.json ({'root': [{'img_paths', 'joint_self' (21 x [x, y, v])}]}) beside imgs/"


def looks_like(path: Path) -> bool:
    """A hands_v143*.json file, or a folder holding one."""
    if path.is_file():
        return path.name.startswith("hands_v143")
    return any(path.glob("hands_v143*.json"))


def _json_path(path: Path) -> Path:
    if path.is_file():
        return path
    exact = path / "hands_v143_14817.json"
    if exact.is_file():
        return exact
    found = sorted(path.glob("hands_v143*.json"))
    if found:
        return found[0]
    raise ValueError(f"{path}: no hands_v143_*.json here; expected {EXPECTED}")


def read(path: Path, ctx: ReadContext) -> Tagged:
    """Entries of ``{"root": [...]}``; images relative to the json's folder."""
    jpath = _json_path(path)
    try:
        obj = load_json_once(jpath, ctx.parsed)
    except BadAnnotationError as bad:
        raise ValueError(f"{jpath}: {bad.reason}" + (f" ({bad.detail})" if bad.detail else "")
                         + f"; expected {EXPECTED}") from None
    entries = obj.get("root") if isinstance(obj, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{jpath}: no 'root' list; expected {EXPECTED}")
    base = jpath.parent
    out: Tagged = []
    seen: dict[str, int] = {}
    exists: dict[str, bool] = {}
    for i, entry in enumerate(entries):
        where = f"{jpath}#root[{i}]"
        try:
            if not isinstance(entry, dict) or not isinstance(entry.get("img_paths"), str):
                raise BadAnnotationError(R.BAD_ANNOTATION, "no 'img_paths'")
            if "joint_self" not in entry:
                raise BadAnnotationError(R.BAD_ANNOTATION, "no 'joint_self'")
            kp = parse_keypoints(entry["joint_self"])
            rel = entry["img_paths"]
            img = base / rel
            if rel not in exists:
                exists[rel] = img.is_file()
            if not exists[rel]:
                raise BadAnnotationError(R.MISSING_IMAGE, str(img))
        except BadAnnotationError as bad:
            ctx.report.add(bad.reason, where, bad.detail)
            continue
        n = seen.get(rel, 0)
        seen[rel] = n + 1
        key = rel if n == 0 else f"{rel}#{n}"
        out.append((Sample(img, kp, False, box_of(kp), None, key), None))
    return out
