// Parley's side of the benchmark: load, prefill, greedy decode and device memory in this process, and time
// to first token in a fresh child process (this file is also that child's entry point).

import { Runtime } from "../runtime/runtime.js";
import type { Model } from "../runtime/model.js";
import { GPU_LOOP_MAX_CHAIN, type Session } from "../runtime/session.js";
import { Sampler } from "../runtime/sampler.js";
import type { DeviceInfo } from "../runtime/native.js";
import { isMainModule } from "../runtime/main-module.js";
import {
  decodeFigure,
  emitChildResult,
  prefillFigure,
  spawnFirstTokenChild,
  COLD_CACHES_ENV,
  WARMUP_TOKENS,
  type DecodeFigure,
  type FirstTokenFigure,
  type ParleyFigures,
} from "./report.js";

export interface MeasureSettings {
  /** Prefill lengths; each uses the first n of prefillTokens. */
  prefill: number[];
  prefillTokens: readonly number[];
  /** Timed decode steps after evaluating decodePrompt. */
  decode: number;
  decodePrompt: readonly number[];
  /** Prefill runs per length (the median is reported). */
  repeat: number;
  /** Rows per subgroup of the decode matrix-vector kernels to compare (PARLEY_MATVEC_ROWS); empty: no sweep. */
  matvecRows?: readonly number[];
  /** With the rows sweep: shared-memory staging of f(x) off and/or on (PARLEY_MATVEC_STAGE). Default [false]. */
  matvecStage?: readonly boolean[];
  /** With the rows sweep: 16-byte weight loads off and/or on (PARLEY_MATVEC_WIDE). Default [false]. */
  matvecWide?: readonly boolean[];
  log?: (line: string) => void;
}

export class ParleySide {
  readonly runtime: Runtime;
  readonly initMs: number;
  #model: Model | undefined;
  #loadMs = Number.NaN;

  private constructor(runtime: Runtime, initMs: number) {
    this.runtime = runtime;
    this.initMs = initMs;
  }

  static async create(device?: string | number): Promise<ParleySide> {
    const t0 = performance.now();
    const runtime = await Runtime.create({ device });
    return new ParleySide(runtime, performance.now() - t0);
  }

  get device(): DeviceInfo {
    return this.runtime.device;
  }

