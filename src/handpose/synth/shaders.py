"""GLSL sources of the GL renderer: a skinned-skin program and a rigid-object program.

Both write two targets: the shaded colour (gamma-encoded RGB, alpha 1 where drawn) and an ID target holding
(object id, camera-space depth in cm); id 0 is the background. Lighting is in the camera frame (x right, y down,
z forward): up to ``MAX_LIGHTS`` coloured directional lights with wrap (soft-skin) diffuse that lets red light
reach further past the terminator, a Schlick-Fresnel Blinn specular, a hemisphere ambient taken from the
background's colours, and baked ambient occlusion. Skin detail (mottling, veins, creases, nails, sleeves, a watch
band, a ring) is computed per pixel from the rest-pose position, so it stays on the skin as the hand moves.
"""

from __future__ import annotations

from handpose.synth.kinematics import NUM_BONES

MAX_LIGHTS = 3  # rows of view.Lighting (looks.py and ablation.py make three)

_LIGHTING = f"""
#define MAX_LIGHTS {MAX_LIGHTS}
""" + """
uniform vec3 u_light_dir[MAX_LIGHTS];   // towards the light, camera frame
uniform vec3 u_light_col[MAX_LIGHTS];   // linear RGB intensity (0 = off)
uniform vec3 u_amb_top;        // hemisphere ambient (linear RGB): from above (-y) and below (+y)
uniform vec3 u_amb_bottom;

vec3 shade(vec3 base, vec3 N, vec3 V, vec3 wrap, float spec, float shininess, float ao) {
    vec3 col = base * mix(u_amb_bottom, u_amb_top, 0.5 - 0.5 * N.y) * ao;
    for (int i = 0; i < MAX_LIGHTS; i++) {
        vec3 L = u_light_dir[i];
        float ndl = dot(N, L);
        vec3 diff = clamp((vec3(ndl) + wrap) / (1.0 + wrap), 0.0, 1.0);
        col += base * u_light_col[i] * diff * mix(1.0, ao, 0.5);
        vec3 H = normalize(L + V);
        float fr = clamp(1.0 - dot(V, H), 0.0, 1.0);  // clamped: rounding can push it below 0
        float fr2 = fr * fr;
        float fres = 0.04 + 0.96 * fr2 * fr2 * fr;
        float s = pow(max(dot(N, H), 0.0), shininess) * fres * spec * step(0.0, ndl) * (shininess + 8.0) / 8.0;
        col += u_light_col[i] * s;
    }
    return col;
}
"""

SKIN_VERTEX = f"""
#version 330
#define NUM_BONES {NUM_BONES}
""" + """
uniform mat4 u_bones[NUM_BONES];  // rest hand frame -> camera frame, per bone (kinematics.BONE_NAMES)
uniform mat4 u_proj;
uniform vec4 u_puff;           // sleeve start cm, sleeve thickness, band start cm, band end cm
uniform float u_band_puff;
in vec3 in_pos;
in vec3 in_normal;
in vec4 in_bones;
in vec4 in_weights;
in vec4 in_attr0;              // nail, crease, ao, arm cm
in vec4 in_attr1;              // dominant bone, dorsal, 0, 0
out vec3 v_cam;
out vec3 v_normal;
out vec3 v_rest;
out vec3 v_rest_normal;
out vec4 v_attr;
out float v_dorsal;
flat out float v_bone;
void main() {
    mat4 M = in_weights.x * u_bones[int(in_bones.x)] + in_weights.y * u_bones[int(in_bones.y)]
           + in_weights.z * u_bones[int(in_bones.z)] + in_weights.w * u_bones[int(in_bones.w)];
    float arm = in_attr0.w;
    float puff = arm > u_puff.x ? u_puff.y : 0.0;
    if (arm > u_puff.z && arm < u_puff.w) puff = max(puff, u_band_puff);
    vec3 p = in_pos + in_normal * puff;
    vec4 c = M * vec4(p, 1.0);
    v_cam = c.xyz;
    v_normal = mat3(M) * in_normal;  // a left hand's matrices hold the mirror, so this mirrors too
    v_rest = in_pos;
    v_rest_normal = in_normal;
    v_attr = in_attr0;
    v_dorsal = in_attr1.y;
    v_bone = in_attr1.x;
    gl_Position = u_proj * c;
}
"""

