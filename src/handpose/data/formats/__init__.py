"""Readers of hand keypoint datasets on disk: a dataset path -> `Sample` lists, split into training and validation.

Formats (``detect_format`` picks one from the path; ``--format`` overrides):

* ``hand_labels_synth``: ``synth1/ .. synth4/`` of ``NNNNNNNN.jpg`` + ``NNNNNNNN.json`` (``hand_pts``, ``is_left``).
* ``hand_labels``: ``manual_train/`` and ``manual_test/``, one jpg + json per hand with ``head_size``.
* ``panopticdb`` (alias ``hand143_panopticdb``): ``hands_v143_14817.json`` beside ``imgs/``.
* ``coco``: COCO-style keypoint json with 63 ``keypoints`` numbers per annotation (``keypoint_order`` for datasets
  stored in another order, e.g. ``rhd``).
* ``coco_wholebody``: the hands of COCO-WholeBody json (``lefthand_kpts`` / ``righthand_kpts``, one sample per
  valid hand).
* ``interhand`` (alias ``interhand2.6m``): InterHand2.6M's data, camera and 3D-joint json, the joints projected to
  2D per camera, one sample per hand.
* ``freihand``: FreiHAND's ``{training,evaluation}_{xyz,K}.json`` with ``{training,evaluation}/rgb/``, the 3D
  joints projected with each sample's K, one right hand per image (image i shows annotation i mod N: the 4 versions of
  a training sample share one); ``evaluation`` validates, else a hash split that keeps the versions together.

Boxes: COCO samples keep the annotation ``bbox``; the CMU formats have none, so their box is the tight box of
the visible keypoints with the inclusive pixel extent ``w = x_max - x_min + 1`` (the CMU Panoptic COCO files MMPose
ships use exactly that box: tests/test_data_formats.py checks it against realdata/coco_panoptic).
Problems with annotations are counted in a ``SkipReport`` (logged once); nothing here decodes images.
One module per format; ``checks`` holds the validation every reader shares, ``detect`` the detection, ``load``
the dispatch and the split.
"""

from __future__ import annotations

from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import BadAnnotationError, boxes_of, parse_keypoints, validate_batch
from handpose.data.formats.coco_files import split_tag
from handpose.data.formats.detect import EXPECTED, detect_format
from handpose.data.formats.json_io import ParsedJson, default_workers
from handpose.data.formats.keypoint_orders import ORDERS, canonical_order
from handpose.data.formats.load import ALIASES, FORMATS, READERS, Splits, canonical_format, load_splits, read_samples

__all__ = [
    "ALIASES", "EXPECTED", "FORMATS", "ORDERS", "READERS", "BadAnnotationError", "ParsedJson", "ReadContext",
    "Splits", "Tagged", "boxes_of", "canonical_format", "canonical_order", "default_workers", "detect_format",
    "load_splits", "parse_keypoints", "read_samples", "split_tag", "validate_batch",
]