  get model(): Model {
    if (!this.#model) throw new Error("ParleySide: no model loaded");
    return this.#model;
  }

  async load(path: string): Promise<number> {
    const t0 = performance.now();
    this.#model = await this.runtime.loadModel(path);
    this.#loadMs = performance.now() - t0;
    return this.#loadMs;
  }

  /**
   * `prefillUbatch`: the micro-batch of the prefill measurements; "length" (the bench's default) gives each
   * prefill length longer than `ubatch` a session whose micro-batch is that length, so n tokens are one step as
   * in llama.cpp's batch (shorter ones keep `ubatch`: on GPUs steps of ≤ 16 tokens then take the short-prompt
   * recording, as a player's line does). Decode runs in a session of `ubatch`.
   */
  async measure(settings: MeasureSettings, ubatch = 64, prefillUbatch: number | "length" = ubatch): Promise<Omit<ParleyFigures, "firstToken">> {
    const model = this.model;
    const log = settings.log ?? (() => {});
    const maxPrefill = Math.max(...settings.prefill);
    if (settings.prefillTokens.length < maxPrefill) throw new Error("not enough prefill tokens");
    const contextSize = Math.max(maxPrefill, settings.decodePrompt.length + settings.decode + 1);
    const session = model.createSession({ contextSize, ubatch });
    try {
      // Warm up: one short prefill and a few decode steps.
      log("parley: warming up");
      const warm = settings.prefillTokens.slice(0, Math.min(WARMUP_TOKENS, ubatch, ...settings.prefill));
      let r = await session.evaluate(warm, { logits: "none" });
      for (let i = 0; i < 3 && session.tokens.length < contextSize; i++) r = await session.evaluate([r.argmax], { logits: "none" });

      const prefill = [];
      for (const n of settings.prefill) {
        const runs: number[] = [];
        const stepUbatch = prefillUbatch === "length" ? Math.max(n, ubatch) : prefillUbatch;
        const own = stepUbatch !== ubatch ? model.createSession({ contextSize, ubatch: stepUbatch }) : undefined;
        const s = own ?? session;
        try {
          for (let k = 0; k < settings.repeat; k++) {
            s.reset();
            const t0 = performance.now();
            await s.evaluate(settings.prefillTokens.slice(0, n), { logits: "none" });
            runs.push(performance.now() - t0);
          }
        } finally {
          own?.dispose();
        }
        const f = { ...prefillFigure(n, runs), ubatch: stepUbatch };
        log(`parley: prefill ${n} tokens: ${f.ms.toFixed(1)} ms (${f.tokensPerSecond.toFixed(1)} tokens/s, micro-batch ${f.ubatch})`);
        prefill.push(f);
      }

      const decode = await timeDecode(session, settings);
      log(`parley: decode ${decode.tokens} tokens: median ${decode.medianMsPerToken.toFixed(2)} ms/token`);
      const decodeLoop = await timeDecodeLoop(session, settings);
      log(`parley: decode ${decodeLoop.tokens} tokens in GPU-resident chains: median ${decodeLoop.medianMsPerToken.toFixed(2)} ms/token`);
      // Kept apart from the figures above: a driver that rejected the sampling kernels must not cost them.
      let decodeSampledLoop: DecodeFigure | undefined;
      try {
        decodeSampledLoop = await timeDecodeLoop(session, settings, new Sampler(DIALOGUE_SAMPLING));
        log(
          `parley: decode ${decodeSampledLoop.tokens} tokens sampled in GPU-resident chains: median ${decodeSampledLoop.medianMsPerToken.toFixed(2)} ms/token`,
        );
      } catch (e) {
        log(`parley: sampled GPU loop failed: ${e instanceof Error ? e.message : String(e)}`);
      }

      // Kernel tuning: the same two figures for each matrix-vector setting, each in a fresh session.
      const matvecRowsSweep = [];
      const tuningKeys = ["PARLEY_MATVEC_ROWS", "PARLEY_MATVEC_STAGE", "PARLEY_MATVEC_WIDE"] as const;
      for (const rows of settings.matvecRows ?? []) {
        for (const stage of settings.matvecStage ?? [false]) {
          for (const wide of settings.matvecWide ?? [false]) {
            const saved = tuningKeys.map((key) => process.env[key]);
            process.env.PARLEY_MATVEC_ROWS = String(rows);
            process.env.PARLEY_MATVEC_STAGE = stage ? "1" : "0";
            process.env.PARLEY_MATVEC_WIDE = wide ? "1" : "0";
            const label = `matvec rows ${rows}${stage ? ", staged x" : ""}${wide ? ", 16-byte loads" : ""}`;
            let tuned: Session | undefined;
            try {
              tuned = model.createSession({ contextSize, ubatch });
              await tuned.evaluate(warm, { logits: "none" });
              const d = await timeDecode(tuned, settings);
              const l = await timeDecodeLoop(tuned, settings);
              matvecRowsSweep.push({ rows, stage, wide, decodeMsPerToken: d.medianMsPerToken, loopMsPerToken: l.medianMsPerToken });
              log(`parley: ${label}: decode ${d.medianMsPerToken.toFixed(3)} ms/token, GPU loop ${l.medianMsPerToken.toFixed(3)} ms/token`);
            } catch (e) {
              // A setting a driver rejects (a pipeline that fails to build) must not cost the run's other figures.
              const error = e instanceof Error ? e.message : String(e);
              matvecRowsSweep.push({ rows, stage, wide, decodeMsPerToken: Number.NaN, loopMsPerToken: Number.NaN, error });
              log(`parley: ${label}: failed: ${error}`);
            } finally {
              tuned?.dispose();
              tuningKeys.forEach((key, i) => restoreEnv(key, saved[i]));
            }
          }
        }
      }

      const d = this.device;
      const plan = session.plan();
      const sessionBytes = session.deviceBytes;
      return {
        device: { name: d.name, type: d.type, driverName: d.driverName, driverInfo: d.driverInfo, apiVersion: d.apiVersion },
        ubatch,
        contextSize,
        initMs: this.initMs,
        loadMs: this.#loadMs,
        prefill,
        decode,
        decodeLoop,
        ...(decodeSampledLoop ? { decodeSampledLoop } : {}),
        ...(matvecRowsSweep.length ? { matvecRowsSweep } : {}),
        deviceBytes: model.info.deviceBytes + sessionBytes,
        deviceMemory: { weightsBytes: model.info.deviceBytes, sessionBytes },
        plan: { dispatches: plan.dispatches, barriers: plan.barriers, weightBytes: plan.weightBytes, chain: plan.chain },
        tuning: session.tuning,
      };
    } finally {
      session.dispose();
    }
  }

  dispose(): void {
    this.runtime.dispose();
  }
}

function restoreEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

/** Greedy decode one step per submission (what the peer does too): the median over `settings.decode` steps. */
async function timeDecode(session: Session, settings: MeasureSettings): Promise<DecodeFigure> {
  session.reset();
  let token = (await session.evaluate(settings.decodePrompt, { logits: "none" })).argmax;
  const steps: number[] = [];
  for (let i = 0; i < settings.decode; i++) {
    const t0 = performance.now();
    token = (await session.evaluate([token], { logits: "none" })).argmax;
    steps.push(performance.now() - t0);
  }
  return decodeFigure(steps, settings.decodePrompt.length);
}

/** The dialogue system's settings for generated lines (plugin/dialogue/line-generator.ts), with a fixed seed. */
const DIALOGUE_SAMPLING = { temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, seed: 1 } as const;

/**
 * Decode as generate() runs it: chains of GPU_LOOP_MAX_CHAIN steps per submission, greedy or (with a
 * sampler) sampled on the GPU; per-token times.
 */
async function timeDecodeLoop(session: Session, settings: MeasureSettings, sampler?: Sampler): Promise<DecodeFigure> {
  session.reset();
  let token = (await session.evaluate(settings.decodePrompt, { logits: "none" })).argmax;
  const perToken: number[] = [];
  for (let done = 0; done < settings.decode;) {
    const n = Math.min(GPU_LOOP_MAX_CHAIN, settings.decode - done);
    const t0 = performance.now();
    const tokens = sampler ? await session.sampleChain(token, n, sampler) : await session.decodeChain(token, n);
    const ms = performance.now() - t0;
    for (let i = 0; i < n; i++) perToken.push(ms / n);
    token = tokens[tokens.length - 1];
    done += n;
  }
  return decodeFigure(perToken, settings.decodePrompt.length);
}

/** Time to first token in a fresh process: create the runtime, load, prefill `prompt`, one greedy token
 * (`cold`: with every shader cache off, COLD_CACHES_ENV). */
export function parleyFirstToken(modelPath: string, prompt: readonly number[], device?: string, cold = false): Promise<FirstTokenFigure> {
  return spawnFirstTokenChild(
    import.meta.url,
    [modelPath, prompt.join(","), ...(device === undefined ? [] : [device])],
    prompt.length,
    cold ? COLD_CACHES_ENV : {},
  );
}

async function childMain(args: string[]): Promise<void> {
  const phases: Record<string, number> = { moduleReady: performance.now() };
  const [modelPath, csv, device] = args;
  const prompt = csv.split(",").map(Number);
  const runtime = await Runtime.create({ device });
  phases.runtimeCreated = performance.now();
  const model = await runtime.loadModel(modelPath);
  phases.modelLoaded = performance.now();
  const session = model.createSession({ contextSize: prompt.length + 1 });
  phases.sessionCreated = performance.now(); // mostly building the session's pipelines (runtime.pipelineBuilds)
  const { argmax } = await session.evaluate(prompt, { logits: "none" });
  phases.firstToken = performance.now();
  emitChildResult({ token: argmax, phases, pipelineCacheWarm: runtime.pipelineCache.hit, pipelineBuilds: runtime.pipelineBuilds });
  runtime.dispose();
}

if (isMainModule(import.meta.url)) {
  childMain(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}
