#!/usr/bin/env bash
# Run HERE (the build machine) before a lent GPU session: fills the ignored folder .gpu/ with what the GPU
# host lacks (../shared/gpu-kit: Node.js, the Vulkan loader, llama.cpp's Vulkan build), the runtime's
# JavaScript dependencies (tsx and friends, not all of node_modules: the carry limit is 64 MiB) and the
# freshly built addon. Then, with the device tool: run(command: "OUT=$OUT bash bench/gpu/run.sh",
# carry: [".gpu"]). See docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
kit=${GPU_KIT:-../shared/gpu-kit}
mkdir -p .gpu
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
cp -r "$kit"/node.xz "$kit"/debs "$kit"/llamacpp-vulkan.tar.xz .gpu/
node native/build.mjs --if-missing
cp native/build/Release/parley.node .gpu/parley.node
tar -cJf .gpu/deps.tar.xz node_modules/tsx node_modules/esbuild node_modules/@esbuild node_modules/llama-tokenizer-js \
  node_modules/@huggingface node_modules/@lenml node_modules/node-addon-api $(ls -d node_modules/get-tsconfig node_modules/resolve-pkg-maps 2>/dev/null)
du -sh .gpu
