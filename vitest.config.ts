import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // The Vulkan runtime and llama.cpp each use native threads; run test files one at a time
    // so two 2-core-hungry suites do not fight and time out.
    fileParallelism: false,
    // No kernel tuning stored on the developer's machine (~/.cache/parley/tuning) may change what the
    // suites compute: the default tuning store is off; the tuning suites pass their own folders.
    env: { PARLEY_TUNING_CACHE: "0" },
  },
});