SKIN_FRAGMENT = """
#version 330
uniform sampler3D u_noise;     // tiling value noise, 4 channels
uniform vec3 u_skin_back;      // linear RGB
uniform vec3 u_skin_palm;
uniform vec3 u_nail;
uniform vec3 u_sleeve;
uniform vec3 u_cuff;
uniform vec3 u_band;           // watch strap
uniform vec3 u_ring;           // ring metal
uniform vec4 u_puff;           // sleeve start cm, sleeve thickness, band start cm, band end cm
uniform vec4 u_ring_pos;       // rest-frame centre of the ring (xyz), its bone (w; -1 = none)
uniform vec3 u_ring_axis;
uniform float u_cuff_len;
uniform float u_glove;         // 1: a glove over the hand (cloth everywhere)
uniform vec3 u_detail;         // mottling, veins, creases strength
uniform float u_id;            // id of bone 0 of this hand
uniform float u_spec;
""" + _LIGHTING + """
in vec3 v_cam;
in vec3 v_normal;
in vec3 v_rest;
in vec3 v_rest_normal;
in vec4 v_attr;
in float v_dorsal;
flat in float v_bone;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec2 out_id;
void main() {
    vec3 V = normalize(-v_cam);
    vec3 N = normalize(v_normal);
    if (dot(N, V) < 0.0) N = normalize(N - 1.2 * dot(N, V) * V);  // skinning folds: keep the normal visible
    vec4 n1 = texture(u_noise, v_rest * 0.05);         // blotches over ~20 cm
    vec4 n2 = texture(u_noise, v_rest * 0.3 + 0.37);   // fine mottling, a few mm
    float arm = v_attr.w;
    float palm = smoothstep(-0.1, 0.6, v_rest_normal.z) * (1.0 - smoothstep(1.0, 5.0, arm));
    vec3 base = mix(u_skin_back, u_skin_palm, palm);
    base *= 1.0 + u_detail.x * ((n1.r - 0.5) * 1.2 + (n2.g - 0.5) * 0.6);
    float ridge = 1.0 - smoothstep(0.0, 0.035, abs(n1.b - 0.5));  // veins: a thin level set of the noise
    base = mix(base, base * vec3(0.78, 0.82, 1.02), ridge * v_dorsal * u_detail.y);
    base *= 1.0 - u_detail.z * v_attr.y * (0.7 + 0.6 * n2.a);
    vec3 wrap = vec3(0.55, 0.3, 0.22);
    float spec = u_spec * (0.7 + 0.6 * n2.b);
    float shin = 18.0;
    float nail = smoothstep(0.3, 0.6, v_attr.x);
    base = mix(base, u_nail, nail);
    spec = mix(spec, 0.6, nail);
    shin = mix(shin, 60.0, nail);
    if (u_ring_pos.w >= 0.0 && abs(v_bone - u_ring_pos.w) < 0.5
        && abs(dot(v_rest - u_ring_pos.xyz, u_ring_axis)) < 0.32) {
        base = u_ring; wrap = vec3(0.0); spec = 1.0; shin = 80.0;
    }
    if (arm > u_puff.z && arm < u_puff.w) { base = u_band; wrap = vec3(0.0); spec = 0.3; shin = 30.0; }
    if (arm > u_puff.x || u_glove > 0.5) {
        base = (arm > u_puff.x && arm < u_puff.x + u_cuff_len) ? u_cuff : u_sleeve;
        base *= 0.92 + 0.16 * n2.r;
        wrap = vec3(0.15); spec = 0.05; shin = 6.0;
    }
    vec3 col = shade(base, N, V, wrap, spec, shin, v_attr.z);
    out_color = vec4(pow(clamp(col, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
    out_id = vec2(u_id + v_bone, v_cam.z);
}
"""

OBJECT_VERTEX = """
#version 330
uniform mat4 u_model;          // object frame -> camera frame
uniform mat4 u_proj;
in vec3 in_pos;
in vec3 in_normal;
out vec3 v_cam;
out vec3 v_normal;
out vec3 v_obj;
void main() {
    vec4 c = u_model * vec4(in_pos, 1.0);
    v_cam = c.xyz;
    v_normal = mat3(u_model) * in_normal;
    v_obj = in_pos;
    gl_Position = u_proj * c;
}
"""

OBJECT_FRAGMENT = """
#version 330
uniform vec3 u_color;          // linear RGB
uniform vec3 u_color2;         // second colour: stripes, or the screen of a phone (object +z face)
uniform float u_pattern;       // 0 plain, 1 stripes, 2 screen
uniform float u_spec;
uniform float u_id;
""" + _LIGHTING + """
in vec3 v_cam;
in vec3 v_normal;
in vec3 v_obj;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec2 out_id;
void main() {
    vec3 V = normalize(-v_cam);
    vec3 N = normalize(v_normal);
    if (dot(N, V) < 0.0) N = -N;
    vec3 base = u_color;
    if (u_pattern > 0.5 && u_pattern < 1.5 && fract(v_obj.y * 0.8) < 0.5) base = u_color2;
    if (u_pattern > 1.5 && v_obj.z > 0.0 && abs(v_obj.x) < 3.0 && abs(v_obj.y) < 6.6) base = u_color2;
    vec3 col = shade(base, N, V, vec3(0.0), u_spec, 40.0, 1.0);
    out_color = vec4(pow(clamp(col, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
    out_id = vec2(u_id, v_cam.z);
}
"""
