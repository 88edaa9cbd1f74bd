#!/usr/bin/env bash
# The measurements of one GPU session (called by run.sh). Each bench runs Parley and llama.cpp's Vulkan backend
# on the same synthetic TinyLlama file in one process, so ratios compare like with like. Results: $OUT/*.json
# and steps.log. Kernels are tuned per type first (`parley tune`, stored under PARLEY_CACHE_DIR, so every later
# bench session uses the tuned settings; the sweeps still time each setting). A session has 15 minutes of device
# time, so the parts come in order of what matters, each under the device tool's 10-minute command limit:
#   PART=1 (default): the figures with the tuned kernels — check the GPU kernel set (defaults, integer dot
#     product, emulated cooperative matrices) against the float64 reference; tune Q4_0 and Q8_0; check the
#     cooperative-matrix prefill against the float64 reference and llama.cpp (real, then emulated: they must
#     agree); bench Q4_0 (decode, prefill 16/128/512, first token); per-kernel profiles of a 512-token prompt
#     step and a decode step; Q4_0 prefill through cooperative matrices; Q8_0.
#   PART=2: model load with 1 and with several repacking threads, decode profiles per type, Q4_0 and Q4_K_M with the matvec rows sweep, Q4_0 with the integer dot product decode,
#     Q4_0 with SwiGLU in the down product.
#   PART=3: Q8_0 and F16, long-context decode with three attention chunk sizes, the integer dot product GEMM,
#     older prefill kernels (products and attention) for comparison, conformance against llama.cpp's Vulkan backend (decode kernels
#     without and with the integer dot product, the integer dot product GEMM).
# A dry run of the plumbing on a machine without a GPU: SHAPE=tiny PEER_GPU=cpu PART=1|2|3 bash bench/gpu/steps.sh
# (PART=1's real cooperative-matrix steps then fail by design: lavapipe has none).
set -uo pipefail
OUT=${OUT:-/tmp/out}
SHAPE=${SHAPE:-tinyllama}
PEER_GPU=${PEER_GPU:-vulkan}
M=/tmp/parley-bench; mkdir -p $M
# One tuning store for every part (the machine stays warm between them; a fresh one tunes again).
export PARLEY_CACHE_DIR=${PARLEY_CACHE_DIR:-/tmp/parley-cache}
t() { echo "=== $* ($(date +%T))"; }
PART=${PART:-1}
t synth
TYPES="q4_0 q8_0"; [ "$PART" = 2 ] && TYPES="q4_0 q4_k_m q8_0"; [ "$PART" = 3 ] && TYPES="q4_0 q8_0 f16"
for q in $TYPES; do
  [ -f $M/$SHAPE-$q-seed1.gguf ] || node --import tsx runtime/cli.ts synth --shape $SHAPE --type $q --out $M/$SHAPE-$q-seed1.gguf > /dev/null &
done
wait
tune() {  # tune <type> [--force]: stored tunings are reused unless forced
  timeout 90 node --import tsx runtime/cli.ts tune --model $M/$SHAPE-$1-seed1.gguf ${2:-} --json > $OUT/tune-$1.json; echo "rc=$?"
  node -e 'const r=require(process.argv[1]); const ph=(p)=>({ms:p.msPerToken, defaultMs:p.defaultMsPerToken, candidates:p.candidates.map(c=>[JSON.stringify(c.tuning), c.msPerToken && +c.msPerToken.toFixed(4), c.logitError, c.error])}); console.log(JSON.stringify({tuning:r.tuning, decode:ph(r.decode), prefill:ph(r.prefill)}))' $OUT/tune-$1.json
}
if [ "$PART" = 1 ]; then
t "the GPU kernel set against the float64 reference (tiny models; 32-lane subgroups are untestable on lavapipe)"
PARLEY_CHECK_VALIDATION=0 timeout 90 node --import tsx test/fixtures/gpu-kernel-check.ts > $OUT/kernel-check.json; echo "rc=$?"; cat $OUT/kernel-check.json
for q in q4_0 q8_0; do
  t tune the kernels for $q
  tune $q --force
