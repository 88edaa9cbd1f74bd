// Kernels on 4-lane subgroups. GPUs have subgroups of 8 to 128 lanes and the kernels must not assume one size
// (rows per workgroup, subgroup reductions, the fused argmax's per-subgroup candidates, the prompt attention's
// lane roles); lavapipe normally runs 8, and LP_NATIVE_VECTOR_WIDTH=128 makes it run 4, so this suite runs
// the GPU kernel set there (in a child process: the driver reads the variable when it loads) against the
// float64 reference. The integer dot product kernels need 8 lanes: asking for them must be a typed error.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Runtime } from "../runtime/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const lavapipe = Runtime.listDevices().some((d) => d.driverName === "llvmpipe");

describe.skipIf(!lavapipe)("4-lane subgroups (lavapipe, LP_NATIVE_VECTOR_WIDTH=128)", () => {
  it("prompt steps and decode match the float64 reference; greedy tokens are the logits' argmax; no integer dot kernels", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/fixtures/subgroup-check.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, LP_NATIVE_VECTOR_WIDTH: "128", PARLEY_DEVICE: "llvmpipe" },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    console.log(JSON.stringify(out));
    expect(out.subgroupSize).toBe(4);
    expect(out.integerDotKernels).toBe(false);
    for (const m of out.results) {
      // f16 KV cache and float32 sums: ~6e-4 (as on 8-lane subgroups); a kernel that drops or repeats lanes is O(1).
      expect(m.prompt, `${m.model} prompt`).toBeLessThan(2e-3);
      expect(m.decode, `${m.model} decode`).toBeLessThan(2e-3);
      expect(m.greedyMatches, `${m.model} greedy`).toBe(out.positions);
    }
    expect(out.dot8Error).toMatch(/^InvalidArgumentError: .*subgroups of 4/);
    expect(out.validation).toBe(0);
  }, 300_000);
});
