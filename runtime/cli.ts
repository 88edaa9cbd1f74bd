#!/usr/bin/env node
// The `parley` command: devices, info, synth, tune, generate, bench, model.

import { parseArgs } from "node:util";
import { ParleyError } from "./errors.js";
import { readGguf } from "./gguf/reader.js";
import { describeModel, formatModelDescription } from "./model-config.js";
import { modelCommand } from "./models/cli-model.js";
import { decodePlan } from "./bench/plan.js";
import { describeDecodeTuning, describePrefillTuning, describeTuning, type PhaseReport } from "./tuning.js";
import { Runtime } from "./runtime.js";
import { SYNTH_SHAPES, SYNTH_TYPES, writeSyntheticModel, type SynthShapeName, type SynthType } from "./synth/synth.js";

const USAGE = `usage: parley <command> [options]

commands:
  devices [--json]                         list Vulkan devices and their capabilities
  info FILE [--json]                       describe a GGUF model file
  synth --shape tiny|small|tinyllama --type f32|f16|bf16|q8_0|q4_0|q4_k|q5_k|q6_k|q4_k_m [--seed N] --out FILE
                                           write a random-weight Llama GGUF with the real Llama 2 vocabulary
                                           (K-quant types need shape small or tinyllama)
  bench --plan --model FILE [--at N] [--kernels auto|gpu|cpu] [--json]
                                           the decode step's cost proxies: dispatches, barriers, bytes read, host↔device bytes (and pipelines per session)
  tune --model FILE [--force] [--steps N] [--prefill-tokens N] [--repeat N] [--device D] [--json]
                                           time the decode and prefill kernels' settings on this GPU and store
                                           the fastest (used by every later load of this model shape here)
  generate --model FILE --prompt TEXT [--chat] [--system TEXT] [--max-tokens N] [--temp T] [--top-k K]
           [--top-p P] [--min-p P] [--seed S] [--context N] [--device D] [--json]
                                           generate text (streamed; --json prints one object at the end)
  model list|get ID|verify ID|FILE|rm ID|FILE [--folder DIR] [--json]
                                           manage downloaded models (PARLEY_MODELS; parley model --help)
`;

function fail(message: string): never {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(2);
}

function gib(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

async function devices(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: "boolean" } } });
  const list = Runtime.listDevices();
  if (values.json) {
    console.log(JSON.stringify(list, null, 2));
    return;
  }
  if (list.length === 0) console.log("no Vulkan devices");
  for (const d of list) {
    const heaps = d.memoryHeaps.map((h) => `${gib(h.size)}${h.deviceLocal ? " device-local" : " host"}`).join(", ");
    const yes = (b: boolean) => (b ? "yes" : "no");
    console.log(`[${d.index}] ${d.name} (${d.type})`);
    console.log(`    driver:             ${d.driverName} ${d.driverInfo} (Vulkan ${d.apiVersion})`);
    console.log(`    memory heaps:       ${heaps}`);
    console.log(`    subgroup size:      ${d.subgroupSize}, shared memory ${d.maxSharedMemory / 1024} KiB`);
    console.log(`    fp16: ${yes(d.fp16)}, int8: ${yes(d.int8)}, integer dot product: ${yes(d.integerDotProduct)}` +
      ` (accelerated: ${yes(d.integerDotProductAccelerated)}; kernels: ${yes(d.integerDotKernels)}), cooperative matrix: ${yes(d.cooperativeMatrix)}` +
      ` (prefill kernel: ${yes(d.cooperativeMatrixPrefill)})`);
  }
}

async function info(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: "boolean" } } });
  const path = positionals[0] ?? fail("info needs a GGUF file");
  const d = describeModel(await readGguf(path));
  console.log(values.json ? JSON.stringify(d, null, 2) : formatModelDescription(d));
}

async function synth(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { shape: { type: "string", default: "tiny" }, type: { type: "string", default: "q4_0" }, seed: { type: "string", default: "1" }, out: { type: "string" } },
  });
  const shape = values.shape as SynthShapeName;
  if (!(shape in SYNTH_SHAPES)) fail(`unknown shape ${shape} (tiny, small, tinyllama)`);
  const type = values.type as SynthType;
  if (!SYNTH_TYPES.includes(type)) fail(`unknown type ${type} (${SYNTH_TYPES.join(", ")})`);
  const out = values.out ?? fail("synth needs --out FILE");
  const seed = Number(values.seed);
  let last = -1;
  await writeSyntheticModel({
    shape, type, seed, out,
    onProgress: (p) => {
      const pct = Math.floor((100 * p.bytesDone) / Math.max(1, p.bytesTotal));
      if (pct !== last && process.stderr.isTTY) process.stderr.write(`\rwriting ${out}: ${pct}%`);
      last = pct;
    },
  });
  if (process.stderr.isTTY) process.stderr.write("\n");
  console.log(`wrote ${out} (${shape}, ${type}, seed ${seed})`);
}