done
t cooperative-matrix prefill conformance: the real kernel, then its emulation "(the two must agree)"
PARLEY_PREFILL=coopmat timeout 100 node --import tsx test/conformance/run.ts --peer-gpu $PEER_GPU --types f16,q8_0,q4_0 --json > $OUT/conformance-prefill-coopmat.json; echo "rc=$?"
PARLEY_PREFILL=coopmat PARLEY_COOPMAT_EMULATE=1 timeout 100 node --import tsx test/conformance/run.ts --peer-gpu $PEER_GPU --types f16,q8_0,q4_0 --json > $OUT/conformance-prefill-coopmat-emulated.json; echo "rc=$?"
t "greedy tokens with the LM head's fused argmax and with the argmax dispatch (must be the same)"
for f in 1 0; do
  PARLEY_FUSED_ARGMAX=$f timeout 60 node --import tsx runtime/cli.ts generate --model $M/$SHAPE-q4_0-seed1.gguf --prompt "The smith said" --max-tokens 48 --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.stringify(JSON.parse(s).tokens))}catch(e){console.log("no output")}})' > $OUT/greedy-fused-$f.txt
done
cmp -s $OUT/greedy-fused-1.txt $OUT/greedy-fused-0.txt && echo "fused argmax: same tokens" || echo "fused argmax: DIFFERENT tokens"
t bench q4_0 with the tuned kernels
timeout 150 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --peer-gpu $PEER_GPU --prefill 16,128,512 --json > $OUT/bench-q4_0-tuned.json; echo "rc=$?"
t "where the time goes (q4_0, tuned kernels): one 512-token prompt step, then one decode step, per kernel"
PARLEY_PROFILE=1 timeout 60 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --skip-peer --prefill 512 --decode 4 --repeat 1 2>&1 | grep -B1 "parley: prefill 512 tokens" | grep -o "\[parley profile\].*" | tee $OUT/profile-prefill512-q4_0.txt
PARLEY_PROFILE=1 timeout 60 node --import tsx runtime/cli.ts generate --model $M/$SHAPE-q4_0-seed1.gguf --prompt "Hello there" --max-tokens 4 2>&1 | grep -o "\[parley profile\].*" | tail -1 | tee $OUT/profile-decode-q4_0.txt
t q4_0 prefill through cooperative matrices "(whatever the tuning chose)"
PARLEY_PREFILL=coopmat timeout 90 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --peer-gpu $PEER_GPU --prefill 128,512 --decode 8 --json > $OUT/bench-q4_0-prefill-coopmat.json; echo "rc=$?"
t bench q8_0 with the tuned kernels
timeout 120 node --import tsx bench/bench.ts --shape $SHAPE --type q8_0 --peer-gpu $PEER_GPU --prefill 512 --json > $OUT/bench-q8_0-tuned.json; echo "rc=$?"
fi
if [ "$PART" = 2 ]; then
t "model load (q4_0, file in the page cache): quantized blocks repacked on 1 thread, then on the default (the cores, at most 8)"
for th in 1 0 1 0; do
  ( [ $th = 1 ] && export PARLEY_LOAD_THREADS=1; timeout 30 node --import tsx runtime/cli.ts generate --model $M/$SHAPE-q4_0-seed1.gguf --prompt "Hi" --max-tokens 1 --json 2>/dev/null ) |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(process.argv[1], JSON.parse(s).timings.loadMs.toFixed(1), "ms")}catch(e){console.log("no output")}})' "threads=$([ $th = 1 ] && echo 1 || echo default)"
done | tee $OUT/load-threads.txt
t tune the kernels for q4_k_m
tune q4_k_m
t profile one decode step per type
for q in q4_0 q4_k_m q8_0; do
  PARLEY_PROFILE=1 node --import tsx runtime/cli.ts generate --model $M/$SHAPE-$q-seed1.gguf --prompt "Hello there" --max-tokens 4 2>&1 | grep "parley profile" | tail -1
done
for q in q4_0 q4_k_m; do
  t bench $q with the matvec rows sweep
  # 16-byte loads are swept on Q4_0 only, to keep each bench well inside its timeout (a killed bench loses its JSON).
  WIDE=0; [ "$q" = q4_0 ] && WIDE=0,1
  timeout 170 node --import tsx bench/bench.ts --shape $SHAPE --type $q --peer-gpu $PEER_GPU --prefill 16,128,512 --matvec-rows 1,2,4 --matvec-stage 0,1 --matvec-wide $WIDE --json > $OUT/bench-$q.json; echo "rc=$?"
done
t q4_0 decode with the integer dot product kernels instead of the float ones, for comparison
PARLEY_MATVEC_DOT8=1 timeout 100 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --peer-gpu $PEER_GPU --prefill 16 --matvec-rows 1,2,4 --json > $OUT/bench-q4_0-dot8.json; echo "rc=$?"
t "q4_0 decode with SwiGLU in the down product (the session-5 way), for comparison with the default pairs"
PARLEY_SWIGLU_PAIRS=0 timeout 100 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --peer-gpu $PEER_GPU --prefill 16 --matvec-rows 1,4 --json > $OUT/bench-q4_0-swiglu-in-down.json; echo "rc=$?"
fi
if [ "$PART" = 3 ]; then
for q in q8_0 f16; do
  t tune the kernels for $q "(stored ones are reused)"
  tune $q
