// The `parley` command as a user runs it: the compiled bin (dist/runtime/cli.js, built by `npm test`'s pretest).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { readGguf } from "../../runtime/gguf/reader.js";
import { scratchPath, syntheticModel } from "../fixtures/models.js";
import { REPO_ROOT } from "../fixtures/repo-root.js";

const root = REPO_ROOT;
const bin = `${root}dist/runtime/cli.js`;

function parley(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8", timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `npm run bench -- …`: the dev script's own entry, from the TypeScript sources. */
function devBench(...args: string[]) {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const r = spawnSync(process.execPath, ["--import", tsx, `${root}bench/bench.ts`, ...args], { cwd: root, encoding: "utf8", timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user's error: exit code 2, nothing on stdout, one line on stderr (no stack trace) matching `message`. */
function expectUserError(r: { status: number | null; stdout: string; stderr: string }, message: RegExp): void {
  expect(r.stderr.trimEnd()).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(/^parley: /);
  expect(r.stdout).toBe("");
  expect(r.status).toBe(2);
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
    // It says what it wrote: the path, the size in MB, the shape and the tensor types.
    const said = /^wrote (.+): (\d+\.\d) MB, shape tiny \(2 layers, dim 128, [\d.]+M parameters\), type q8_0 \((.+) tensors\), seed 5$/.exec(r.stdout.trim());
    expect(said, r.stdout).not.toBeNull();
    expect(said![1]).toBe(out);
    expect(said![2]).toBe((statSync(out).size / 1e6).toFixed(1));
    expect(said![3]).toMatch(/\d+ Q8_0/);
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
    const run = () =>
      parley("generate", "--model", model, "--prompt", "Hello, innkeeper!", "--chat", "--max-tokens", "6", "--temp", "0.9", "--seed", "3", "--json");
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

  it("--help and -h print every command's usage with its flags, descriptions and defaults, exit 0", () => {
    const list = parley("--help");
    expect(list.status).toBe(0);
    for (const name of ["devices", "info", "synth", "generate", "tune", "bench", "model", "help"])
      expect(list.stdout).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    expect(parley("help").stdout).toBe(list.stdout);
    expect(parley().stdout).toBe(list.stdout);

    const expected: Record<string, string[]> = {
      devices: ["--json"],
      info: ["--json"],
      synth: ["--shape", "--type", "--seed", "--out"],
      generate: [
        "--model",
        "--prompt",
        "--chat",
        "--system",
        "--max-tokens",
        "--temp",
        "--top-k",
        "--top-p",
        "--min-p",
        "--seed",
        "--context",
        "--device",
        "--json",
      ],
      tune: ["--model", "--force", "--steps", "--prefill-tokens", "--repeat", "--device", "--json"],
      bench: ["--plan", "--at", "--kernels", "--model", "--device", "--json"],
    };
    for (const [name, flags] of Object.entries(expected)) {
      for (const help of ["--help", "-h"]) {
        const r = parley(name, help);
        expect(r.status, `${name} ${help}: ${r.stderr}`).toBe(0);
        expect(r.stderr).toBe("");
        expect(r.stdout).toMatch(new RegExp(`^usage: parley ${name} `));
        // One line per flag, with a description after it.
        for (const flag of [...flags, "--help"]) expect(r.stdout, `${name} ${flag}`).toMatch(new RegExp(`^  (-h, )?${flag}( \\S+)?  +\\S`, "m"));
      }
      expect(parley("help", name).stdout).toBe(parley(name, "--help").stdout);
    }
    // Defaults and ranges are in the flag lines.
    const synth = parley("synth", "--help").stdout;
    expect(synth).toMatch(/^ {2}--shape tiny\|small\|tinyllama .*default: tiny/m);
    expect(synth).toMatch(/^ {2}--seed N .*an integer ≥ 0; default: 1\)/m);
    expect(synth).toMatch(/^ {2}--out FILE .*required/m);
    const generate = parley("generate", "--help").stdout;
    expect(generate).toMatch(/^ {2}--max-tokens N .*an integer ≥ 1; default: 128\)/m);
    expect(generate).toMatch(/^ {2}--top-p P .*a number > 0 and ≤ 1/m);

    // Help wins over a bad flag next to it; the model command and its subcommands take it too.
    expect(parley("generate", "--max-tokens", "-5", "--help").status).toBe(0);
    for (const args of [
      ["model", "--help"],
      ["model", "get", "--help"],
      ["model", "list", "-h"],
      ["help", "model"],
    ]) {
      const r = parley(...args);
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/^usage: parley model <subcommand>/);
      expect(r.stdout).toMatch(/--retries.*default 2/);
    }
    expectUserError(parley("help", "frobnicate"), /unknown command "frobnicate"/);
  });

  it("rejects bad numbers naming the flag, the value and the range, negative values after a space included", async () => {
    const model = await syntheticModel("tiny", "q4_0");
    const cases: Array<[string[], RegExp]> = [
      [["generate", "--model", model, "--prompt", "Hi", "--max-tokens", "-5"], /^parley: --max-tokens must be an integer ≥ 1, got "-5" \[INVALID_ARGUMENT\]$/],
      [["generate", "--model", model, "--prompt", "Hi", "--temp=-1"], /--temp must be a number ≥ 0, got "-1"/],
      [["generate", "--model", model, "--prompt", "Hi", "--temp", "-0.5"], /--temp must be a number ≥ 0, got "-0\.5"/],
      [["generate", "--model", model, "--prompt", "Hi", "--max-tokens", "abc"], /--max-tokens must be an integer ≥ 1, got "abc" \(not a number\)/],
      [["generate", "--model", model, "--prompt", "Hi", "--max-tokens", "NaN"], /--max-tokens must be an integer ≥ 1, got "NaN" \(not a number\)/],
      [["generate", "--model", model, "--prompt", "Hi", "--max-tokens", "2.5"], /--max-tokens must be an integer ≥ 1, got "2\.5" \(not an integer\)/],
      [["generate", "--model", model, "--prompt", "Hi", "--max-tokens", "0x10"], /--max-tokens must be an integer ≥ 1, got "0x10" \(not a number\)/],
      [["generate", "--model", model, "--prompt", "Hi", "--top-p", "1.5"], /--top-p must be a number > 0 and ≤ 1, got "1\.5"/],
      [["generate", "--model", model, "--prompt", "Hi", "--top-p", "0"], /--top-p must be a number > 0 and ≤ 1, got "0"/],
      [["generate", "--model", model, "--prompt", "Hi", "--top-k", "-1"], /--top-k must be an integer ≥ 0, got "-1"/],
      [["generate", "--model", model, "--prompt", "Hi", "--seed", "1e300"], /--seed must be an integer ≥ 0, got "1e300" \(too large\)/],
      [["generate", "--model", model, "--prompt", "Hi", "--context", "-2048"], /--context must be an integer ≥ 1, got "-2048"/],
      [["generate", "--model", model, "--prompt", "Hi", "--max-tokens"], /--max-tokens needs a value/],
      [["synth", "--seed", "-1", "--out", scratchPath("never.gguf")], /--seed must be an integer ≥ 0, got "-1"/],
      [["tune", "--model", model, "--steps", "100"], /--steps must be an integer from 1 to 64, got "100"/],
      [["bench", "--plan", "--model", model, "--at", "-1"], /--at must be an integer ≥ 0, got "-1"/],
      [["model", "get", "x", "--retries", "-1"], /--retries must be an integer ≥ 0, got "-1"/],
      // A number is checked before the model file is looked at.
      [["generate", "--model", scratchPath("missing.gguf"), "--prompt", "Hi", "--max-tokens", "-1"], /--max-tokens must be an integer ≥ 1, got "-1"/],
    ];
    for (const [args, message] of cases) expectUserError(parley(...args), message);
    expect(existsSync(scratchPath("never.gguf"))).toBe(false);
    expectUserError(
      parley("synth", "--frobnicate", "--out", scratchPath("never.gguf")),
      /unknown option --frobnicate \(parley synth --help lists its options\)/,
    );
    expectUserError(parley("generate", "--prompt", "Hi"), /generate needs --model FILE/);
  });

  it("reports file-system problems as one FILE_ACCESS line, never a stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-cli-"));
    try {
      const missingFolder = join(dir, "missing", "x.gguf");
      expectUserError(parley("info", dir), new RegExp(`^parley: cannot open ${dir}: it is a folder \\[FILE_ACCESS\\]$`));
      expectUserError(
        parley("synth", "--out", missingFolder),
        new RegExp(`cannot open ${missingFolder}: its folder ${join(dir, "missing")} does not exist \\[FILE_ACCESS\\]`),
      );
      expect(existsSync(join(dir, "missing"))).toBe(false);
      expectUserError(parley("synth", "--out", dir), /it is a folder \[FILE_ACCESS\]/);
      expectUserError(parley("generate", "--model", dir, "--prompt", "Hi"), /it is a folder \[FILE_ACCESS\]/);
      expectUserError(parley("bench", "--plan", "--model", dir), /it is a folder \[FILE_ACCESS\]/);
      expectUserError(parley("info", join(dir, "nope.gguf")), /cannot open .*nope\.gguf: no such file \[FILE_ACCESS\]/);
      expectUserError(parley("info"), /info takes one GGUF file, got 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("parley bench without --plan says in one line that the timing beside llama.cpp is npm run bench, a development script", () => {
    for (const args of [[], ["--model", bin], ["--at", "3"]]) {
      expectUserError(
        parley("bench", ...args),
        /^parley: parley bench needs --plan \(the timing beside llama\.cpp is a development script: npm run bench in a clone of Parley's repository\) \[INVALID_ARGUMENT\]$/,
      );
    }
    expect(parley("bench", "--help").stdout).toMatch(/npm run bench/);
    // The timing's flags are the development script's, not the package's.
    expectUserError(parley("bench", "--plan", "--model", bin, "--shape", "tiny"), /unknown option --shape \(parley bench --help lists its options\)/);
  });

  it("npm run bench has its own flags and --help, and reports a bad flag as parley does, naming its own --help", () => {
    const help = devBench("--help");
    expect(help.status, help.stderr).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(/^usage: npm run bench -- /);
    for (const flag of ["--shape", "--type", "--model", "--prefill", "--decode", "--repeat", "--seed", "--skip-peer", "--record", "--machine", "--help"]) {
      expect(help.stdout, flag).toMatch(new RegExp(`^  (-h, )?${flag}( \\S+)?  +\\S`, "m"));
    }
    const cases: Array<[string[], RegExp]> = [
      [["--decode", "-5"], /^parley: --decode must be an integer ≥ 1, got "-5" \[INVALID_ARGUMENT\]$/],
      [["--shape", "huge"], /--shape must be one of .*, got "huge"/],
      [["--prefill", "16,-3"], /--prefill takes comma-separated integers ≥ 1, got "-3" in "16,-3"/],
      [["--matvec-rows", "9"], /--matvec-rows takes comma-separated integers from 1 to 8, got "9"/],
      [["--machine", "x"], /--machine names the machine in a --record record: pass --record FILE too/],
      [["--at", "3"], /unknown option --at \(npm run bench -- --help lists its options\)/],
      [["--plan"], /unknown option --plan \(npm run bench -- --help lists its options\)/],
    ];
    for (const [args, message] of cases) expectUserError(devBench(...args), message);
  });

  it("npm run bench runs Parley alone with --skip-peer (--shape, --prefill, --decode, --repeat)", () => {
    const r = devBench("--shape", "tiny", "--type", "q4_0", "--prefill", "16", "--decode", "2", "--repeat", "1", "--skip-peer", "--json", "--quiet");
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.bench).toBe("parley-vs-llama.cpp");
    expect(report.model).toMatchObject({ synthesized: true, shape: "tiny", type: "q4_0" });
    expect(report.settings).toMatchObject({ prefill: [16], decode: 2, repeat: 1 });
    expect(report.parley.decode.tokens).toBe(2);
    expect(report.peer).toBeNull();
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
