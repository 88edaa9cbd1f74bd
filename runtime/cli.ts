#!/usr/bin/env node
// The `parley` command: devices, info, synth, generate, tune, bench --plan, model, dialogue. Each command declares its
// flags in one table (runtime/cli-flags.ts) that drives parsing, validation and its --help text.

import { statSync } from "node:fs";
import { FileAccessError, InvalidArgumentError, ParleyError } from "./errors.js";
import { readGguf } from "./gguf/reader.js";
import { describeModel, formatModelDescription } from "./model-config.js";
import { decodePlan } from "./decode-plan.js";
import { isMainModule } from "./main-module.js";
import { DEFAULT_SAMPLING } from "./sampler.js";
import type { PhaseReport } from "./tuning/measure.js";
import { describeDecodeTuning, describePrefillTuning, describeTuning } from "./tuning/settings.js";
import { Runtime } from "./runtime.js";
import { SYNTH_SHAPES, SYNTH_TYPES, writeSyntheticModel, type SynthShapeName } from "./synth/synth.js";
import { checkInputFile, formatFlags, fsReason, isErrnoError, parseArgsError, parseFlags, wantsHelp, type FlagTable, type ParsedFlags } from "./cli-flags.js";

// ---------------------------------------------------------------------------------------------------------------
// Commands

interface CommandDef<T extends FlagTable> {
  /** One line for `parley --help`. */
  summary: string;
  /** What the command does, for its --help (default: the summary). */
  description?: string;
  /** What follows `parley NAME` in the usage line. */
  synopsis: string;
  /** Lines after the options in --help. */
  notes?: string;
  flags: T;
  /** Whether it takes positional arguments (named in the synopsis). */
  positionals?: boolean;
  run(parsed: ParsedFlags<T>): Promise<void>;
}

interface Command {
  summary: string;
  usage(): Promise<string>;
  invoke(argv: string[]): Promise<void>;
}

function defineCommand<T extends FlagTable>(name: string, def: CommandDef<T>): Command {
  const usage = () =>
    `usage: parley ${name} ${def.synopsis}\n\n${def.description ?? `${def.summary[0].toUpperCase()}${def.summary.slice(1)}.`}\n\noptions:\n${formatFlags(def.flags)}\n${def.notes ? `\n${def.notes}\n` : ""}`;
  return {
    summary: def.summary,
    usage: async () => usage(),
    async invoke(argv) {
      if (wantsHelp(argv)) {
        process.stdout.write(usage());
        return;
      }
      await def.run(parseFlags(name, def.flags, argv, { positionals: def.positionals }));
    },
  };
}

function gib(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

/** Runs `use` with a runtime on `device`, disposing of the runtime (and the models it loaded) after. */
async function withRuntime(device: string | undefined, use: (runtime: Runtime) => Promise<void>): Promise<void> {
  const runtime = await Runtime.create({ device });
  try {
    await use(runtime);
  } finally {
    runtime.dispose();
  }
}

const JSON_FLAG = { kind: "boolean", help: "print JSON instead of text" } as const;
const DEVICE_FLAG = {
  kind: "string",
  arg: "D",
  help: "Vulkan device: index or part of its name (parley devices)",
  defaultText: "$PARLEY_DEVICE, else the best one",
} as const;

const devices = defineCommand("devices", {
  summary: "list the Vulkan devices and their capabilities",
  synopsis: "[--json]",
  flags: { json: JSON_FLAG },
  async run({ values }) {
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
      console.log(
        `    fp16: ${yes(d.fp16)}, int8: ${yes(d.int8)}, integer dot product: ${yes(d.integerDotProduct)}` +
          ` (accelerated: ${yes(d.integerDotProductAccelerated)}; kernels: ${yes(d.integerDotKernels)}), cooperative matrix: ${yes(d.cooperativeMatrix)}` +
          ` (prefill kernel: ${yes(d.cooperativeMatrixPrefill)})`,
      );
    }
  },
});

const info = defineCommand("info", {
  summary: "describe a GGUF model file: architecture, parameters, tensor types, context, vocabulary, chat template",
  synopsis: "FILE [--json]",
  positionals: true,
  flags: { json: JSON_FLAG },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new InvalidArgumentError(`info takes one GGUF file, got ${positionals.length} (parley info FILE [--json])`);
    const path = positionals[0];
    checkInputFile(path);
    const d = describeModel(await readGguf(path));
    console.log(values.json ? JSON.stringify(d, null, 2) : formatModelDescription(d));
  },
});

