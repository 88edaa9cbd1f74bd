#!/bin/sh
# Rebuilds Parley's demo model from scratch in one command (the lead wires it as `npm run train:demo`):
#   corpus (corpus.ts) → training (train.py; CUDA when torch sees a GPU, else CPU) → GGUF export (export.ts)
#   → held-out evaluation, Parley vs llama.cpp, with sample replies (eval.ts).
# Needs PyTorch for /usr/bin/python3 (Debian's python3-torch; installed with apt-get when missing and run as root).
#
# Environment (defaults = the committed parley-demo.gguf's run; training-log.txt records it):
#   DEMO_COUNT=16000 corpus samples   DEMO_STEPS=1400   DEMO_BATCH=16   DEMO_LR=2e-3   DEMO_WARMUP=80
#   DEMO_MAX_MINUTES=85: a time budget — the learning-rate schedule ends by then even when fewer steps fit
#   (on 2 shared CPU cores a step of batch 16 takes 3-10 s; on one GPU all 1400 steps take ~1.5 min)
#   A second phase continues from the first on a corpus richer in intent samples (its own seed), so the model
#   learns the graphs' intent ids as well as their lines: DEMO_PHASE2_COUNT=8000 DEMO_PHASE2_INTENT_SHARE=0.55
#   DEMO_PHASE2_STEPS=800 DEMO_PHASE2_MINUTES=24 (0 steps: one phase only)
#   PYTHON=/usr/bin/python3
set -eu
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
if ! $PY -c "import torch, numpy, matplotlib" 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && [ "$PY" = /usr/bin/python3 ]; then
    apt-get update && apt-get install -y python3-torch libopenblas0-pthread python3-numpy python3-matplotlib
  else
    echo "install PyTorch first: sudo apt-get install -y python3-torch libopenblas0-pthread python3-numpy python3-matplotlib" >&2
    exit 1
  fi
fi
npx tsx samples/demo-model/corpus.ts --count "${DEMO_COUNT:-16000}"
$PY samples/demo-model/train.py --steps "${DEMO_STEPS:-1400}" --batch "${DEMO_BATCH:-16}" --lr "${DEMO_LR:-2e-3}" \
  --warmup "${DEMO_WARMUP:-80}" --eval-every 200 --max-minutes "${DEMO_MAX_MINUTES:-85}"
if [ "${DEMO_PHASE2_STEPS:-800}" -gt 0 ]; then
  npx tsx samples/demo-model/corpus.ts --count "${DEMO_PHASE2_COUNT:-8000}" --seed 2 --intent-share "${DEMO_PHASE2_INTENT_SHARE:-0.55}" \
    --out samples/demo-model/.cache/corpus2
  $PY samples/demo-model/train.py --init samples/demo-model/.cache/train --corpus samples/demo-model/.cache/corpus2 \
    --out samples/demo-model/.cache/train2 --steps "${DEMO_PHASE2_STEPS:-800}" --batch "${DEMO_BATCH:-16}" --lr 1e-3 --warmup 30 \
    --eval-every 200 --max-minutes "${DEMO_PHASE2_MINUTES:-24}"
  npx tsx samples/demo-model/export.ts --in samples/demo-model/.cache/train2
else
  npx tsx samples/demo-model/export.ts
fi
npx tsx samples/demo-model/eval.ts --replies
