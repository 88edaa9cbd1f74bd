// Kernels on other subgroup sizes. GPUs run subgroups of 8 to 128 lanes and the kernels must not assume one
// (rows per workgroup, subgroup reductions, the fused argmax's per-subgroup candidates, the prompt attention's
// and the integer dot product's lane roles); lavapipe runs 8 unless LP_NATIVE_VECTOR_WIDTH says otherwise: 128
// bits give 4 lanes, 512 give 16 (its largest: Mesa's llvmpipe supports vectors of up to 512 bits, so 1024 —
// "32 lanes" — is outside what it can run, and gives wrong results there even for kernels right at 4, 8 and 16). This suite runs
// the GPU kernel set at both sizes (in a child process: the driver reads the variable when it loads) against the
// float64 reference: the defaults, the integer dot product kernels (which need 8 lanes: on 4 asking for them
// must be a typed error) and the cooperative-matrix prefill's emulated build.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Runtime } from "../../runtime/index.js";
import { REPO_ROOT } from "../fixtures/repo-root.js";

const root = REPO_ROOT;
const lavapipe = Runtime.listDevices().some((d) => d.driverName === "llvmpipe");

interface TopKCheck {
  groups: number;
  steps?: number;
  matches?: number;
  sampledLoopTokens?: number;
  sampledLoopSame?: boolean;
  error?: string;
}

interface CheckResult {
  model: string;
  setting: string;
  prompt?: number;
  decode?: number;
  greedyMatches?: number;
  error?: string;
}

describe.skipIf(!lavapipe)("subgroups of 4 and 16 lanes (lavapipe, LP_NATIVE_VECTOR_WIDTH)", () => {
  it.each([
    [128, 4],
    [512, 16],
  ])(
    "%i-bit vectors, %i-lane subgroups: the GPU kernels match the float64 reference",
    (bits, lanes) => {
      const r = spawnSync(process.execPath, ["--import", "tsx", "test/fixtures/gpu-kernel-check.ts"], {
        cwd: root,
        encoding: "utf8",
        timeout: 240_000,
        env: { ...process.env, LP_NATIVE_VECTOR_WIDTH: String(bits), PARLEY_DEVICE: "llvmpipe" },
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
        subgroupSize: number;
        integerDotKernels: boolean;
        positions: number;
        results: CheckResult[];
        topk: TopKCheck[];
        validation: number;
      };
      console.log(JSON.stringify(out));
      expect(out.subgroupSize).toBe(lanes);
      expect(out.integerDotKernels).toBe(lanes >= 8);
      expect(out.results.map((m) => `${m.model}: ${m.setting}`)).toEqual([
        "tiny q4_0: default",
        "tiny q4_0: integer dot",
        "tiny q4_0: coopmat",
        "tiny q4_0: coopmat emulated",
        "small q4_k_m: default",
      ]);
      for (const m of out.results) {
        const what = `${m.model}, ${m.setting}`;
        if (m.setting === "integer dot" && lanes < 8) {
          expect(m.error, what).toMatch(/^InvalidArgumentError: .*subgroups of 4; they need shuffles on at least 8/);
          continue;
        }
        if (m.setting === "coopmat") {
          // lavapipe has no cooperative matrices: only the emulated build runs here (a GPU run checks the real one).
          expect(m.error, what).toMatch(/^InvalidArgumentError: .*has no VK_NV_cooperative_matrix/);
          continue;
        }
        expect(m.error, what).toBeUndefined();
        // f16 KV cache and float32 sums: ~6e-4 as on 8 lanes (fp16 inputs for the coopmat build: 1e-3); the integer
        // dot product rounds x to bytes as llama.cpp does: ~2e-2. A kernel that drops or repeats lanes is O(1).
        const bound = m.setting === "integer dot" ? 5e-2 : 2e-3;
        expect(m.prompt, `${what}: prompt`).toBeLessThan(bound);
        expect(m.decode, `${what}: decode`).toBeLessThan(bound);
        expect(m.greedyMatches, `${what}: greedy`).toBe(out.positions);
      }
      // The top-64 kernel's scans run per subgroup: exact at every size, and the sampling loop built on it too.
      expect(out.topk.map((t) => t.groups)).toEqual([1, 32]);
      for (const t of out.topk) {
        expect(t.error, `topk, ${t.groups} slices`).toBeUndefined();
        expect(t.matches, `topk, ${t.groups} slices`).toBe(t.steps);
        expect(t.sampledLoopTokens).toBeGreaterThan(0);
        expect(t.sampledLoopSame, `sampling loop, ${t.groups} slices`).toBe(true);
      }
      expect(out.validation).toBe(0);
    },
    300_000,
  );
});
