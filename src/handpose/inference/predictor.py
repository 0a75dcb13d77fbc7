"""Predictor: image -> square crop -> network (PyTorch or onnxruntime) -> belief maps -> keypoints in image pixels.

One code path serves the ``handpose predict`` command, the Python API, the evaluation run (``handpose.evaluate``)
and the validation pictures of training: :class:`~handpose.inference.prepare.CropSpec` cuts the crops,
:meth:`Predictor.predict_prepared` runs a batch of them through a backend (``inference.backends``), averages the
flip-test and multi-scale passes, decodes the maps with the belief-map codec and maps the keypoints back through
the inverse of the crop's affine matrix.

The rule of :meth:`Predictor.predict`: **a box: that one hand; no box: a list of hands** (detect -> crop ->
keypoints, ``inference.pipeline``; without a detector the whole image, made square with grey borders, as one hand).
Crops: a hand box ``[x, y, w, h]`` becomes the square of side ``box_padding * max(w, h)`` around its centre
(``data.crop.CropRecipe``, the training crop without augmentation). Left hands are mirrored to the right first
when the model was trained that way
(``DataConfig.mirror_left``); the mirror is part of the crop matrix, so mapping back undoes it.
Test-time options: ``flip_test`` also runs the horizontally mirrored crop and mirrors its maps back (a hand has no
left/right joint pairs, so no channels are swapped; crops are padded to a multiple of the stride first, so the
mirror of the maps is exact at any input size; refused for a model trained with left hands mirrored, to which the
mirrored crop is a hand of the side it never saw); ``scales`` runs the same box at several input sizes
(``input_size * s`` rounded to the stride), resizes the last stage's maps to the largest and averages them, as
OpenPose averages scales.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import cv2
import numpy as np

from handpose.config import DataConfig
from handpose.data.transforms import apply_affine, invert_affine, to_network_input
from handpose.detection.detector import IMAGE_SCALES
from handpose.inference.backends import Backend, OnnxBackend, TorchBackend
from handpose.inference.inputs import is_one_image, to_bgr
from handpose.inference.pipeline import Detector, clip_box, crop_box_of, to_xywh
from handpose.inference.prepare import CropSpec, Prepared, check_scales, spec_from_config
from handpose.inference.refine import RefineConfig, proposal_threshold, refine_detections
from handpose.keypoints import NAMES
from handpose.model.artifact import check_stride, default_data_config

if TYPE_CHECKING:
    from handpose.inference.results import Hands

LOG = logging.getLogger(__name__)

DEFAULT_REFINE = RefineConfig()  # from_file's keypoint refinement of detections
SIDE_MARGIN = 0.1  # a detector's left-hand probability within this of 0.5 is a guess: the keypoint network decides
FLIP_MULTIPLE = 8  # the flip test pads crops to this multiple (the network downsamples 8x), so mirrors are exact


@dataclass(eq=False)  # equal only to itself: its numpy arrays have no single truth value
class Prediction:
    """One hand's result.

    Attributes:
        keypoints: (21, 2) float32 in original-image pixels; a keypoint may lie outside the image where the crop
            reaches past its edge (check it against the image size, and its score).
        scores: (21,) float32, the peak of each keypoint's belief map.
        box: (4,) ``[x, y, w, h]`` the hand's box: the one the crop was made from (the whole image when none was
            given), except for a hand refined by the keypoint network, whose crop comes from its keypoints' own box
            and whose box is that box widened to the whole hand and cut to the image (``inference/refine``).
        stage_maps: (S, 22, h, w) belief maps of every stage over the crop (only the last for ONNX models),
            from the plain pass at the first scale; None unless asked for.
        crop: (N, N, 3) uint8 the crop those maps belong to (None unless maps were asked for).
        matrix: (2, 3) original px -> crop px of ``crop`` (includes the left-hand mirror).
        score: the hand's probability (None when the box was given, or no detector ran): the detector's, or with
            keypoint refinement (``Predictor.refine``) the verdict of the last refinement pass, its mean keypoint
            peak mixed with the detector's probability (``RefineConfig.detector_weight``).
        detector_score: the detector's own probability when refinement replaced it in ``score``, else None.
        is_left: the hand was taken for a left hand (the detector's call, the keypoint network's, or the caller's).
        left_score: the detector's left-hand probability (None without a detector).
        track_id: the hand's track in a video (None for still images).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray
    stage_maps: np.ndarray | None = None
    crop: np.ndarray | None = None
    matrix: np.ndarray | None = None
    score: float | None = None
    is_left: bool = False
    left_score: float | None = None
    track_id: int | None = None
    detector_score: float | None = None

    @property
    def confidence(self) -> float:
        """One number for the hand, the ``score`` of COCO results: a refined hand's ``score`` (which already holds its
        mean keypoint score: ``inference/refine``), the detector's score times the mean keypoint score for a hand
        it found unrefined, the mean alone without a detector."""
        if self.score is not None and self.detector_score is not None:
            return float(self.score)
        mean = float(np.mean(self.scores)) if np.size(self.scores) else 0.0
        return mean if self.score is None else float(self.score) * mean

    def plot(self, image: Any, threshold: float = 0.1, color: str = "bgr") -> np.ndarray:
        """``image`` (as :meth:`Predictor.predict` takes it) with this hand drawn: BGR uint8 (H, W, 3), a copy."""
        from handpose.inference.results import Hands

        return Hands([self], to_bgr(image, color)).plot(threshold)

    def save(self, path: str | Path, image: Any | None = None, threshold: float = 0.1, color: str = "bgr") -> Path:
        """Write this hand drawn on ``image`` (``.png``, ``.jpg``, ...) or, for a ``.json`` path, the hand as JSON
        (:meth:`to_dict`; no image needed); returns the path."""
        from handpose.files import write_json
        from handpose.viz import save_bgr

        if Path(path).suffix.lower() == ".json":
            return write_json(path, self.to_dict())
        if image is None:
            raise ValueError(f"{path}: a drawing needs the image the hand was found in: hand.save(path, image)")
        return save_bgr(path, self.plot(image, threshold, color))

    def to_coco(self, image_id: int | str) -> dict[str, Any]:
        """This hand's COCO keypoint result (``inference.results.coco_result``)."""
        from handpose.inference.results import coco_result

        return coco_result(self, image_id)

    def __repr__(self) -> str:
        """One line: the box and scalars as numbers, the arrays by their shapes (the belief maps and the crop a
        prediction keeps by default would otherwise print as thousands of lines)."""
        def shape(a: np.ndarray | None, note: str = "") -> str:
            return "None" if a is None else f"<{'x'.join(str(n) for n in np.shape(a))} array{note}>"

        def num(v: float | None) -> str:
            return "None" if v is None else f"{float(v):.4g}"

        box = ", ".join(f"{float(v):.1f}" for v in np.asarray(self.box).reshape(-1))
        mean = f", mean {num(float(np.mean(self.scores)))}" if np.size(self.scores) else ""
        extra = "" if self.detector_score is None else f", detector_score={num(self.detector_score)}"
        extra += "" if self.track_id is None else f", track_id={self.track_id}"
        return (f"Prediction(box=[{box}], score={num(self.score)}{extra}, is_left={bool(self.is_left)}, "
                f"left_score={num(self.left_score)}, keypoints={shape(self.keypoints)}, "
                f"scores={shape(self.scores, mean)}, stage_maps={shape(self.stage_maps)}, crop={shape(self.crop)})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the box, detection score, side, and the 21 keypoints with their names, x, y and score."""
        return {
            "box": [float(v) for v in self.box],
            "score": None if self.score is None else float(self.score),
            **({} if self.detector_score is None else {"detector_score": float(self.detector_score)}),
            "is_left": bool(self.is_left),
            "left_score": None if self.left_score is None else float(self.left_score),
            **({} if self.track_id is None else {"track_id": int(self.track_id)}),
            "keypoints": [
                {"index": k, "name": NAMES[k], "x": float(x), "y": float(y), "score": float(s)}
                for k, ((x, y), s) in enumerate(zip(self.keypoints, self.scores))
            ],
        }

    def keypoints_in_crop(self) -> np.ndarray:
        """(21, 2) the keypoints in the crop's pixels (for drawing over :attr:`crop`)."""
        if self.matrix is None:
            raise ValueError("prediction has no crop matrix")
        return apply_affine(self.keypoints, self.matrix).astype(np.float32)


@dataclass
class Predictor:
    """Hands and their keypoints in images; build with :meth:`from_file` or :meth:`from_model`.

    ``detector`` (a ``detection.HandDetector`` or anything with ``detect(image_bgr) -> [Detection]``) finds the
    hands when no box is given; without one the whole image is taken as one hand. See :meth:`predict`.

    A found hand's side (left or right) is the detector's call when its left-hand probability is at least
    ``side_margin`` from 0.5. Otherwise, for a keypoint model trained with left hands mirrored, the keypoint network
    decides: it runs on the crop both ways and the side whose keypoints score higher (mean peak) is kept, with
    those keypoints (0 turns this off).

    ``refine`` (``inference/refine``): the keypoint network re-boxes, re-scores and filters the detector's hands
    before their keypoints are reported (None: the detector's boxes as they are). ``from_file`` turns it on.

    One predictor may serve several threads at once: it keeps no per-call state, and calls from threads give the
    keypoints of the same calls made one at a time (to the last bit with a fixed thread count; ``threads="auto"``
    changes PyTorch's between calls, and with it float rounding). It pickles for ``multiprocessing`` workers of any
    start method (README, "In a service").
    """

    backend: Backend
    spec: CropSpec = field(default_factory=CropSpec)
    flip_test: bool = False
    name: str = ""
    detector: Detector | None = None
    side_margin: float = SIDE_MARGIN
    refine: RefineConfig | None = None

    def __post_init__(self) -> None:
        if self.flip_test and self.spec.mirror_left:
            raise ValueError(
                "the flip test does not suit this model: it was trained on right hands only (left hands mirrored to "
                "right), so the mirrored crop shows it a left hand it never learned (PCK@0.2 0.915 -> 0.884 on "
                "1,000 validation renders for the shipped model) and the two reads leave no side to choose; the "
                "flip test is for models trained on both sides (train without --mirror-left)")
        # a backend with a fixed input size (an ONNX file exported with a static shape) says early, with a clear
        # ValueError, when the crop sizes (input size x scales) do not fit it; runs again on every `replace`
        check_sizes = getattr(self.backend, "check_sizes", None)
        if check_sizes is None:
            return
        sizes = list(self.spec.sizes())
        fed = [padded_side(s, FLIP_MULTIPLE) for s in sizes] if self.flip_test else sizes
        try:
            check_sizes(fed)
        except ValueError as exc:
            if fed == sizes:
                raise
            raise ValueError(f"{exc} (the flip test pads each crop to a multiple of {FLIP_MULTIPLE} px: {sizes} -> "
                             f"{fed}; turn the flip test off, or use an input size that is a multiple of "
                             f"{FLIP_MULTIPLE})") from None

    @classmethod
    def from_model(
        cls,
        model: Any,
        data_cfg: DataConfig | None = None,
        flip_test: bool = False,
        scales: Sequence[float] = (1.0,),
        autocast_bf16: bool = False,
        detector: Detector | None = None,
    ) -> Predictor:
        """A predictor around an in-memory CPM; crop settings from ``data_cfg`` (default: the model's input size and
        output stride). ValueError when ``data_cfg``'s stride is not the model's output stride."""
        cfg = data_cfg or default_data_config(model.config)
        check_stride(cfg, model.config)
        return cls(TorchBackend(model, autocast_bf16), spec_from_config(cfg, scales), flip_test, model.config.preset,
                   detector)

    @classmethod
    def from_pretrained(cls, name: str = "lite", detector: str | None = "detector", **options: Any) -> Predictor:
        """The models shipped in the package (``handpose.pretrained``; no download): the keypoint model ``name``
        and the hand detector ``detector`` (the shipped one by default; None: no detection, the whole image is one
        hand without a box; its limits on photographs are in MODEL_CARD.md). ``options`` go to :meth:`from_file`
        (``device``, ``flip_test``, ``detector_scales``, ...). ValueError listing the shipped names for an unknown
        one."""
        from handpose import pretrained

        det = None if detector is None else pretrained.path(detector)  # ValueError listing the names
        if det is not None and detector.removeprefix(pretrained.PREFIX) == pretrained.DEFAULT_DETECTOR:
            det = pretrained.PREFIX + pretrained.DEFAULT_DETECTOR  # the faster runtime here (detection.runtime_choice)
        return cls.from_file(pretrained.path(name), detector=det, **options)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        device: str = "cpu",
        flip_test: bool = False,
        scales: Sequence[float] = (1.0,),
        box_padding: float | None = None,
        mirror_left: bool | None = None,
        detector: str | Path | Detector | None = None,
        detector_threshold: float | None = None,
        side_margin: float = SIDE_MARGIN,
        refine: RefineConfig | None = DEFAULT_REFINE,
        detector_scales: Sequence[float] = IMAGE_SCALES,
        threads: int | str | None = None,
    ) -> Predictor:
        """Load ``.safetensors`` / ``.pt`` weights (PyTorch on ``device``) or a handpose ``.onnx`` (onnxruntime, CPU).

        The crop settings (input size, box padding, left-hand mirroring) come from the file's metadata where
        training stored them, else from the model config; ``box_padding`` / ``mirror_left`` override them.
        ``detector``: a hand detector's weights file (loaded on ``device``, hands kept from ``detector_threshold``,
        default ``refine.proposal_threshold``, or the detector's own without refinement, run at
        ``detector_scales``: default the plain letterbox and one of twice its side, ``detection.detector``), or a
        detector object; None: no detection (whole image without a box). ``refine``: how the keypoint network
        refines the detector's hands (``inference/refine``; None or ``passes=0``: not at all).
        ``side_margin``: see the class docstring. ``threads``: onnxruntime's threads per model (None: its default,
        every core; PyTorch's are the process's, ``torch.set_num_threads``), or "auto": both runtimes follow the
        cores other processes leave free, measured as inference runs (``autotune.free_cores``; it sets PyTorch's
        thread count, which is the process's).
        A PyTorch model runs with its batch norms folded into their convs (``model/fold_batch_norm``: the same maps,
        faster); :meth:`from_model` runs the network it is given as it is.
        Raises FileNotFoundError for a missing file and ValueError for a file that is not a handpose model, or is
        a model of the other task (a detector given as the keypoint model, or the reverse), naming the file.
        """
        from handpose import pretrained
        from handpose.autotune.free_cores import check_threads
        from handpose.model import artifact

        threads = check_threads(threads)
        path = pretrained.resolve(path)
        kind = artifact.model_file_kind(path)  # FileNotFoundError / ValueError naming the file
        if kind == "onnx":
            model_cfg, data_cfg = artifact.read_onnx_configs(path)
            try:
                # its threads stop spinning after each run where it takes turns with a detector
                backend: Backend = OnnxBackend(path, threads=threads, device=device, stop_spinning=detector is not None)
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ValueError(f"onnxruntime cannot load {path}: {exc}") from exc
        else:
            from handpose.config_checks import check_device

            device = check_device(str(device), "device")  # CUDA without a GPU: said, not torch's AssertionError
            from handpose.model.fold_batch_norm import folded

            model = artifact.load_model(path, map_location=device)  # in eval mode
            model_cfg = model.config
            data_cfg = artifact.read_data_config(path, model_cfg)
            backend = TorchBackend(folded(model), threads=threads)  # batch norms folded: the same maps, faster
        if box_padding is not None:
            data_cfg = replace(data_cfg, box_padding=float(box_padding))
        if mirror_left is not None:
            data_cfg = replace(data_cfg, mirror_left=bool(mirror_left))
        if box_padding is not None or mirror_left is not None:
            from handpose.config_checks import check_config

            check_config(data_cfg, "box_padding / mirror_left")  # the ranges stored configs are checked against
        if not 0.0 <= float(side_margin) <= 0.5:
            raise ValueError(f"side_margin must lie in [0, 0.5], got {side_margin}")
        if isinstance(detector, (str, Path)):
            from handpose.detection.detector import HandDetector

            detector = HandDetector.from_file(detector, threshold=proposal_threshold(detector_threshold, refine),
                                              device=device, scales=detector_scales, threads=threads)
        if refine is not None and refine.passes == 0:
            refine = None
        return cls(backend, spec_from_config(data_cfg, scales), flip_test, f"{model_cfg.preset}:{path.name}",
                   detector, float(side_margin), refine)

    def with_options(self, flip_test: bool | None = None, scales: Sequence[float] | None = None) -> Predictor:
        """The same network with other test-time options."""
        spec = self.spec if scales is None else replace(self.spec, scales=check_scales(scales))
        return replace(self, spec=spec, flip_test=self.flip_test if flip_test is None else flip_test)

    @property
    def stages(self) -> int:
        """How many stages' maps :attr:`Prediction.stage_maps` holds."""
        return self.backend.stages

    # the rule in types: without a box the hands found (Hands), with one that hand (Prediction), so a caller's type
    # checker takes hands[0] and hand.keypoints as they are
    @overload
    def predict(self, image: Any, box: None = None, is_left: bool | None = None, keep_maps: bool = True,
                box_format: str = "xywh", color: str = "bgr") -> Hands: ...

    @overload
    def predict(self, image: Any, box: Sequence[float] | np.ndarray, is_left: bool | None = None,
                keep_maps: bool = True, box_format: str = "xywh", color: str = "bgr") -> Prediction: ...

    def predict(
        self,
        image: Any,
        box: Sequence[float] | np.ndarray | None = None,
        is_left: bool | None = None,
        keep_maps: bool = True,
        box_format: str = "xywh",
        color: str = "bgr",
    ) -> Prediction | Hands:
        """The rule: **a box: that one hand; no box: a list of hands.**

        ``image``: a path (an EXIF-rotated JPEG is turned upright), an image file's bytes or a binary file object
        (read as a path is), a numpy array in BGR (OpenCV's order, the default) or RGB (``color="rgb"``), or a PIL
        image. With ``box`` (``box_format`` ``"xywh"`` or ``"xyxy"``, image pixels) returns that hand's
        :class:`Prediction` (no detection runs). ``is_left`` says its side; None
        (the default) lets a keypoint model trained with left hands mirrored choose: the crop runs both ways and the
        more confident keypoints are kept, their side in ``Prediction.is_left`` (:meth:`predict_either_side`).
        Without, returns :class:`~handpose.inference.results.Hands` (a list, empty when no hand is found): every
        hand the detector finds, each with its box, detection score, side (``is_left`` when given, for every hand)
        and keypoints, or without a detector the whole image as one hand. ``keep_maps`` keeps the belief maps and
        the crop of each hand. ValueError for an ``is_left`` other than True, False or None.
        """
        is_left = check_side(is_left)
        img = to_bgr(image, color)
        if box is not None:
            return self._one_hand(img, to_xywh(box, box_format), is_left, keep_maps)
        return self.find_hands(img, keep_maps=keep_maps, is_left=is_left)

    def find_hands(self, image_bgr: np.ndarray, keep_maps: bool = False, is_left: bool | None = None) -> Hands:
        """Detect -> crop -> keypoints on a BGR uint8 (H, W, 3) image; without a detector, the whole image as one
        hand. ``is_left`` the side of every hand (None: each chosen as in :meth:`predict`)."""
        from handpose.inference.results import Hands

        is_left = check_side(is_left)
        if self.detector is None:
            return Hands([self._one_hand(image_bgr, None, is_left, keep_maps)], image_bgr)
        detections = self.detect_hands(image_bgr)
        if is_left is not None:  # the caller knows the side: every hand is read as that side
            detections = [replace(d, is_left=is_left, left_score=float(is_left), side_settled=True)
                          for d in detections]
        return Hands(self.predict_detections(image_bgr, detections, keep_maps), image_bgr)

    def _one_hand(self, image_bgr: np.ndarray, box: np.ndarray | None, is_left: bool | None,
                  keep_maps: bool) -> Prediction:
        """One hand in ``box`` (None: the whole image), its side given or (None) chosen by the keypoint network."""
        prepared = self.spec.prepare(image_bgr, box, bool(is_left))
        if is_left is None:
            return self.predict_either_side([prepared], keep_maps=keep_maps)[0]
        pred = self.predict_prepared([prepared], keep_maps=keep_maps)[0]
        pred.is_left = bool(is_left)
        return pred

    def predict_either_side(self, prepared: Sequence[Prepared], keep_maps: bool = False) -> list[Prediction]:
        """Keypoints of hands whose side is not known, each cut as a right hand (``is_left`` False): for a model
        trained with left hands mirrored each crop also runs mirrored, in the same batch, and the more confident of
        the two is kept (:func:`second_is_more_confident`) with its side in ``Prediction.is_left``; a model trained
        on both sides as they are runs each crop once (``is_left`` False)."""
        if not self.spec.mirror_left:
            preds = self.predict_prepared(prepared, keep_maps=keep_maps)
            for pred in preds:
                pred.is_left = False
            return preds
        both = self.predict_prepared([q for p in prepared for q in (p, p.mirrored())], keep_maps=keep_maps)
        return [more_confident_side(right, left) for right, left in zip(both[0::2], both[1::2])]

    def detect_hands(self, image: Any, color: str = "bgr") -> list[Any]:
        """The detector's hands in ``image`` (as :meth:`predict` takes it: a path, a BGR array or an RGB one with
        ``color="rgb"``, a PIL image), refined by the keypoint network when ``refine`` is set (``Detection`` each,
        best first); ValueError without a detector."""
        if self.detector is None:
            raise ValueError("Predictor.detect_hands needs a detector (Predictor.from_file(..., detector=FILE))")
        image_bgr = to_bgr(image, color)
        detections = self.detector.detect(image_bgr)
        if self.refine is None:
            return list(detections)
        return refine_detections(self, image_bgr, detections, self.refine)

    def predict_detections(self, image_bgr: np.ndarray, detections: Sequence[Any],
                           keep_maps: bool = False) -> list[Prediction]:
        """Keypoints of detected hands (``Detection``: box xywh, score, is_left, left_score) in one batch, each
        with its side settled (see the class docstring); a box that lies off the image is left out."""
        return [pred for _, pred in self.settle_detections(image_bgr, detections, keep_maps)]

    def side_unsure(self, det: Any) -> bool:
        """The detector's side is a guess and the keypoint network can tell (it was trained on mirrored lefts):
        the side is then settled by running the crop both ways (:func:`second_is_more_confident`)."""
        if getattr(det, "side_settled", False):  # refined: the keypoint network has already decided
            return False
        return self.side_from_keypoints(det)

    def side_from_keypoints(self, det: Any) -> bool:
        """Whether a detection's side is (or, refined, was) the keypoint network's call, not the detector's: the
        detector's left-hand probability lies within ``side_margin`` of 0.5 and the network can tell."""
        return bool(self.spec.mirror_left) and abs(float(det.left_score) - 0.5) < self.side_margin

    def settle_detections(self, image_bgr: np.ndarray, detections: Sequence[Any], keep_maps: bool = False
                          ) -> list[tuple[Any, Prediction]]:
        """(detection, its keypoints with score and side set) for each detection whose box lies on the image,
        in one network batch: one crop per sure detection, both mirrors of an unsure one."""
        kept: list[tuple[Any, bool]] = []
        prepared: list[Prepared] = []
        for det in detections:
            box = clip_box(crop_box_of(det), image_bgr.shape[:2])
            if box is None:
                continue
            unsure = self.side_unsure(det)
            kept.append((det, unsure))
            prepared.append(self.spec.prepare(image_bgr, box, False if unsure else bool(det.is_left)))
            if unsure:
                prepared.append(self.spec.prepare(image_bgr, box, True))
        preds = self.predict_prepared(prepared, keep_maps=keep_maps)
        out, i = [], 0
        for det, unsure in kept:
            if unsure:
                pred, i = more_confident_side(preds[i], preds[i + 1]), i + 2
                is_left = pred.is_left
            else:
                pred, is_left, i = preds[i], bool(det.is_left), i + 1
            pred.score, pred.is_left, pred.left_score = float(det.score), is_left, float(det.left_score)
            detector_score = getattr(det, "detector_score", None)
            pred.detector_score = None if detector_score is None else float(detector_score)
            if getattr(det, "crop_box", None) is not None:  # refined: report the whole hand's box
                pred.box = np.asarray(det.box, np.float64)
            out.append((det, pred))
        return out

    def predict_batch(
        self,
        images: Sequence[Any] | np.ndarray,
        boxes: Sequence[Sequence[float] | np.ndarray | None] | np.ndarray | None = None,
        is_left: Sequence[bool | None] | None = None,
        keep_maps: bool = False,
        box_format: str = "xywh",
        color: str = "bgr",
    ) -> list[Prediction]:
        """Several hands batched through the network, one per image (repeat an image for several boxes):
        :meth:`predict` with a box (or the whole image) for each, its images, boxes, sides and options read alike
        (``images`` also a stack (N, H, W, 3), ``boxes`` an (N, 4) array).
        ``is_left`` None (or a None entry) lets the keypoint network choose that hand's side, as :meth:`predict`
        does (for a model trained with left hands mirrored: both mirrors of the crop, twice the crops; until
        2026-12-06 a missing side meant a right hand); hands of given and of open sides run as two batches.
        ValueError when ``boxes`` or ``is_left`` are not one per image, or ``images`` is one image (a path, bytes, a
        file object, a PIL image, an (H, W, 3) array; :func:`~handpose.inference.inputs.is_one_image`)."""
        if is_one_image(images):  # its characters, bytes or rows are no images
            raise ValueError(f"predict_batch takes a list of images, got one {type(images).__name__}: give [image], "
                             "or call predict for one image")
        n = len(images)
        if isinstance(is_left, (bool, np.bool_)):
            raise ValueError(f"predict_batch: is_left takes one side per image (a list of {n}), got {is_left}")
        if boxes is not None and len(boxes) == 4 and all(isinstance(v, (int, float, np.number)) for v in boxes):
            raise ValueError(f"predict_batch: boxes takes one box per image (a list of {n} boxes), got one box "
                             f"{list(boxes)}")
        for name, given in (("boxes", boxes), ("is_left", is_left)):
            if given is not None and len(given) != n:
                raise ValueError(f"predict_batch: {len(given)} {name} for {n} images (one per image)")
        if is_left is not None:
            is_left = [check_side(side) for side in is_left]
        bgr = [to_bgr(im, color) for im in images]
        boxes = list(boxes) if boxes is not None else [None] * n
        sides = list(is_left) if is_left is not None else [None] * n
        prepared = [self.spec.prepare(im, None if b is None else to_xywh(b, box_format), bool(side))
                    for im, b, side in zip(bgr, boxes, sides)]
        unsure = [i for i, side in enumerate(sides) if side is None]
        sure = [i for i, side in enumerate(sides) if side is not None]
        out: list[Prediction | None] = [None] * n
        for i, pred in zip(unsure, self.predict_either_side([prepared[i] for i in unsure], keep_maps)):
            out[i] = pred
        for i, pred in zip(sure, self.predict_prepared([prepared[i] for i in sure], keep_maps=keep_maps)):
            pred.is_left = bool(sides[i])
            out[i] = pred
        return [p for p in out if p is not None]

    def predict_prepared(self, prepared: Sequence[Prepared], keep_maps: bool = False) -> list[Prediction]:
        """Run prepared crops: every scale (and its mirror with flip test), average the last stage, decode, map back."""
        n = len(prepared)
        if n == 0:
            return []
        sizes = self.spec.sizes()
        stride = self.spec.stride
        common = int(np.argmax(sizes))  # the keypoints are decoded on the largest scale's grid
        map_side = math.ceil(sizes[common] / stride)
        total: np.ndarray | None = None
        stage_maps: np.ndarray | None = None
        for si in range(len(sizes)):
            crops = np.stack([p.crops[si] for p in prepared])  # (N, S_in, S_in, 3)
            x = to_network_input(crops)  # (N, 3, S_in, S_in)
            if self.flip_test:
                x = _pad_to_stride(x, FLIP_MULTIPLE)  # (N, 3, P, P), P a multiple of the network's 8x downsampling
                x = np.concatenate([x, x[..., ::-1]])  # (2N, 3, P, P)
            want_all = keep_maps and si == 0
            side = math.ceil(sizes[si] / stride)  # this scale's cells; flip-test padding adds some right and below
            out = self.backend(x, all_stages=want_all)  # (S, B, 22, h, w)
            if want_all:
                stage_maps = out[:, :n, :, :side, :side]
            last = out[-1]  # (B, 22, h, w)
            if self.flip_test:  # the mirror of a P-wide input is the mirror of its P / stride cells: exact
                last = 0.5 * (last[:n] + last[n:, :, :, ::-1])  # (N, 22, h, w)
            last = last[:, :, :side, :side]  # (N, 22, side, side)
            if last.shape[-1] != map_side or last.shape[-2] != map_side:
                last = _resize_maps(last, map_side)
            total = last if total is None else total + last
        assert total is not None
        total = total / len(sizes)
        xy, scores = self.spec.codec(sizes[common]).decode(total)  # (N, 21, 2) crop px of the common scale, (N, 21)
        inv = np.stack([invert_affine(p.matrices[common]) for p in prepared])  # (N, 2, 3)
        keypoints = apply_affine(xy, inv).astype(np.float32)  # (N, 21, 2) original px
        results = []
        for i, p in enumerate(prepared):
            results.append(
                Prediction(
                    keypoints=keypoints[i],
                    scores=scores[i],
                    box=p.box,
                    stage_maps=None if stage_maps is None else np.ascontiguousarray(stage_maps[:, i]),
                    crop=p.crops[0] if keep_maps else None,
                    matrix=p.matrices[0],
                )
            )
        return results


def second_is_more_confident(first: Prediction, second: Prediction) -> bool:
    """Whether ``second`` (the same hand's crop, mirrored the other way) scores higher: mean keypoint peak."""
    return float(np.mean(second.scores)) > float(np.mean(first.scores))


def more_confident_side(right: Prediction, left: Prediction) -> Prediction:
    """Of one hand's keypoints read as a right hand and as a left hand (its crop mirrored), the more confident, with
    ``is_left`` set to the side it was read as."""
    chosen_left = second_is_more_confident(right, left)
    pred = left if chosen_left else right
    pred.is_left = chosen_left
    return pred


def check_side(is_left: Any) -> bool | None:
    """A hand's side as given: None (unknown), or True / False (1 / 0 too); ValueError for anything else, such as
    the text "right", which would otherwise read as a left hand."""
    if is_left is None or isinstance(is_left, (bool, np.bool_)):
        return None if is_left is None else bool(is_left)
    if isinstance(is_left, (int, np.integer)) and is_left in (0, 1):
        return bool(is_left)
    raise ValueError(f"is_left must be True (a left hand), False (a right hand) or None (unknown: chosen by the "
                     f"network), got {is_left!r}")


def _pad_to_stride(x: np.ndarray, stride: int) -> np.ndarray:
    """(N, 3, S, S) network input -> (N, 3, P, P), P the next multiple of ``stride``, grey (0) added right and below.

    An output cell covers ``stride`` input pixels, so mirroring a P-wide input mirrors its P / stride cells exactly;
    for another width the mirrored maps would be shifted (by 2 px at S = 100)."""
    pad = padded_side(x.shape[-1], stride) - x.shape[-1]
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (0, pad), (0, pad)))  # 0 is the grey border colour after to_network_input


def padded_side(side: int, multiple: int) -> int:
    """``side`` rounded up to a multiple of ``multiple`` (the flip test's input side; checked against fixed ONNX
    shapes and fed alike)."""
    return -(-int(side) // int(multiple)) * int(multiple)


def _resize_maps(maps: np.ndarray, side: int) -> np.ndarray:
    """(N, C, h, w) -> (N, C, side, side) bilinear with half-pixel centres (maps of one box at another stride)."""
    out = np.empty(maps.shape[:2] + (side, side), np.float32)
    for i in range(maps.shape[0]):
        hwc = np.ascontiguousarray(maps[i].transpose(1, 2, 0), dtype=np.float32)  # (h, w, C)
        out[i] = (
            cv2.resize(hwc, (side, side), interpolation=cv2.INTER_LINEAR).reshape(side, side, -1).transpose(2, 0, 1)
        )
    return out


