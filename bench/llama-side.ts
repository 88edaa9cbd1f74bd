// llama.cpp's side of the benchmark, through node-llama-cpp's prebuilt binaries (never built from source): its
// Vulkan backend where a GPU exists (or when asked), else its CPU backend at its fastest thread count. Prefill,
// greedy decode and memory in this process; time to first token in a fresh child (this file is its entry point).

import { availableParallelism } from "node:os";
import {
  getLlama,
  getModuleVersion,
  LlamaLogLevel,
  type ControlledEvaluateInputItem,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { isMainModule } from "../runtime/main-module.js";
import type { MeasureSettings } from "./parley-side.js";
import {
  decodeFigure,
  emitChildResult,
  median,
  prefillFigure,
  spawnFirstTokenChild,
  COLD_CACHES_ENV,
  WARMUP_TOKENS,
  type FirstTokenFigure,
  type PeerFigures,
} from "./report.js";

export type PeerGpuChoice = "auto" | "vulkan" | "cpu";

export interface PeerOpenOptions {
  /** "auto": Vulkan when `gpuPresent`, falling back to the CPU if that backend cannot start. */
  gpu: PeerGpuChoice;
  /** A GPU (not a CPU Vulkan driver) exists on this machine. */
  gpuPresent: boolean;
  log?: (line: string) => void;
}

type Backend = "cpu" | "vulkan";

async function openLlama(backend: Backend): Promise<Llama> {
  return getLlama({ gpu: backend === "vulkan" ? "vulkan" : false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
}

/** The prompt's items for controlledEvaluate: only the last token asks for the (greedy) next token. */
function promptItems(tokens: readonly number[]): ControlledEvaluateInputItem[] {
  return tokens.map((t, i) => (i === tokens.length - 1 ? [t as Token, { generateNext: { token: true } }] : (t as Token)));
}

async function evaluatePrompt(sequence: LlamaContextSequence, tokens: readonly number[]): Promise<number> {
  const results = await sequence.controlledEvaluate(promptItems(tokens));
  const next = results[tokens.length - 1]?.next.token;
  if (next === undefined || next === null) throw new Error("llama.cpp returned no next token");
  return next;
}

export class LlamaSide {
  readonly llama: Llama;
  readonly backend: Backend;
  readonly gpuDevices: string[];
  readonly initMs: number;
  readonly notes: string[];
  #model: LlamaModel | undefined;
  #loadMs = Number.NaN;
  #vramBefore = 0;

  private constructor(llama: Llama, backend: Backend, gpuDevices: string[], initMs: number, notes: string[]) {
    this.llama = llama;
    this.backend = backend;
    this.gpuDevices = gpuDevices;
    this.initMs = initMs;
    this.notes = notes;
  }

  static async open(options: PeerOpenOptions): Promise<LlamaSide> {
    const log = options.log ?? (() => {});
    const notes: string[] = [];
    const wantVulkan = options.gpu === "vulkan" || (options.gpu === "auto" && options.gpuPresent);
    if (wantVulkan) {
      const t0 = performance.now();
      try {
        const llama = await openLlama("vulkan");
        const names = await llama.getGpuDeviceNames();
        if (llama.gpu !== "vulkan") throw new Error(`got the ${String(llama.gpu)} backend`);
        return new LlamaSide(llama, "vulkan", names, performance.now() - t0, notes);
      } catch (e) {
        if (options.gpu === "vulkan") throw e;
        const why = (e as Error)?.message?.split("\n")[0] ?? String(e);
        notes.push(`llama.cpp's Vulkan backend did not start (${why}); the peer ran on its CPU backend`);
        log(`peer: Vulkan backend unavailable (${why}), using the CPU backend`);
      }
    }
    const t0 = performance.now();
    const llama = await openLlama("cpu");
    return new LlamaSide(llama, "cpu", [], performance.now() - t0, notes);
  }

  get model(): LlamaModel {
    if (!this.#model) throw new Error("LlamaSide: no model loaded");
    return this.#model;
  }

  async load(path: string): Promise<number> {
    if (this.backend === "vulkan") this.#vramBefore = (await this.llama.getVramState()).used;
    const t0 = performance.now();
    this.#model = await this.llama.loadModel({ modelPath: path, gpuLayers: this.backend === "vulkan" ? "max" : 0 });
    this.#loadMs = performance.now() - t0;
    return this.#loadMs;
  }

  async #createContext(contextSize: number, batchSize: number, threads: number): Promise<LlamaContext> {
    return this.model.createContext({ contextSize, batchSize, sequences: 1, threads: { ideal: threads, min: threads } });
  }

  /** Per-step ms of `steps` greedy decode steps after evaluating `prompt` on an emptied sequence. */
  async #decodeSteps(sequence: LlamaContextSequence, prompt: readonly number[], steps: number): Promise<number[]> {
    await sequence.clearHistory();
    const token = await evaluatePrompt(sequence, prompt);
    const out: number[] = [];
    if (steps === 0) return out;
    let t = performance.now();
    // evaluate() feeds each generated token back itself: the loop only times the steps.
    for await (const _next of sequence.evaluate([token as Token], { temperature: 0, yieldEogToken: true })) {
      const now = performance.now();
      out.push(now - t);
      if (out.length >= steps) break;
      t = performance.now();
    }
    return out;
  }

  /** Thread count for the CPU backend: 1, 2 (and half / all cores where there are more), the fastest short decode. */
  async pickThreads(settings: MeasureSettings, fixed?: number): Promise<{ threads: number; trials: Array<{ threads: number; medianMsPerToken: number }> }> {
    const log = settings.log ?? (() => {});
    // All layers on the GPU: the CPU threads hardly matter; keep llama.cpp's own default.
    if (this.backend === "vulkan") return { threads: fixed ?? this.llama.cpuMathCores, trials: [] };
    if (fixed !== undefined) return { threads: fixed, trials: [] };
    const cores = availableParallelism();
    const candidates = [...new Set([1, 2, Math.floor(cores / 2), cores].filter((n) => n >= 1 && n <= cores))].sort((a, b) => a - b);
    const trials: Array<{ threads: number; medianMsPerToken: number }> = [];
    const steps = Math.max(4, Math.min(8, settings.decode));
    for (const threads of candidates) {
      const context = await this.#createContext(settings.decodePrompt.length + steps + 2, settings.decodePrompt.length, threads);
      try {
        const ms = median(await this.#decodeSteps(context.getSequence(), settings.decodePrompt, steps));
        trials.push({ threads, medianMsPerToken: ms });
        log(`peer: ${threads} thread(s): ${ms.toFixed(2)} ms/token`);
      } finally {
        await context.dispose();
      }
    }
    const best = trials.reduce((a, b) => (b.medianMsPerToken < a.medianMsPerToken ? b : a));
    return { threads: best.threads, trials };
  }

  async measure(settings: MeasureSettings, threadsOption?: number): Promise<Omit<PeerFigures, "firstToken">> {
    const log = settings.log ?? (() => {});
    const model = this.model;
    const { threads, trials } = await this.pickThreads(settings, threadsOption);
    const maxPrefill = Math.max(...settings.prefill);
    const contextSize = Math.max(maxPrefill, settings.decodePrompt.length + settings.decode + 1);
    const batchSize = Math.max(maxPrefill, settings.decodePrompt.length);
    const context = await this.#createContext(contextSize, batchSize, threads);
    try {
      const sequence = context.getSequence();
      log("peer: warming up");
      const warm = settings.prefillTokens.slice(0, Math.min(WARMUP_TOKENS, ...settings.prefill));
      await this.#decodeSteps(sequence, warm, 3);

      const prefill = [];
      for (const n of settings.prefill) {
        const runs: number[] = [];
        for (let k = 0; k < settings.repeat; k++) {
          await sequence.clearHistory();
          const t0 = performance.now();
          await evaluatePrompt(sequence, settings.prefillTokens.slice(0, n));
          runs.push(performance.now() - t0);
        }
        const f = prefillFigure(n, runs);
        log(`peer: prefill ${n} tokens: ${f.ms.toFixed(1)} ms (${f.tokensPerSecond.toFixed(1)} tokens/s)`);
        prefill.push(f);
      }

      const steps = await this.#decodeSteps(sequence, settings.decodePrompt, settings.decode);
      const decode = decodeFigure(steps, settings.decodePrompt.length);
      log(`peer: decode ${decode.tokens} tokens: median ${decode.medianMsPerToken.toFixed(2)} ms/token`);

      let deviceBytes = model.size + context.stateSize;
      let deviceMemorySource = "model.size + context.stateSize as llama.cpp reports them (host RAM: the CPU backend has no device memory)";
      if (this.backend === "vulkan") {
        const used = (await this.llama.getVramState()).used - this.#vramBefore;
        if (used > 0) {
          deviceBytes = used;
          deviceMemorySource = "llama.getVramState().used after loading the model and creating the context, minus before loading";
        } else {
          deviceMemorySource = "model.size + context.stateSize (getVramState() showed no change)";
        }
      }
      return {
        name: "llama.cpp (node-llama-cpp)",
        version: (await getModuleVersion().catch(() => "unknown")) ?? "unknown",
        backend: this.backend,
        gpuDevices: this.gpuDevices,
        threads,
        threadTrials: trials,
        batchSize,
        contextSize,
        useMmap: model.useMmap,
        initMs: this.initMs,
        loadMs: this.#loadMs,
        prefill,
        decode,
        deviceBytes,
        deviceMemorySource,
      };
    } finally {
      await context.dispose();
    }
  }

  async dispose(): Promise<void> {
    await this.#model?.dispose();
    this.#model = undefined;
    await this.llama.dispose();
  }
}

/** Time to first token in a fresh process: start the backend, load, prefill `prompt`, one greedy token
 * (`cold`: with every shader cache off, COLD_CACHES_ENV). */
export function peerFirstToken(modelPath: string, prompt: readonly number[], backend: Backend, threads: number, cold = false): Promise<FirstTokenFigure> {
  return spawnFirstTokenChild(import.meta.url, [modelPath, prompt.join(","), backend, String(threads)], prompt.length, cold ? COLD_CACHES_ENV : {});
}

async function childMain(args: string[]): Promise<void> {
  const phases: Record<string, number> = { moduleReady: performance.now() };
  const [modelPath, csv, backend, threadsArg] = args;
  const prompt = csv.split(",").map(Number);
  const threads = Number(threadsArg);
  const llama = await openLlama(backend === "vulkan" ? "vulkan" : "cpu");
  phases.runtimeCreated = performance.now();
  const model = await llama.loadModel({ modelPath, gpuLayers: backend === "vulkan" ? "max" : 0 });
  phases.modelLoaded = performance.now();
  const context = await model.createContext({
    contextSize: Math.max(prompt.length + 1, 32),
    batchSize: prompt.length,
    sequences: 1,
    threads: { ideal: threads, min: threads },
  });
  phases.contextCreated = performance.now();
  const token = await evaluatePrompt(context.getSequence(), prompt);
  phases.firstToken = performance.now();
  emitChildResult({ token, phases });
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

if (isMainModule(import.meta.url)) {
  childMain(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}
