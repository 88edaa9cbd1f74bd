// The `parley` command as a user runs it: the compiled bin (dist/runtime/cli.js, built by `npm test`'s pretest).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readGguf } from "../runtime/gguf/reader.js";
import { scratchPath, syntheticModel } from "./fixtures/models.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = `${root}dist/runtime/cli.js`;

function parley(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8", timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("parley CLI", () => {
  it("is built", () => {
    expect(existsSync(bin)).toBe(true);
  });

  it("devices lists the Vulkan devices, as text and as JSON", () => {
    const text = parley("devices");
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/\[0\] .+\((discrete|integrated|virtual|cpu|other)\)/);
    expect(text.stdout).toMatch(/subgroup size:\s+\d+/);
    expect(text.stdout).toMatch(/integer dot product: (yes|no)/);
    const json = JSON.parse(parley("devices", "--json").stdout);
    expect(json[0]).toHaveProperty("driverName");
    expect(json[0]).toHaveProperty("cooperativeMatrix");
  });

  it("synth writes a model that info describes", async () => {
    const out = scratchPath("cli-synth.gguf");
    const r = parley("synth", "--shape", "tiny", "--type", "q8_0", "--seed", "5", "--out", out);
    expect(r.status).toBe(0);
    expect(statSync(out).size).toBeGreaterThan(1_000_000);
    const file = await readGguf(out);
    expect(file.getString("general.architecture")).toBe("llama");
    const info = parley("info", out);
    expect(info.status).toBe(0);
    expect(info.stdout).toMatch(/architecture:\s+llama/);
    expect(info.stdout).toMatch(/Q8_0/);
    const json = JSON.parse(parley("info", out, "--json").stdout);
    expect(json.vocabSize).toBe(32000);
    expect(json.layers).toBe(2);
  });

  it("generate --json prints one object with token ids, text and timings; the seed makes it repeatable", async () => {
    const model = await syntheticModel("tiny", "q4_0");
    const run = () => parley("generate", "--model", model, "--prompt", "Hello, innkeeper!", "--chat", "--max-tokens", "6", "--temp", "0.9", "--seed", "3", "--json");
    const a = run();
    expect(a.status).toBe(0);
    const lines = a.stdout.trim().split("\n");
    expect(lines.length).toBe(1);
    const out = JSON.parse(lines[0]);
    expect(out.tokens.length).toBeGreaterThan(0);
    expect(out.tokens.every((t: unknown) => Number.isInteger(t))).toBe(true);
    expect(typeof out.text).toBe("string");
    expect(out.timings.generatedTokens).toBe(out.tokens.length);
    expect(out.timings.promptTokens).toBeGreaterThan(5);
    expect(JSON.parse(run().stdout).tokens).toEqual(out.tokens);
  });

  it("bench --plan prints the decode step's cost proxies within their bounds", async () => {
    const model = await syntheticModel("tiny", "q4_0");
    for (const kernels of ["gpu", "cpu"] as const) {
      const r = parley("bench", "--plan", "--model", model, "--kernels", kernels, "--at", "100", "--json");
      expect(r.status).toBe(0);
      const plan = JSON.parse(r.stdout);
      const L = 2;
      // q+k+v and gate+up are one stacked product each (tiny q4_0: one weight type); on GPUs the LM head
      // product finds the greedy token itself (no argmax dispatch).
      expect(plan.dispatches).toBeLessThanOrEqual(kernels === "gpu" ? 5 * L + 2 : 9 * L + 4);
      expect(plan.barriers).toBeLessThanOrEqual(kernels === "gpu" ? 5 * L + 1 : 9 * L + 3);
      // Per token of generate()'s GPU loop, greedy or sampled (penalties included): the step, then one advance that
      // picks the next token (argmax, or penalties, top 64 and the draw) and embeds it — no embedding dispatch in the
      // step, no dispatches of their own for the penalties or the draw; a barrier on either side of the advance.
      for (const path of ["greedy", "sampled"] as const) {
        expect(plan.chain[path].dispatches).toBeLessThanOrEqual(kernels === "gpu" ? 5 * L + 2 : 9 * L + 4);
        expect(plan.chain[path].barriers).toBeLessThanOrEqual(kernels === "gpu" ? 5 * L + 2 : 9 * L + 4);
      }
      // One decode step reads each weight once, plus the KV cache and small vectors.
      expect(plan.readRatio).toBeGreaterThanOrEqual(1);
      expect(plan.readRatio).toBeLessThan(1.5);
      expect(plan.hostToDeviceBytes).toBeLessThanOrEqual(32);
      expect(plan.deviceToHostBytes.greedy).toBeLessThanOrEqual(4);
      expect(plan.deviceToHostBytes.sampled).toBeLessThanOrEqual(8);
      expect(plan.deviceToHostBytes.topK).toBeLessThanOrEqual(512);
      // Greedy and sampled replies chain decode steps on the GPU: a host round trip every ~13 tokens, not every token.
      expect(plan.hostRoundTripsPerToken.greedy).toBeLessThanOrEqual(0.1);
      expect(plan.hostRoundTripsPerToken.sampled).toBeLessThanOrEqual(0.1);
      expect(plan.hostRoundTripsPerToken.topK).toBeLessThanOrEqual(1);
      // Pipelines a session builds (each a shader compile on a player's first launch): decode, prompt steps, top-k
      // and the GPU loop's advances, one weight type.
      expect(plan.pipelines).toBeGreaterThan(8);
      expect(plan.pipelines).toBeLessThanOrEqual(kernels === "gpu" ? 15 : 12);
    }
  });

  it("ends quietly (exit 0) when its output's reader stops early, as `parley bench --plan … | head -1` does", async () => {
    const model = await syntheticModel("tiny", "q4_0");
    const child = spawn(process.execPath, [bin, "bench", "--plan", "--model", model], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdout.once("data", () => child.stdout.destroy()); // the reader goes away after the first chunk
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  });

  it("streams text without --json and reports errors with their code and a non-zero exit", async () => {
    const model = await syntheticModel("tiny", "q4_0");
    const ok = parley("generate", "--model", model, "--prompt", "Hi", "--max-tokens", "3");
    expect(ok.status).toBe(0);
    expect(ok.stderr).toMatch(/tokens, .* ms\/token/);
    const missing = parley("generate", "--model", scratchPath("nope.gguf"), "--prompt", "Hi");
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/cannot open .*nope\.gguf.*\[FILE_ACCESS\]/);
    const unknown = parley("frobnicate");
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command/);
  });
});
