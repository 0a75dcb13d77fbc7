"""Full scenes for hand detection: images (e.g. 640 x 480) with 0-4 hands from 12 px to most of the frame, and
one COCO keypoint json for them all.

Layout of ``out/FOLDER``: ``images/NNNNNNNN.jpg``, ``hands_coco.json`` and the manifest. The json has
``images`` (id, file_name, width, height), ``annotations`` (id, image_id, category_id 1, bbox [x, y, w, h] of the
hand's visible pixels and visible keypoints, area, iscrowd 0, keypoints: 63 numbers x, y, v with v = 2 visible and
0 hidden (x, y kept), num_keypoints, is_left 0/1, handedness "left"/"right") and ``categories`` (one "hand" with
the 21 keypoint names and the skeleton, 1-based as COCO writes it). Every annotated hand has a visible keypoint: a
hand left with none (hidden behind another, or off the frame) is taken out of the scene and the scene drawn again.
Scenes need the GL renderer. With ``distractors`` above 0, that share of scenes also holds one to three
skin-coloured heads and bare limbs (``synth.people``), labelled nothing: hard negatives for a detector; scenes
without them render the same pixels whatever ``distractors`` is. With ``beside_heads`` above 0, each hand of a scene
with heads is, with that chance, held beside one of them at its person's scale (``people.beside_head``) instead of
anywhere at any size; at 0 every scene renders as before.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from handpose.folder_lock import RunLock
from handpose.synth import gl_scene
from handpose.synth.camera import Camera
from handpose.synth.generate import RENDERER_VERSION
from handpose.synth.gl_context import (
    GLUnavailableError,
    gl_driver,
    gl_failure_reason,
    gl_install_hint,
    resolve_renderer,
)
from handpose.synth.gl_render import get_renderer
from handpose.synth.looks import sample_lighting
from handpose.synth.output_folder import (
    SCENES_DESCRIPTION,
    SCENES_JSON,
    adopt_images,
    check_request,
    mark_jpeg,
    prepare_folder,
    samples_taken,
    synth_outputs,
    write_file,
    write_manifest,
)
from handpose.synth.people import beside_head, skin_distractors
from handpose.synth.photos import sample_background
from handpose.synth.pose_prior import sample_view
from handpose.synth.render_pool import render_in_workers
from handpose.synth.scene import camera_effects
from handpose.synth.scenes_json import SceneLabels
from handpose.synth.view import BONES_PER_HAND_ID, View, hand_id
from handpose.synth.writer import check_folder_name

LOG = logging.getLogger(__name__)

JSON_NAME = SCENES_JSON
HAND_COUNT_WEIGHTS = np.array([0.08, 0.4, 0.3, 0.12, 0.1])  # 0..4 hands
MIN_SPAN_PX = 12.0
_CHUNK = 32


def _place(hand: gl_scene.PosedHand, rotation: np.ndarray, camera: Camera, span_px: float, centre_px: np.ndarray
           ) -> np.ndarray:
    """(4, 4) hand -> camera placing the hand's keypoints across about ``span_px`` around pixel ``centre_px``."""
    rot = hand.model.joints @ rotation.T  # (21, 3)
    mid = 0.5 * (rot.min(0) + rot.max(0))
    extent = float(np.max(rot.max(0)[:2] - rot.min(0)[:2])) + 2.0
    depth = max(camera.f * extent / span_px, 10.0 + 0.5 * float(np.ptp(rot[:, 2])))
    target = camera.point_at(centre_px, depth)
    H = np.eye(4)
    H[:3, :3] = rotation
    H[:3, 3] = target - mid
    return H