async function generate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: "string" }, prompt: { type: "string" }, chat: { type: "boolean" }, system: { type: "string" },
      "max-tokens": { type: "string", default: "128" }, temp: { type: "string" }, "top-k": { type: "string" },
      "top-p": { type: "string" }, "min-p": { type: "string" }, seed: { type: "string" }, context: { type: "string" },
      device: { type: "string" }, json: { type: "boolean" },
    },
  });
  const modelPath = values.model ?? fail("generate needs --model FILE");
  const prompt = values.prompt ?? fail("generate needs --prompt TEXT");
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const runtime = await Runtime.create({ device: values.device });
  try {
    const tLoad = performance.now();
    const model = await runtime.loadModel(modelPath);
    const loadMs = performance.now() - tLoad;
    const session = model.createSession({ contextSize: num(values.context) });
    const messages = [
      ...(values.system ? [{ role: "system" as const, content: values.system }] : []),
      { role: "user" as const, content: prompt },
    ];
    const input = values.chat ? messages : prompt;
    const tokens: number[] = [];
    let text = "";
    let final;
    for await (const chunk of session.generate(input, {
      maxTokens: num(values["max-tokens"]), temperature: num(values.temp) ?? 0, topK: num(values["top-k"]),
      topP: num(values["top-p"]), minP: num(values["min-p"]), seed: num(values.seed),
    })) {
      tokens.push(...chunk.tokens);
      text += chunk.text;
      if (!values.json) process.stdout.write(chunk.text);
      if (chunk.finishReason) final = chunk;
    }
    const t = final!.timings!;
    const timings = {
      loadMs, promptTokens: t.promptTokens, promptMs: t.promptMs, firstTokenMs: t.firstTokenMs, generatedTokens: t.generatedTokens,
      generateMs: t.generateMs, msPerToken: t.generatedTokens > 1 ? t.generateMs / (t.generatedTokens - 1) : t.generateMs,
    };
    if (values.json) {
      console.log(JSON.stringify({ model: modelPath, device: runtime.device.name, tokens, text, finishReason: final!.finishReason, timings }));
    } else {
      process.stdout.write("\n");
      process.stderr.write(`[${t.generatedTokens} tokens, ${timings.msPerToken.toFixed(1)} ms/token, prompt ${t.promptTokens} tokens in ${t.promptMs.toFixed(0)} ms, ${runtime.device.name}]\n`);
    }
  } finally {
    runtime.dispose();
  }
}

async function bench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { plan: { type: "boolean" }, model: { type: "string" }, at: { type: "string", default: "0" }, kernels: { type: "string", default: "auto" }, json: { type: "boolean" } },
  });
  if (!values.plan) fail("bench: use `parley bench --plan --model FILE [--at POSITION] [--kernels auto|gpu|cpu] [--json]`; the side-by-side benchmark is `npm run bench`");
  const modelPath = values.model ?? fail("bench --plan needs --model FILE");
  const runtime = await Runtime.create();
  try {
    const model = await runtime.loadModel(modelPath);
    const session = model.createSession({ contextSize: Math.min(model.info.contextLength, 2048), kernels: values.kernels as "auto" | "gpu" | "cpu" });
    const plan = decodePlan(model, session, Number(values.at));
    if (values.json) console.log(JSON.stringify({ model: modelPath, device: runtime.device.name, ...plan }));
    else for (const [k, v] of Object.entries(plan)) console.log(`${k.padEnd(18)} ${typeof v === "object" ? JSON.stringify(v) : v}`);
  } finally {
    runtime.dispose();
  }
}

async function tune(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: "string" }, force: { type: "boolean" }, steps: { type: "string" }, "prefill-tokens": { type: "string" },
      repeat: { type: "string" }, device: { type: "string" }, json: { type: "boolean" },
    },
  });
  const modelPath = values.model ?? fail("tune needs --model FILE");
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const runtime = await Runtime.create({ device: values.device });
  try {
    const model = await runtime.loadModel(modelPath);
    const describe = (phase: string, s: unknown) =>
      phase === "decode" ? describeDecodeTuning(s as Parameters<typeof describeDecodeTuning>[0]) : describePrefillTuning(s as Parameters<typeof describePrefillTuning>[0]);
    const report = await model.tune({
      force: values.force, steps: num(values.steps), prefillTokens: num(values["prefill-tokens"]), repeat: num(values.repeat),
      onProgress: values.json ? undefined : (p) => process.stderr.write(`timing ${p.phase}: ${describe(p.phase, p.setting)}\n`),
    });
    if (values.json) {
      console.log(JSON.stringify({ model: modelPath, device: runtime.device.name, driver: runtime.device.driverInfo, ...report }));
      return;
    }
    const ms = (v: number | null) => (v === null ? "failed" : `${v.toFixed(3)} ms/token`);
    const show = <T>(phase: string, r: PhaseReport<T>) => {
      for (const c of r.candidates) {
        const agreement = c.logitError !== undefined ? `, logits ${c.logitError.toExponential(1)} from the defaults'` : "";
        console.log(`  ${phase} ${describe(phase, c.tuning).padEnd(40)} ${ms(c.msPerToken)}${agreement}${c.error ? ` (${c.error})` : ""}`);
      }
      const gain = r.msPerToken && r.defaultMsPerToken ? ` (defaults: ${ms(r.defaultMsPerToken)}, ${(r.defaultMsPerToken / r.msPerToken).toFixed(2)}×)` : "";
      console.log(`${phase}: ${describe(phase, r.tuning)}, ${ms(r.msPerToken)}${gain}`);
    };
    show("decode", report.decode);
    show("prefill", report.prefill);
    console.log(`${report.source === "stored" ? "stored" : "chosen"}: ${describeTuning(report.tuning)} on ${runtime.device.name}`);
    if (report.source === "stored") console.log("(measured earlier; --force measures again)");
    if (report.storeError) console.log(`not stored: ${report.storeError}`);
    else if (report.storePath) console.log(`store: ${report.storePath}`);
  } finally {
    runtime.dispose();
  }
}

const commands: Record<string, (args: string[]) => Promise<void>> = { devices, info, synth, tune, generate, bench, model: modelCommand };

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return;
  }
  const run = commands[command] ?? fail(`unknown command "${command}"\n${USAGE}`);
  await run(rest);
}

// Output piped into a reader that stops early (`parley bench --plan … | head`): end quietly, as Unix tools do.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof ParleyError) fail(`${e.message} [${e.code}]`);
  if (e instanceof TypeError && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) fail(e.message);
  fail((e as Error)?.stack ?? String(e));
});