done
t bench q8_0
timeout 150 node --import tsx bench/bench.ts --shape $SHAPE --type q8_0 --peer-gpu $PEER_GPU --json > $OUT/bench-q8_0.json; echo "rc=$?"
t bench f16 "(the issue's third decode target)"
timeout 120 node --import tsx bench/bench.ts --shape $SHAPE --type f16 --peer-gpu $PEER_GPU --prefill 512 --decode 64 --json > $OUT/bench-f16.json; echo "rc=$?"
t decode after a 700-token prompt, attention chunk 32 / 64 / 128
for c in 32 64 128; do
  PARLEY_ATTN_CHUNK=$c timeout 120 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --peer-gpu $PEER_GPU --decode-after 700 --prefill 128 --repeat 1 --json > $OUT/bench-ctx700-chunk$c.json; echo "rc=$?"
done
t prefill with the integer dot product GEMM, q4_0 and q8_0
for q in q4_0 q8_0; do
  PARLEY_PREFILL=gemm PARLEY_PREFILL_DOT8=1 timeout 90 node --import tsx bench/bench.ts --shape $SHAPE --type $q --peer-gpu $PEER_GPU --prefill 128,512 --decode 8 --json > $OUT/bench-$q-prefill-dot8.json; echo "rc=$?"
done
t prefill with the older 16-token kernel, for comparison with the tiled GEMM above
PARLEY_PREFILL=tiled16 timeout 100 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --peer-gpu $PEER_GPU --decode 8 --json > $OUT/bench-q4_0-prefill-tiled16.json; echo "rc=$?"
t prefill with the older attention kernel "(one workgroup per head and token)", for comparison
PARLEY_PREFILL_ATTENTION=0 timeout 100 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --peer-gpu $PEER_GPU --prefill 128,512 --decode 8 --json > $OUT/bench-q4_0-prefill-old-attention.json; echo "rc=$?"
t short prefill through the GEMM instead of the token tiles, for comparison
PARLEY_SHORT_PREFILL=0 timeout 100 node --import tsx bench/bench.ts --shape $SHAPE --type q4_0 --peer-gpu $PEER_GPU --prefill 16 --decode 8 --json > $OUT/bench-q4_0-short-gemm.json; echo "rc=$?"
t conformance against llama.cpp Vulkan
timeout 150 node --import tsx test/conformance/run.ts --peer-gpu $PEER_GPU --json > $OUT/conformance.json; echo "rc=$?"
t conformance of the decode kernels: one token per step, against llama.cpp Vulkan
timeout 150 node --import tsx test/conformance/run.ts --peer-gpu $PEER_GPU --decode --json > $OUT/conformance-decode.json; echo "rc=$?"
t the same with the integer dot product kernels
PARLEY_MATVEC_DOT8=1 timeout 150 node --import tsx test/conformance/run.ts --peer-gpu $PEER_GPU --decode --json > $OUT/conformance-decode-dot8.json; echo "rc=$?"
t prefill conformance with the integer dot product GEMM
PARLEY_PREFILL_DOT8=1 timeout 150 node --import tsx test/conformance/run.ts --peer-gpu $PEER_GPU --json > $OUT/conformance-prefill-dot8.json; echo "rc=$?"
fi
for f in $OUT/bench-*.json; do
  node -e 'let r; try { r=require(process.argv[1]); } catch (e) { console.log(process.argv[1].split("/").pop(), "unreadable:", e.message); process.exit(0); } const p=r.parley, q=r.peer; console.log(process.argv[1].split("/").pop(), JSON.stringify({decode:[+p.decode.medianMsPerToken.toFixed(3), +p.decodeLoop.medianMsPerToken.toFixed(3), p.decodeSampledLoop && +p.decodeSampledLoop.medianMsPerToken.toFixed(3), q && +q.decode.medianMsPerToken.toFixed(3)], prefill:p.prefill.map(x=>[x.tokens,+x.ms.toFixed(1), q?.prefill.find(y=>y.tokens===x.tokens)?.ms.toFixed(1)]), first:[p.firstToken.ms, q?.firstToken.ms], rows:p.matvecRowsSweep, plan:p.plan, tuning:p.tuning}))' $f
done
t done
