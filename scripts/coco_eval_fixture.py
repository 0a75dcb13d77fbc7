"""Write tests/data/coco_eval_fixture.json: hand boxes, detections and the figures pycocotools' COCOeval gives on them.

Not part of handpose and not run by the tests (pycocotools is no dependency of handpose): it records what COCOeval
says, so ``tests/test_detect_metrics_cocoeval.py`` can hold ``detection/metrics`` to it without pycocotools. Usage,
in an environment with pycocotools and numpy::

    python scripts/coco_eval_fixture.py GT.json RESULTS.json N_IMAGES tests/data/coco_eval_fixture.json

GT.json is a COCO json of hand boxes (``handpose synth --scenes``), RESULTS.json COCO bbox results on it; the first
N_IMAGES images are kept, boxes rounded to 2 decimals and scores to 6. COCOeval runs with iouType "bbox", maxDets 100
and every box's ``area`` set to its longer side squared, with half-open size ranges (side < 32, 32 <= side < 96,
side >= 96), which is how handpose draws its size buckets. The recall at 1 false positive per image is read from
COCOeval's matches at IoU 0.5 over all sizes: the threshold is the lowest score that leaves at most one false positive
per image, and each size's recall is the share of its hands matched by a detection at or above that threshold.
The figures are written twice: as the json has the boxes ("cocoeval"), and with every sixth box marked
``iscrowd`` 1 ("crowd_ids", "cocoeval_crowd"), a region where COCOeval counts a detection neither way.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

NAMES = ("all", "small", "medium", "large")
EPS = 1e-9
AREA_RANGES = [[0.0, 1e10], [0.0, 32.0**2 - EPS], [32.0**2, 96.0**2 - EPS], [96.0**2, 1e10]]


def _subset(gt_path: str, res_path: str, n: int) -> tuple[dict, list[dict]]:
    """The first ``n`` images of the ground truth with their boxes and detections, rounded."""
    gt = json.load(open(gt_path))
    images = gt["images"][:n]
    ids = {im["id"] for im in images}
    anns = [{"id": a["id"], "image_id": a["image_id"], "category_id": 1, "iscrowd": 0,
             "bbox": [round(v, 2) for v in a["bbox"]]} for a in gt["annotations"] if a["image_id"] in ids]
    for a in anns:
        a["area"] = a["bbox"][2] * a["bbox"][3]
    dets = [{"image_id": d["image_id"], "category_id": 1, "bbox": [round(v, 2) for v in d["bbox"]],
             "score": round(d["score"], 6)} for d in json.load(open(res_path)) if d["image_id"] in ids]
    doc = {"images": [{"id": im["id"], "width": im["width"], "height": im["height"]} for im in images],
           "annotations": anns, "categories": [{"id": 1, "name": "hand"}]}
    return doc, dets


def _cocoeval(doc: dict, dets: list[dict], crowd: set[int] = frozenset()) -> COCOeval:
    """COCOeval (bbox) with areas from the longer side and half-open size ranges, evaluated and accumulated."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(doc))
        for a in gt.dataset["annotations"]:
            a["iscrowd"] = int(a["id"] in crowd)
        gt.createIndex()
        dt = gt.loadRes(json.loads(json.dumps(dets)))
        for a in list(gt.anns.values()) + list(dt.anns.values()):
            a["area"] = max(a["bbox"][2], a["bbox"][3]) ** 2
        ev = COCOeval(gt, dt, "bbox")
        ev.params.areaRng = AREA_RANGES
        ev.evaluate()
        ev.accumulate()
    return ev


def _recall_at_one_fp(ev: COCOeval, dt: COCO) -> dict[str, float]:
    """Each size's recall at the score threshold of 1 false positive per image over all sizes (IoU 0.5)."""
    evals = [e for e in ev.evalImgs if e is not None and e["aRng"] == AREA_RANGES[0]]
    scores = np.concatenate([e["dtScores"] for e in evals])
    matched = np.concatenate([e["dtMatches"][0] for e in evals])
    ignored = np.concatenate([e["dtIgnore"][0] for e in evals]).astype(bool)  # matched to a crowd region
    order = np.argsort(-scores, kind="mergesort")
    fp = np.cumsum((matched[order] == 0) & ~ignored[order])
    ok = np.flatnonzero(fp <= len(ev.params.imgIds))
    threshold = scores[order][ok[-1]] if ok.size else np.inf
    det_score = {d["id"]: d["score"] for d in dt.anns.values()}
    out = {}
    for name, (lo, hi) in zip(NAMES, AREA_RANGES):
        total = found = 0
        for e in evals:
            for g, m, crowd in zip(e["gtIds"], e["gtMatches"][0], e["gtIgnore"]):
                area = ev.cocoGt.anns[g]["area"]
                if lo <= area <= hi and not crowd:
                    total += 1
                    found += int(m > 0 and det_score[int(m)] >= threshold)
        out[name] = found / total if total else float("nan")
    return out


def _figures(doc: dict, dets: list[dict], crowd: set[int]) -> dict[str, float]:
    """AP@0.5, AP@0.5:0.95 and recall at 1 false positive per image, over all sizes and by size."""
    ev = _cocoeval(doc, dets, crowd)
    precision = ev.eval["precision"][:, :, 0, :, -1]  # (IoU thresholds, recall points, size ranges)
    recall = _recall_at_one_fp(ev, ev.cocoDt)
    expected = {}
    for a, name in enumerate(NAMES):
        suffix = "" if name == "all" else f"/{name}"
        expected[f"AP@0.5{suffix}"] = float(np.mean(precision[0, :, a]))
        expected[f"AP@0.5:0.95{suffix}"] = float(np.mean(precision[:, :, a]))
        expected[f"recall@1FP{suffix}"] = recall[name]
    return expected


def main() -> None:
    """Write the fixture."""
    gt_path, res_path, n, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    doc, dets = _subset(gt_path, res_path, n)
    crowd_ids = [a["id"] for a in doc["annotations"]][::6]
    expected = _figures(doc, dets, set())
    fixture = {"about": __doc__.split("\n\n")[0] + " See scripts/coco_eval_fixture.py.",
               "images": doc["images"], "annotations": doc["annotations"], "detections": dets,
               "cocoeval": expected, "crowd_ids": crowd_ids, "cocoeval_crowd": _figures(doc, dets, set(crowd_ids))}
    with open(out_path, "w") as f:
        json.dump(fixture, f, indent=None)
        f.write("\n")
    print(json.dumps({k: fixture[k] for k in ("cocoeval", "cocoeval_crowd")}, indent=1))


if __name__ == "__main__":
    main()