const SHAPES = Object.keys(SYNTH_SHAPES) as SynthShapeName[];

const synth = defineCommand("synth", {
  summary: "write a random-weight Llama GGUF with the real Llama 2 vocabulary and TinyLlama's chat template",
  synopsis: "--out FILE [options]",
  flags: {
    shape: { kind: "choice", choices: SHAPES, default: "tiny", help: "model shape: tiny (fast tests), small, or tinyllama (exactly TinyLlama-1.1B)" },
    type: {
      kind: "choice",
      choices: SYNTH_TYPES,
      arg: "TYPE",
      default: "q4_0",
      help: "tensor type; K-quant types (q4_k, q5_k, q6_k, q4_k_m) need shape small or tinyllama",
    },
    seed: { kind: "integer", arg: "N", min: 0, default: 1, help: "weights seed: the same seed writes the same file" },
    out: { kind: "outfile", arg: "FILE", required: true, help: "the GGUF file to write (replaced if it exists)" },
  },
  async run({ values: { shape, type, seed, out } }) {
    let last = -1;
    try {
      await writeSyntheticModel({
        shape,
        type,
        seed,
        out,
        onProgress: (p) => {
          const pct = Math.floor((100 * p.bytesDone) / Math.max(1, p.bytesTotal));
          if (pct !== last && process.stderr.isTTY) process.stderr.write(`\rwriting ${out}: ${pct}%`);
          last = pct;
        },
      });
    } catch (e) {
      if (isErrnoError(e)) throw new FileAccessError(out, `not writable (${fsReason(e)})`, { cause: e });
      throw e;
    } finally {
      if (last >= 0 && process.stderr.isTTY) process.stderr.write("\n");
    }
    const d = describeModel(await readGguf(out));
    const mb = (statSync(out).size / 1e6).toFixed(1);
    const s = SYNTH_SHAPES[shape];
    const tensors = Object.entries(d.tensorTypes)
      .map(([t, n]) => `${n} ${t}`)
      .join(", ");
    console.log(
      `wrote ${out}: ${mb} MB, shape ${shape} (${s.nLayer} layers, dim ${s.nEmbd}, ${(d.parameterCount / 1e6).toFixed(1)}M parameters), ` +
        `type ${type} (${tensors} tensors), seed ${seed}`,
    );
  },
});

const generate = defineCommand("generate", {
  summary: "generate text from a prompt, streamed to stdout (timings on stderr; --json: one object at the end)",
  synopsis: "--model FILE --prompt TEXT [options]",
  flags: {
    model: { kind: "file", arg: "FILE", required: true, help: "the GGUF model" },
    prompt: { kind: "string", arg: "TEXT", required: true, help: "the prompt (with --chat: the user's message)" },
    chat: { kind: "boolean", help: "format the prompt with the model's chat template" },
    system: { kind: "string", arg: "TEXT", help: "with --chat: a system message before the prompt" },
    "max-tokens": { kind: "integer", arg: "N", min: 1, default: 128, help: "tokens to generate at most" },
    temp: { kind: "number", arg: "T", min: 0, default: 0, help: "sampling temperature; 0 picks the likeliest token (greedy)" },
    "top-k": { kind: "integer", arg: "K", min: 0, defaultText: String(DEFAULT_SAMPLING.topK), help: "sample among the K likeliest tokens; 0 disables" },
    "top-p": {
      kind: "number",
      arg: "P",
      min: 0,
      minExclusive: true,
      max: 1,
      defaultText: String(DEFAULT_SAMPLING.topP),
      help: "sample among the likeliest tokens that sum to P; 1 disables",
    },
    "min-p": {
      kind: "number",
      arg: "P",
      min: 0,
      max: 1,
      defaultText: String(DEFAULT_SAMPLING.minP),
      help: "drop tokens less likely than P times the likeliest; 0 disables",
    },
    seed: { kind: "integer", arg: "S", min: 0, defaultText: "random", help: "sampling seed: the same seed gives the same text" },
    context: { kind: "integer", arg: "N", min: 1, defaultText: "the model's, at most 2048", help: "context window in tokens" },
    device: DEVICE_FLAG,
    json: { kind: "boolean", help: "print one JSON object (token ids, text, timings) at the end instead of streaming" },
  },
  async run({ values }) {
    const modelPath = values.model;
    await withRuntime(values.device, async (runtime) => {
      const tLoad = performance.now();
      const model = await runtime.loadModel(modelPath);
      const loadMs = performance.now() - tLoad;
      const session = model.createSession({ contextSize: values.context });
      const messages = [...(values.system ? [{ role: "system" as const, content: values.system }] : []), { role: "user" as const, content: values.prompt }];
      const input = values.chat ? messages : values.prompt;
      const tokens: number[] = [];
      let text = "";
      let final;
      for await (const chunk of session.generate(input, {
        maxTokens: values["max-tokens"],
        temperature: values.temp,
        topK: values["top-k"],
        topP: values["top-p"],
        minP: values["min-p"],
        seed: values.seed,
      })) {
        tokens.push(...chunk.tokens);
        text += chunk.text;
        if (!values.json) process.stdout.write(chunk.text);
        if (chunk.finishReason) final = chunk;
      }
      const t = final!.timings!;
      const timings = {
        loadMs,
        promptTokens: t.promptTokens,
        promptMs: t.promptMs,
        firstTokenMs: t.firstTokenMs,
        generatedTokens: t.generatedTokens,
        generateMs: t.generateMs,
        msPerToken: t.generatedTokens > 1 ? t.generateMs / (t.generatedTokens - 1) : t.generateMs,
      };
      if (values.json) {
        console.log(JSON.stringify({ model: modelPath, device: runtime.device.name, tokens, text, finishReason: final!.finishReason, timings }));
      } else {
        process.stdout.write("\n");
        process.stderr.write(
          `[${t.generatedTokens} tokens, ${timings.msPerToken.toFixed(1)} ms/token, prompt ${t.promptTokens} tokens in ${t.promptMs.toFixed(0)} ms, ${runtime.device.name}]\n`,
        );
      }
    });
  },
});

