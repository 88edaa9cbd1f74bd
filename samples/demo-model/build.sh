#!/bin/sh
# Rebuilds Parley's demo model from scratch in one command (the lead wires it as `npm run train:demo`):
#   corpus (corpus.ts) → training (train.py; CUDA when torch sees a GPU, else CPU) → GGUF export (export.ts)
#   → held-out evaluation, Parley vs llama.cpp, with sample replies (eval.ts).
# Needs PyTorch for /usr/bin/python3 (Debian's python3-torch; installed with apt-get when missing and run as root).
#
# Environment (defaults = the committed parley-demo.gguf, trained on one GPU in ~1.5 min):
#   DEMO_COUNT=14000 corpus samples   DEMO_STEPS=1600   DEMO_BATCH=16   DEMO_LR=2e-3   DEMO_WARMUP=100
#   DEMO_MAX_MINUTES=25 (stops early, keeping what it learned)   PYTHON=/usr/bin/python3
# On 2 CPU cores one step of batch 16 takes ~3 s: for a CPU-only build within ~15 min use
#   DEMO_COUNT=6000 DEMO_STEPS=560 DEMO_BATCH=8 DEMO_WARMUP=40 (held-out perplexity ~4.2 instead of ~1.4).
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
npx tsx samples/demo-model/corpus.ts --count "${DEMO_COUNT:-14000}"
$PY samples/demo-model/train.py --steps "${DEMO_STEPS:-1600}" --batch "${DEMO_BATCH:-16}" --lr "${DEMO_LR:-2e-3}" \
  --warmup "${DEMO_WARMUP:-100}" --eval-every 400 --max-minutes "${DEMO_MAX_MINUTES:-25}"
npx tsx samples/demo-model/export.ts
npx tsx samples/demo-model/eval.ts --replies