def _box(ids: np.ndarray, index: int, pts: np.ndarray) -> list[float]:
    """[x, y, w, h] around hand ``index``'s pixels (the forearm left out) and its visible keypoints (pixel edges
    at +-0.5 around pixel centres), clipped to the image."""
    h, w = ids.shape
    lo, hi = hand_id(index, 0), hand_id(index, BONES_PER_HAND_ID)
    mask = (ids >= lo) & (ids < hi) & (ids != hand_id(index, 20))  # 20: the forearm bone
    ys, xs = np.nonzero(mask)
    vis = pts[pts[:, 2] > 0, :2]
    x_all = np.concatenate([xs.astype(np.float64), vis[:, 0]])
    y_all = np.concatenate([ys.astype(np.float64), vis[:, 1]])
    x0, x1 = max(float(x_all.min()) - 0.5, 0.0), min(float(x_all.max()) + 0.5, float(w))
    y0, y1 = max(float(y_all.min()) - 0.5, 0.0), min(float(y_all.max()) + 0.5, float(h))
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def render_scene_image(seed: int, index: int, width: int, height: int, distractors: float = 0.0,
                       beside_heads: float = 0.0) -> tuple[np.ndarray, list[dict], int]:
    """(image (H, W, 3) BGR uint8, annotations without ids, JPEG quality) of scene ``index``; ``distractors``: the
    chance that it holds skin-coloured heads and limbs, ``beside_heads`` the chance that each of its hands is
    held beside one of those heads (module docstring)."""
    rngs = [np.random.default_rng(c) for c in np.random.SeedSequence([seed, index, 7]).spawn(6)]
    hand_rng, look_rng, bg_rng, fx_rng, people_rng, owner_rng = rngs  # spawn(n)'s first are spawn(n - 1)'s
    fov = np.radians(hand_rng.uniform(45.0, 75.0))
    f = 0.5 * width / np.tan(0.5 * fov)
    camera = Camera(f=float(f), cx=(width - 1) / 2.0, cy=(height - 1) / 2.0)
    n = int(hand_rng.choice(len(HAND_COUNT_WEIGHTS), p=HAND_COUNT_WEIGHTS))
    top = 0.9 * min(width, height)
    people, heads = skin_distractors(people_rng, camera, (width, height)) if people_rng.random() < distractors \
        else ([], [])
    hands, objects = [], []
    for _ in range(n):
        hand = gl_scene.sample_hand(hand_rng)
        rotation, _ = sample_view(hand_rng)
        span = float(np.exp(hand_rng.uniform(np.log(MIN_SPAN_PX), np.log(top))))
        centre = hand_rng.uniform([0.05 * width, 0.05 * height], [0.95 * width, 0.95 * height])
        if heads and owner_rng.random() < beside_heads:  # drawn from its own stream: the rest stays as it was
            centre, span = beside_head(owner_rng, camera, (width, height), heads[int(owner_rng.integers(len(heads)))])
        H = _place(hand, rotation, camera, span, centre)
        is_left = bool(hand_rng.random() < 0.5)
        hands.append(gl_scene.instance(hand, H, is_left, look_rng))
        held = gl_scene.held_instance(hand, H, is_left, look_rng)
        objects.append(held)
    skin = np.array(hands[0].look.skin_back) ** (1 / 2.2) * 255.0 if hands else np.array([120.0, 150.0, 200.0])
    canvas, _ = sample_background(bg_rng, width, height, skin[::-1])
    lighting = sample_lighting(look_rng, canvas)
    renderer = get_renderer()
    while True:
        view = View(camera=camera, size=(width, height), hands=hands,
                    objects=[o for o in objects if o is not None] + people, lighting=lighting)
        rgba, ids, depth = renderer.render(view)
        pts = [gl_scene.keypoints(hand, camera, ids, depth, k) for k, hand in enumerate(hands)]
        empty = [k for k, p in enumerate(pts) if not np.any(p[:, 2] > 0)]
        if not empty:
            break
        hands = [hd for k, hd in enumerate(hands) if k not in empty]  # drop them and draw the scene again
        objects = [o for k, o in enumerate(objects) if k not in empty]
    image = camera_effects(fx_rng, gl_scene.composite(canvas, rgba))
    anns = []
    for k, (hand, p) in enumerate(zip(hands, pts)):
        kp = []
        for x, y, v in p:
            kp += [round(float(x), 2), round(float(y), 2), 2 if v > 0 else 0]
        anns.append({"bbox": _box(ids, k, p), "keypoints": kp, "num_keypoints": int(np.count_nonzero(p[:, 2] > 0)),
                     "is_left": int(hand.is_left), "handedness": "left" if hand.is_left else "right",
                     "category_id": 1, "iscrowd": 0})
    for a in anns:
        a["area"] = round(a["bbox"][2] * a["bbox"][3], 2)
    return image, anns, int(fx_rng.integers(70, 96))


def _write_range(task: tuple[str, int, int, int, int, int, float, float]) -> list[tuple[int, list[dict]]]:
    folder, seed, width, height, start, stop, distractors, beside_heads = task
    out = []
    for i in range(start, stop):
        image, anns, quality = render_scene_image(seed, i, width, height, distractors, beside_heads)
        ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for scene {i}")
        write_file(Path(folder) / "images" / f"{i:08d}.jpg", mark_jpeg(jpg.tobytes()))
        out.append((i, anns))
    return out


