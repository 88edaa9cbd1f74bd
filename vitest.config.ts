import { defineConfig } from "vitest/config";

// Two projects (CONTRIBUTING.md):
// - unit: logic that needs no device: schemas, tokenizer, prompt building, the runner on a scripted backend.
//   Files run in parallel; test/fixtures/no-native.ts makes loading any native addon (Parley's Vulkan runtime,
//   llama.cpp) fail, so a test that needs one cannot hide in this project.
// - gpu: files named *.gpu.test.ts: they need the Vulkan runtime (lavapipe here), a real model, llama.cpp or a
//   browser. Two files run at once: one file keeps about 1.2 of this machine's two cores busy (lavapipe's
//   threads wait on small dispatches), and a pair finishes ~1.3× sooner than the two in turn (three at once
//   measured no better).
const GPU = "test/**/*.gpu.test.ts";

export default defineConfig({
  test: {
    // No kernel tuning stored on the developer's machine (~/.cache/parley/tuning) may change what the
    // suites compute: the default tuning store is off; the tuning suites pass their own folders.
    env: { PARLEY_TUNING_CACHE: "0" },
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: [GPU], setupFiles: ["test/fixtures/no-native.ts"], testTimeout: 30_000 },
      },
      {
        extends: true,
        test: { name: "gpu", include: [GPU], testTimeout: 240_000, hookTimeout: 300_000 },
      },
    ],
  },
});
