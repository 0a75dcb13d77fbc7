#!/usr/bin/env bash
# The recipe of handpose's shipped models, from nothing but the renderer: render -> train the keypoint model and
# the hand detector -> evaluate -> export. Every step is a public `handpose` command; run it again with the same
# OUT to continue: finished renders and trainings are kept, unfinished trainings resume from their last checkpoint.
#
#   scripts/release.sh runs/release                 # CPU defaults: hours on 2 cores (run it under nohup)
#   KP_STEPS=6000 KP_BATCH=128 DEVICE=cuda WORKERS=16 scripts/release.sh runs/release   # one GPU
#
# Settings (environment): KP_COUNT, DET_COUNT (rendered images), KP_SIZE (keypoint input px), KP_STEPS, KP_BATCH,
# KP_LR, DET_STEPS, DET_BATCH, DET_SIZE, MINUTES (time limit of each training), DEVICE, WORKERS, TRAIN_FLAGS (more
# options for both trainings, e.g. "--amp --channels-last"), REAL_DATA (a folder of labelled real photos to report
# on; optional), EXPORT (0: no ONNX export), HANDPOSE (the command, default `handpose`).
set -euo pipefail
OUT=${1:?usage: scripts/release.sh OUT}
read -r -a HP <<< "${HANDPOSE:-handpose}"
read -r -a EXTRA <<< "${TRAIN_FLAGS:-}"
W=${WORKERS:-2}
DEV=${DEVICE:-auto}
KP_COUNT=${KP_COUNT:-40000}; DET_COUNT=${DET_COUNT:-8000}
KP_SIZE=${KP_SIZE:-128}; KP_STEPS=${KP_STEPS:-60000}; KP_BATCH=${KP_BATCH:-16}; KP_LR=${KP_LR:-4e-3}
DET_SIZE=${DET_SIZE:-320}; DET_STEPS=${DET_STEPS:-40000}; DET_BATCH=${DET_BATCH:-16}
MINUTES=${MINUTES:-100000}
mkdir -p "$OUT"

render() {  # render NAME DONE-MARKER ARGS...: once; a finished render leaves OUT/NAME.done
  local name=$1; shift
  if [ ! -f "$OUT/$name.done" ]; then
    "${HP[@]}" synth --out "$OUT/$name" --workers "$W" --overwrite "$@"
    touch "$OUT/$name.done"
  fi
}
train() {  # train RUN ARGS...: a fresh run, or the run's continuation when it has a checkpoint; a finished run is
  local run=$1; shift  # kept (`train --resume` refuses one: its summary.json says completed)
  if grep -qs '"stopped": "completed"' "$OUT/$run/summary.json"; then
    echo "$OUT/$run: finished (its summary.json says completed), kept"
  elif compgen -G "$OUT/$run/checkpoints/ckpt-*.pt" >/dev/null; then
    "${HP[@]}" train --resume "$OUT/$run" --time-limit "$MINUTES" ${EXTRA[@]+"${EXTRA[@]}"}
  else
    "${HP[@]}" train --out "$OUT/$run" --overwrite --time-limit "$MINUTES" "$@" ${EXTRA[@]+"${EXTRA[@]}"}
  fi
}

render data --count "$KP_COUNT" --size 256 --seed 0
render test --count 1000 --size 256 --seed 1000003
render scenes --scenes --count "$DET_COUNT" --seed 0
render scenes_test --scenes --count 300 --seed 1000003

train keypoints --preset lite --input-size "$KP_SIZE" --data "$OUT/data" --max-steps "$KP_STEPS" \
  --batch-size "$KP_BATCH" --lr "$KP_LR" --warmup-steps 200 --val-every 2000 --val-limit 500 --ckpt-every 1000 \
  --log-every 200 --workers "$W" --device "$DEV"
KP=$OUT/keypoints/best.safetensors; [ -f "$KP" ] || KP=$OUT/keypoints/model.safetensors
# the detector's backbone starts from the keypoint model's MobileNet front (10 of its 12 units)
train detector --task detect --data "$OUT/scenes/scenes/hands_coco.json" --init "$KP" --input-size "$DET_SIZE" \
  --max-steps "$DET_STEPS" --batch-size "$DET_BATCH" --val-every 2000 --val-limit 100 --ckpt-every 1000 \
  --log-every 200 --workers "$W" --device "$DEV"

DET=$OUT/detector/best.safetensors; [ -f "$DET" ] || DET=$OUT/detector/model.safetensors
"${HP[@]}" eval --weights "$KP" --data "$OUT/test" --split all --out "$OUT/eval_keypoints" --overwrite
"${HP[@]}" eval --task detect --weights "$DET" --data "$OUT/scenes_test/scenes/hands_coco.json" --split all \
  --out "$OUT/eval_detector" --overwrite
"${HP[@]}" eval --task detect --weights "$DET" --keypoints "$KP" --data "$OUT/scenes_test/scenes/hands_coco.json" \
  --split all --out "$OUT/eval_detector_refined" --overwrite
if [ -n "${REAL_DATA:-}" ]; then
  "${HP[@]}" eval --weights "$KP" --data "$REAL_DATA" --split all --out "$OUT/eval_real" --overwrite
fi
if [ "${EXPORT:-1}" != 0 ]; then
  "${HP[@]}" export --weights "$KP" --out "$OUT/keypoints.onnx" --int8 --calib-data "$OUT/test" --overwrite
  "${HP[@]}" export --weights "$DET" --out "$OUT/detector.onnx" --overwrite
  echo "release models: $KP $DET $OUT/keypoints.onnx $OUT/detector.onnx"
else
  echo "release models: $KP $DET (no ONNX export: EXPORT=0)"
fi
