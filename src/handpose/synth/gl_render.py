"""The OpenGL rasteriser: skinned hands and rigid objects into a colour image and an ID + depth buffer.

One ``GLRenderer`` per process holds the context, both programs, the rest mesh's vertex buffer (uploaded once:
a pose only changes 21 bone matrices) and a framebuffer per image size. Colour and IDs come from one pass without
multisampling (4x MSAA costs llvmpipe about three times the whole pass), so every pixel holds exactly one
object's id; the compositor softens the silhouette instead. The projection reproduces ``Camera.project``
exactly: a keypoint at pixel (x, y) of the labels is at pixel (x, y) of the picture.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np

from handpose.synth import shaders
from handpose.synth.camera import NEAR_CM, Camera
from handpose.synth.gl_context import GLUnavailableError, gl_context
from handpose.synth.mesh import rest_mesh
from handpose.synth.objects import object_meshes
from handpose.synth.view import OBJECT_ID0, View, hand_id

LOG = logging.getLogger(__name__)

FAR_CM = 5000.0


def projection(camera: Camera, width: int, height: int) -> np.ndarray:
    """(4, 4) camera frame -> clip space. Image row 0 goes to window row 0 (the first row ``read`` returns)."""
    n, f = NEAR_CM, FAR_CM
    P = np.zeros((4, 4))
    P[0, 0] = 2.0 * camera.f / width
    P[0, 2] = 2.0 * (camera.cx + 0.5) / width - 1.0
    P[1, 1] = 2.0 * camera.f / height
    P[1, 2] = 2.0 * (camera.cy + 0.5) / height - 1.0
    P[2, 2] = (f + n) / (f - n)
    P[2, 3] = -2.0 * f * n / (f - n)
    P[3, 2] = 1.0
    return P


def _mat_bytes(m: np.ndarray) -> bytes:
    """Row-major numpy matrices (..., 4, 4) -> the column-major float32 bytes GLSL expects."""
    return np.ascontiguousarray(np.swapaxes(m, -1, -2), dtype=np.float32).tobytes()


def _noise_volume(side: int = 32) -> np.ndarray:
    """(side, side, side, 4) uint8 smooth tiling value noise, the same in every process."""
    from scipy.ndimage import gaussian_filter

    raw = np.random.default_rng(20240516).random((4, side, side, side))
    vol = np.stack([gaussian_filter(raw[c], 1.3, mode="wrap") for c in range(4)], -1)  # (s, s, s, 4)
    vol = (vol - vol.mean((0, 1, 2))) / (vol.std((0, 1, 2)) * 6.0) + 0.5
    return np.clip(vol * 255.0, 0, 255).astype(np.uint8)


class GLRenderer:
    """Renders ``View`` objects; build it with ``get_renderer()`` (one per process)."""

    def __init__(self, ctx: Any) -> None:
        import moderngl

        self.ctx = ctx
        self._mgl = moderngl
        self.skin = ctx.program(vertex_shader=shaders.SKIN_VERTEX, fragment_shader=shaders.SKIN_FRAGMENT)
        self.obj = ctx.program(vertex_shader=shaders.OBJECT_VERTEX, fragment_shader=shaders.OBJECT_FRAGMENT)
        mesh = rest_mesh()
        data = np.concatenate([mesh.vertices, mesh.normals, mesh.bones.astype(np.float32), mesh.weights,
                               mesh.attrs], axis=1).astype(np.float32)  # (V, 22)
        self._keep = [ctx.buffer(data.tobytes()), ctx.buffer(mesh.faces.astype(np.int32).tobytes())]
        self.hand_vao = ctx.vertex_array(
            self.skin, [(self._keep[0], "3f 3f 4f 4f 4f 4f", "in_pos", "in_normal", "in_bones", "in_weights",
                         "in_attr0", "in_attr1")], index_buffer=self._keep[1], index_element_size=4)
        self.object_vaos = {}
        for name, (V, N, F) in object_meshes().items():
            vbo = ctx.buffer(np.concatenate([V, N], 1).astype(np.float32).tobytes())
            ibo = ctx.buffer(F.astype(np.int32).tobytes())
            self._keep += [vbo, ibo]
            self.object_vaos[name] = ctx.vertex_array(self.obj, [(vbo, "3f 3f", "in_pos", "in_normal")],
                                                      index_buffer=ibo, index_element_size=4)
        self.noise = ctx.texture3d((32, 32, 32), 4, _noise_volume().tobytes())
        self.noise.repeat_x = self.noise.repeat_y = self.noise.repeat_z = True
        self.noise.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.skin["u_noise"].value = 0
        self._targets: dict[tuple[int, int], Any] = {}

    def _framebuffer(self, size: tuple[int, int]) -> Any:
        """The framebuffer (colour RGBA8, ID + depth RG32F, depth buffer) for ``size`` (w, h)."""
        if size not in self._targets:
            ctx = self.ctx
            if len(self._targets) > 4:
                self._targets.clear()
            self._targets[size] = ctx.framebuffer(
                [ctx.renderbuffer(size, 4), ctx.renderbuffer(size, 2, dtype="f4")], ctx.depth_renderbuffer(size))
        return self._targets[size]

    def _set_lighting(self, prog: Any, view: View) -> None:
        lt = view.lighting
        prog["u_light_dir"].write(lt.directions.astype(np.float32).tobytes())
        prog["u_light_col"].write(lt.colors.astype(np.float32).tobytes())
        prog["u_amb_top"].value = tuple(float(v) for v in lt.ambient_top)
        prog["u_amb_bottom"].value = tuple(float(v) for v in lt.ambient_bottom)

    def _draw(self, view: View, proj: bytes) -> None:
        """Draw every hand and object into the bound framebuffer."""
        sk = self.skin
        sk["u_proj"].write(proj)
        self._set_lighting(sk, view)
        self.noise.use(0)
        for h, hand in enumerate(view.hands):
            lk = hand.look
            sk["u_bones"].write(_mat_bytes(hand.matrices))
            sk["u_puff"].value = (lk.sleeve_start, lk.sleeve_puff, lk.band[0], lk.band[1])
            sk["u_band_puff"].value = lk.band_puff
            for name in ("skin_back", "skin_palm", "nail", "sleeve", "cuff"):
                sk[f"u_{name}"].value = tuple(float(v) for v in getattr(lk, name))
            sk["u_band"].value = tuple(float(v) for v in lk.band_color)
            sk["u_ring"].value = tuple(float(v) for v in lk.ring_color)
            sk["u_ring_pos"].value = (*(float(v) for v in lk.ring_centre), float(lk.ring_bone))
            sk["u_ring_axis"].value = tuple(float(v) for v in lk.ring_axis)
            sk["u_cuff_len"].value = lk.cuff_len
            sk["u_glove"].value = 1.0 if lk.glove else 0.0
            sk["u_detail"].value = tuple(float(v) for v in lk.detail)
            sk["u_spec"].value = lk.spec
            sk["u_id"].value = float(hand_id(h, 0))
            self.hand_vao.render()
        if view.objects:
            ob = self.obj
            ob["u_proj"].write(proj)
            self._set_lighting(ob, view)
            for k, o in enumerate(view.objects):
                ob["u_model"].write(_mat_bytes(o.model))
                ob["u_color"].value = tuple(float(v) for v in o.color)
                ob["u_color2"].value = tuple(float(v) for v in o.color2)
                ob["u_pattern"].value = float(o.pattern)
                ob["u_spec"].value = o.spec
                ob["u_id"].value = float(OBJECT_ID0 + k)
                self.object_vaos[o.name].render()

    def render(self, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One pass: (colour (H, W, 4) uint8 RGBA, alpha 255 where drawn; ids (H, W) int32; depth (H, W) float32
        cm, inf where empty). Silhouettes are aliased here; ``composite`` softens them."""
        w, h = view.size
        fbo = self._framebuffer((w, h))
        self.ctx.enable(self._mgl.DEPTH_TEST)
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self._draw(view, _mat_bytes(projection(view.camera, w, h)))
        rgba = np.frombuffer(fbo.read(components=4), np.uint8).reshape(h, w, 4)
        idz = np.frombuffer(fbo.read(components=2, attachment=1, dtype="f4"), np.float32).reshape(h, w, 2)
        ids = idz[..., 0].astype(np.int32)  # (H, W)
        depth = np.where(ids > 0, idz[..., 1], np.inf).astype(np.float32)
        return rgba, ids, depth


@functools.lru_cache(maxsize=1)
def get_renderer() -> GLRenderer:
    """The process's renderer (raises GLUnavailableError where no GL context can be made)."""
    ctx = gl_context(warn=False)
    if ctx is None:
        raise GLUnavailableError("no OpenGL context")
    return GLRenderer(ctx)
