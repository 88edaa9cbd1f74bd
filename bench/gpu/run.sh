#!/usr/bin/env bash
# Runs ON the lent GPU host (carry: [".gpu"], prepared by prepare.sh): sets up Node.js, the Vulkan loader and
# llama.cpp from .gpu/, then runs steps.sh, keeping every output under $OUT (it comes back to the build machine).
set -uo pipefail
cd "$(dirname "$0")/../.."
for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done; ldconfig
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node && export PATH=/tmp:$PATH
xz -dc .gpu/llamacpp-vulkan.tar.xz | tar -x -C .
tar -xJf .gpu/deps.tar.xz -C .
export PARLEY_ADDON=$PWD/.gpu/parley.node
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv 2>&1 | tee "$OUT/gpu.txt"
node --import tsx runtime/cli.ts devices 2>&1 | tee "$OUT/devices.txt"
bash "${STEPS:-bench/gpu/steps.sh}" 2>&1 | tee "$OUT/steps.log"
