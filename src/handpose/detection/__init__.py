"""Hand detection: a CenterNet-style network that finds every hand in a whole image, with its box and handedness.

One file per stage: ``model`` (the network), ``letterbox`` (image -> square network input and back), ``codec``
(boxes <-> target maps, network maps -> boxes), ``coco`` (COCO json of hand boxes -> images with their boxes),
``dataset`` (training and evaluation items), ``loss``, ``metrics`` (COCO-style AP, recall at 1 false positive per
image, per hand size), ``detector`` (inference: ``HandDetector``), ``evaluate`` (``run_detection_eval``),
``draw`` (pictures) and ``task`` (``DetectTask``, what the shared trainer calls).
"""