def scene_options(distractors: float, beside_heads: float) -> dict[str, float]:
    """The options a scene set was rendered with, as its json and manifest record them (those in use only)."""
    used = {"skin_distractors": distractors, "hands_beside_heads": beside_heads}
    return {k: v for k, v in used.items() if v > 0.0}


def write_scenes(out: Path, count: int, seed: int, width: int = 640, height: int = 480, workers: int = 1,
                 folder: str = "scenes", renderer: str = "auto", overwrite: bool = False,
                 distractors: float = 0.0, beside_heads: float = 0.0) -> Path:
    """Render ``count`` scene images into ``out/folder`` with one COCO json; returns the folder. ``distractors``:
    the share of scenes with skin-coloured heads and limbs, ``beside_heads`` the chance that a hand of such a scene
    is held beside one of its heads (module docstring)."""
    check_folder_name(folder)
    if not 0.0 <= distractors <= 1.0:
        raise ValueError(f"--skin-distractors must lie in [0, 1], got {distractors}")
    if not 0.0 <= beside_heads <= 1.0:
        raise ValueError(f"--hands-beside-heads must lie in [0, 1], got {beside_heads}")
    if beside_heads > 0.0 and distractors == 0.0:
        raise ValueError("--hands-beside-heads needs heads to hold hands beside: give --skin-distractors too")
    target = Path(out) / folder
    workers = check_request(count, (width, height), workers, seed, target, size_flag="--scene-size")
    if renderer == "fallback":
        raise ValueError("--scenes needs the GL renderer (--renderer gl or auto): the capsule renderer draws no "
                         "scenes")
    try:  # auto or gl: without a context, say why (not a fallback that draws no scenes)
        resolve_renderer("gl")
    except GLUnavailableError:
        raise ValueError(f"--scenes needs OpenGL and there is no context here ({gl_failure_reason()}); "
                         f"{gl_install_hint()}") from None
    lock = RunLock(target, "render", remove=True)  # from the folder's checks to the end: one render at a time
    own = prepare_folder(target, overwrite, samples_taken(count, "images", (".jpg",), also=(JSON_NAME,)),
                         kind="scenes", lock=lock)
    with lock:
        (target / "images").mkdir(exist_ok=True)
        info = {"kind": "scenes", "seed": seed, "count": count, "size": [width, height], "renderer": "gl",
                "renderer_version": RENDERER_VERSION, "gl_driver": gl_driver(),
                **scene_options(distractors, beside_heads)}
        ours = synth_outputs(target)  # an earlier render's json and images (listed or marked): a user's own stay
        if JSON_NAME in ours:  # its labels would otherwise stand beside new pictures while this render runs
            adopt_images(target, sorted(n for n in ours if n.startswith("images/")))  # an older render's: marked now
            (target / JSON_NAME).unlink()
        if own:
            write_manifest(target, {**info, "complete": False})
            for path in (target / "images").glob("*.jpg"):  # an earlier render's images past this one's count
                numbered = len(path.stem) == 8 and path.stem.isdigit()
                if f"images/{path.name}" in ours and numbered and int(path.stem) >= count:
                    path.unlink()
        t0 = time.perf_counter()
        tasks = [(str(target), seed, width, height, s, min(s + _CHUNK, count), distractors, beside_heads)
                 for s in range(0, count, _CHUNK)]
        doc_info = {"description": SCENES_DESCRIPTION, "seed": seed, "renderer_version": RENDERER_VERSION,
                    **scene_options(distractors, beside_heads)}
        with SceneLabels(target, JSON_NAME, count, width, height, doc_info) as labels:  # spooled: memory stays flat
            if workers == 1 or len(tasks) <= 1:
                for task in tasks:
                    labels.add(_write_range(task))
            else:
                for chunk in render_in_workers(_write_range, tasks, workers, str(target)):
                    labels.add(chunk)
            labels.finish()  # atomic: a full disk leaves no cut json
        if own:
            write_manifest(target, {**info, "complete": True})
        LOG.info("wrote %d scenes with %d hands to %s in %.1f s", count, labels.hands, target,
                 time.perf_counter() - t0)
        return target
