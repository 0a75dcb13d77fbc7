#!/usr/bin/env bash
# What each part of the renderer's realism adds: the lite recipe trained for the same number of steps on renders
# with everything, and on renders with one part taken away (`handpose synth --ablate`), each scored on held-out
# full renders and, with REAL_DATA, on labelled real photos in their ground-truth boxes. Runs again with the same
# OUT to continue: finished renders, trainings and evaluations are kept.
#
#   REAL_DATA=my_photos scripts/ablation.sh runs/ablation     # about 6 minutes a variant on 2 cores
#
# Settings (environment): VARIANTS (default "full lighting backgrounds pose-prior"), COUNT (training renders,
# default 8000), STEPS (default 3700, the demo's budget on 2 cores), SEED (of the training renders and of the
# training, default 0), WORKERS, REAL_DATA, HANDPOSE (the command).
set -euo pipefail
OUT=${1:?usage: scripts/ablation.sh OUT}
read -r -a HP <<< "${HANDPOSE:-handpose}"
read -r -a VARIANTS <<< "${VARIANTS:-full lighting backgrounds pose-prior}"
COUNT=${COUNT:-8000}; STEPS=${STEPS:-3700}; W=${WORKERS:-2}; SEED=${SEED:-0}
mkdir -p "$OUT"

once() {  # once MARKER COMMAND...: run COMMAND unless OUT/MARKER.done exists, then leave it
  local marker=$1; shift
  if [ ! -f "$OUT/$marker.done" ]; then "$@"; touch "$OUT/$marker.done"; fi
}

once test "${HP[@]}" synth --out "$OUT/test" --count 1000 --size 256 --seed 1000003 --workers "$W" --overwrite
for v in "${VARIANTS[@]}"; do
  ablate=$v; [ "$v" = full ] && ablate=""
  once "data_$v" "${HP[@]}" synth --out "$OUT/data_$v" --count "$COUNT" --size 256 --seed "$SEED" --workers "$W" \
    --ablate "$ablate" --overwrite
  once "train_$v" "${HP[@]}" train --data "$OUT/data_$v" --preset lite --out "$OUT/train_$v" --max-steps "$STEPS" \
    --val-limit 100 --workers 1 --seed "$SEED" --overwrite
  once "eval_$v" "${HP[@]}" eval --weights "$OUT/train_$v/best.safetensors" --data "$OUT/test" --split all \
    --out "$OUT/eval_$v"
  if [ -n "${REAL_DATA:-}" ]; then
    once "real_$v" "${HP[@]}" eval --weights "$OUT/train_$v/best.safetensors" --data "$REAL_DATA" --split all \
      --out "$OUT/real_$v"
  fi
done
python3 - "$OUT" "${VARIANTS[@]}" <<'PY'
import json, sys
from pathlib import Path
out, variants = Path(sys.argv[1]), sys.argv[2:]
print(f"{'renders':24s} {'held-out PCK@0.2':>16s} {'AUC':>6s} {'real PCK@0.2':>13s} {'AUC':>6s}")
for v in variants:
    test = json.loads((out / f"eval_{v}" / "eval_report.json").read_text())["metrics"]
    real_file = out / f"real_{v}" / "eval_sets.json"
    real = ""
    if real_file.is_file():
        rows = json.loads(real_file.read_text())
        every = rows["all"] if "all" in rows else rows
        real = f"{every['PCK@0.2']:13.3f} {every['AUC']:6.3f}"
    name = "everything" if v == "full" else f"without {v}"
    print(f"{name:24s} {test['PCK@0.2']:16.3f} {test['AUC']:6.3f} {real}")
PY