const tune = defineCommand("tune", {
  summary: "time the kernels' settings on this GPU and store the fastest for this model shape",
  description: "Time the decode and prefill kernels' settings on this GPU and store the fastest: every later load of a model of this shape here uses it.",
  synopsis: "--model FILE [options]",
  flags: {
    model: { kind: "file", arg: "FILE", required: true, help: "the GGUF model" },
    force: { kind: "boolean", help: "measure again even if a tuning is stored" },
    // The ranges are the ones Model.tune accepts (tuneRuns in tuning/measure.ts).
    steps: { kind: "integer", arg: "N", min: 1, max: 64, defaultText: "16, 2 on a CPU Vulkan driver", help: "timed decode steps per setting" },
    "prefill-tokens": { kind: "integer", arg: "N", min: 1, max: 512, defaultText: "64, 8 on a CPU Vulkan driver", help: "prompt length of the timed prefill" },
    repeat: { kind: "integer", arg: "N", min: 1, max: 100, defaultText: "3", help: "runs per setting (the median counts)" },
    device: DEVICE_FLAG,
    json: { kind: "boolean", help: "print the report as JSON" },
  },
  async run({ values }) {
    const modelPath = values.model;
    await withRuntime(values.device, async (runtime) => {
      const model = await runtime.loadModel(modelPath);
      const describe = (phase: string, s: unknown) =>
        phase === "decode"
          ? describeDecodeTuning(s as Parameters<typeof describeDecodeTuning>[0])
          : describePrefillTuning(s as Parameters<typeof describePrefillTuning>[0]);
      const report = await model.tune({
        force: values.force,
        steps: values.steps,
        prefillTokens: values["prefill-tokens"],
        repeat: values.repeat,
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
    });
  },
});

// `parley bench --plan`: the deterministic cost proxies a change must not grow, counted rather than timed. The
// timing beside llama.cpp needs development dependencies (node-llama-cpp, tsx), so it is a script of Parley's
// repository, `npm run bench` (bench/bench.ts), and not part of the package.
const SIDE_BY_SIDE = "the timing beside llama.cpp is a development script: npm run bench in a clone of Parley's repository";

const PLAN_FLAGS = {
  plan: { kind: "boolean", help: "the decode step's cost proxies (dispatches, barriers, bytes read, host↔device bytes, pipelines) for --model" },
  model: { kind: "file", arg: "FILE", help: "the GGUF model" },
  at: { kind: "integer", arg: "N", min: 0, default: 0, help: "the position (tokens already in the cache) of the planned step" },
  kernels: { kind: "choice", choices: ["auto", "gpu", "cpu"], default: "auto", help: "the session's kernel set" },
  device: DEVICE_FLAG,
  json: JSON_FLAG,
} as const satisfies FlagTable;

const bench = defineCommand("bench", {
  summary: "with --plan: the decode step's cost proxies for a model (timing beside llama.cpp: npm run bench in Parley's repository)",
  description:
    "With --plan: the decode step's cost proxies for --model (dispatches, barriers, bytes read, host↔device bytes, pipelines), counted, not timed.\n" +
    "Timing Parley beside llama.cpp is a development script: npm run bench in a clone of Parley's repository.",
  synopsis: "--plan --model FILE [options]",
  flags: PLAN_FLAGS,
  async run({ values }) {
    if (!values.plan) throw new InvalidArgumentError(`parley bench needs --plan (${SIDE_BY_SIDE})`);
    const modelPath = values.model;
    if (modelPath === undefined) throw new InvalidArgumentError("bench --plan needs --model FILE");
    await withRuntime(values.device, async (runtime) => {
      const model = await runtime.loadModel(modelPath);
      const session = model.createSession({ contextSize: Math.min(model.info.contextLength, 2048), kernels: values.kernels });
      const plan = decodePlan(model, session, values.at);
      if (values.json) console.log(JSON.stringify({ model: modelPath, device: runtime.device.name, ...plan }));
      else for (const [k, v] of Object.entries(plan)) console.log(`${k.padEnd(18)} ${typeof v === "object" ? JSON.stringify(v) : v}`);
    });
  },
});

const model: Command = {
  summary: "manage downloaded models: list, get ID, verify ID|FILE, rm ID|FILE (parley model --help)",
  // Loaded when used: only this command needs the catalogue and the downloader.
  usage: async () => (await import("./models/cli-model.js")).MODEL_USAGE,
  invoke: async (argv) => (await import("./models/cli-model.js")).modelCommand(argv),
};

const dialogue: Command = {
  summary: "dialogue test PROJECT: replay a project's saved playtests and report where a run diverged (parley dialogue --help)",
  // Loaded when used: the dialogue plugin is not needed by the other commands.
  usage: async () => (await import("../plugin/playtest/dialogue-cli.js")).DIALOGUE_USAGE,
  invoke: async (argv) => (await import("../plugin/playtest/dialogue-cli.js")).dialogueCommand(argv),
};

const commands: Record<string, Command> = { devices, info, synth, generate, tune, bench, model, dialogue };

const USAGE = `usage: parley <command> [options]

commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`)
  .join("\n")}
  help      parley help COMMAND: a command's options, with their ranges and defaults (also parley COMMAND --help)
`;

function unknownCommand(name: string): InvalidArgumentError {
  return new InvalidArgumentError(`unknown command "${name}" (parley --help lists the commands)`);
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    process.stdout.write(USAGE);
    return;
  }
  if (name === "help") {
    if (!Object.hasOwn(commands, rest[0])) throw unknownCommand(rest[0]);
    process.stdout.write(await commands[rest[0]].usage());
    return;
  }
  if (!Object.hasOwn(commands, name)) throw unknownCommand(name);
  await commands[name].invoke(rest);
}

/**
 * Runs a command (the `parley` command line, or a repository script's: `npm run bench`) and exits: a user's
 * error (a ParleyError, or a file-system error) is one line `parley: message [CODE]` and exit code 2; anything
 * else is an internal error, one line and exit code 1, with its stack under PARLEY_DEBUG=1.
 */
export function runCommandLine(command: () => Promise<void>): void {
  // Output piped into a reader that stops early (`parley bench --plan … | head`): end quietly, as Unix tools do.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  command().catch((e: unknown) => {
    const debug = process.env.PARLEY_DEBUG !== undefined && process.env.PARLEY_DEBUG !== "" && process.env.PARLEY_DEBUG !== "0";
    // Safety nets for a file-system error or a parseArgs error no command turned into a typed error.
    const error = isErrnoError(e) ? new FileAccessError(e.path ?? "a file", fsReason(e), { cause: e }) : parseArgsError(undefined, e);
    if (error instanceof ParleyError) {
      process.stderr.write(`parley: ${error.message} [${error.code}]\n${debug ? `${error.stack}\n` : ""}`);
      process.exit(2);
    }
    const message = (error as Error)?.message ?? String(error);
    process.stderr.write(
      debug ? `parley: internal error: ${(error as Error)?.stack ?? message}\n` : `parley: internal error: ${message} (PARLEY_DEBUG=1 shows where)\n`,
    );
    process.exit(1);
  });
}

/** Runs the `parley` command line `argv` (without node and the script) and exits, as runCommandLine says. */
export function runCli(argv: string[]): void {
  runCommandLine(() => main(argv));
}

if (isMainModule(import.meta.url)) runCli(process.argv.slice(2));
