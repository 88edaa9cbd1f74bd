// Runtime: one Vulkan device. Creates models; owns the native context.

import { join, resolve } from "node:path";
import { DisposedError, InvalidArgumentError } from "./errors.js";
import { Model, type LoadModelOptions } from "./model.js";
import { loadAddon, native, type DeviceInfo, type NativeContext, type PipelineBuildStats, type PipelineCacheStats, type ValidationMessage } from "./native.js";
import { parleyCacheDir } from "./cache-dir.js";
import { defaultTuningStoreDir, TuningStore } from "./tuning/store.js";

export interface RuntimeOptions {
  /** Device index or a substring of its name (see `parley devices`). Default: the best device
   * (discrete > integrated > virtual > CPU). Also read from PARLEY_DEVICE. */
  device?: string | number;
  /** Enable the Khronos validation layer and collect its messages (see validationMessages()). Also PARLEY_VALIDATION=1. */
  validation?: boolean;
  /** Cap on the device memory (bytes) Parley may allocate: weights, KV caches and activations. A load
   * or session that would exceed it fails with OutOfDeviceMemoryError. Default: the device's heap. */
  memoryBudget?: number;
  /** Folder of the persistent Vulkan pipeline cache, which lets the driver skip compiling the compute
   * kernels again in the next process (the first token after a restart comes sooner), or `false` for none.
   * Default: defaultPipelineCacheDir(): $PARLEY_CACHE_DIR/pipelines, else $XDG_CACHE_HOME/parley/pipelines,
   * else ~/.cache/parley/pipelines. PARLEY_PIPELINE_CACHE=0 disables it whatever this says. The folder is
   * created when missing; the file in it is named after the GPU and driver, read at create() when its
   * header matches them (otherwise ignored), and written at dispose() (or savePipelineCache()) when its
   * data changed, atomically. Problems with the folder never fail the runtime: see pipelineCache.error. */
  pipelineCache?: string | false;
  /** Folder of the kernel tuning store (Model.tune() writes what it measures there; loadModel applies
   * what it finds for the device, driver, Parley build and model), or `false` for none. Default:
   * defaultTuningStoreDir(): $PARLEY_CACHE_DIR/tuning, else $XDG_CACHE_HOME/parley/tuning, else
   * ~/.cache/parley/tuning; PARLEY_TUNING_CACHE=0 disables that default (a folder given here is still used).
   * Problems with the folder never fail a load or a tuning: see TuningReport.storeError. */
  tuningStore?: string | false;
}

/** The default pipeline cache folder for `env` (see RuntimeOptions.pipelineCache), or null when
 * PARLEY_PIPELINE_CACHE=0 disables the cache or no home folder is known. */
export function defaultPipelineCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.PARLEY_PIPELINE_CACHE === "0") return null;
  const base = parleyCacheDir(env);
  return base === null ? null : join(base, "pipelines");
}

function tuningStoreDir(option: unknown): string | null {
  if (option === false) return null;
  if (option === undefined) return defaultTuningStoreDir();
  if (typeof option !== "string" || option === "") {
    throw new InvalidArgumentError(`tuningStore must be a folder path or false, got ${JSON.stringify(option)}`);
  }
  return resolve(option);
}

function pipelineCacheDir(option: unknown): string | undefined {
  if (option === false || process.env.PARLEY_PIPELINE_CACHE === "0") return undefined;
  if (option === undefined) return defaultPipelineCacheDir() ?? undefined;
  if (typeof option !== "string" || option === "") {
    throw new InvalidArgumentError(`pipelineCache must be a folder path or false, got ${JSON.stringify(option)}`);
  }
  return resolve(option);
}

export class Runtime {
  #context: NativeContext | undefined;
  #finalCacheStats: PipelineCacheStats | undefined;
  #finalBuildStats: PipelineBuildStats | undefined;
  readonly #models = new Set<Model>();
  readonly #tuningStore: TuningStore;

  private constructor(context: NativeContext, tuningStore: TuningStore) {
    this.#context = context;
    this.#tuningStore = tuningStore;
  }

  /** Lists the Vulkan devices without creating a runtime. */
  static listDevices(): DeviceInfo[] {
    const addon = loadAddon();
    return native(() => addon.listDevices());
  }

  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const addon = loadAddon();
    const device = options.device ?? process.env.PARLEY_DEVICE;
    const validation = options.validation ?? process.env.PARLEY_VALIDATION === "1";
    const budget = options.memoryBudget;
    if (budget !== undefined && !(Number.isSafeInteger(budget) && budget > 0)) {
      throw new InvalidArgumentError(`memoryBudget must be a positive number of bytes, got ${budget}`);
    }
    const pipelineCacheDirectory = pipelineCacheDir(options.pipelineCache);
    const tuningStore = new TuningStore(tuningStoreDir(options.tuningStore));
    const context = native(() => new addon.Context({ device, validation, memoryBudget: budget, pipelineCacheDir: pipelineCacheDirectory }));
    return new Runtime(context, tuningStore);
  }

  get device(): DeviceInfo {
    return this.#live().device;
  }

  /** Device memory (bytes) currently allocated by this runtime. */
  get deviceMemoryInUse(): number {
    return this.#live().deviceMemoryInUse;
  }

  /** The persistent pipeline cache (see RuntimeOptions.pipelineCache): its file (`path`, null when
   * disabled), whether create() started from it (`hit`) and how many bytes it read (`loadedBytes`),
   * how many bytes this runtime last wrote (`savedBytes`, 0 while nothing was written: the file is
   * only rewritten when the driver's data changed), how many times it wrote it (`writes`) and the last
   * read/write failure (`error`, else
   * null). Readable after dispose(), which saves: then `savedBytes` tells whether dispose wrote. */
  get pipelineCache(): PipelineCacheStats {
    return this.#context?.pipelineCache ?? this.#finalCacheStats!;
  }

  /** The compute pipelines built so far: how many, the wall-clock time spent building them, and the most
   * threads that built at once. Each session builds the pipelines it lacks when it is created, all together
   * on the CPU's cores (drivers compile a pipeline's shader as it is built; with a warm pipeline cache
   * that is quick). Readable after dispose(). */
  get pipelineBuilds(): PipelineBuildStats {
    return this.#context?.pipelineBuilds ?? this.#finalBuildStats!;
  }

  /** Writes the pipeline cache file now, when its data changed since it was read or last written
   * (dispose() does this too). Returns true when the file was written. Never throws for file-system
   * problems: they are reported in pipelineCache.error. */
  savePipelineCache(): boolean {
    return this.#live().savePipelineCache();
  }

  /** Loads a Llama-architecture GGUF file onto the device. */
  async loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
    const model = await Model.load(this.#live(), this.#tuningStore, path, options, () => this.#models.delete(model));
    this.#models.add(model);
    return model;
  }

  /** Validation-layer messages since the last call (empty unless created with `validation: true`). */
  validationMessages(): ValidationMessage[] {
    return this.#live().takeValidationMessages();
  }

  get disposed(): boolean {
    return this.#context === undefined;
  }

  /** Releases the device, saving the pipeline cache first. Models and sessions created from this runtime are disposed too. */
  dispose(): void {
    for (const m of [...this.#models]) m.dispose();
    if (this.#context) {
      this.#context.dispose();
      this.#finalCacheStats = this.#context.pipelineCache;
      this.#finalBuildStats = this.#context.pipelineBuilds;
    }
    this.#context = undefined;
  }

  #live(): NativeContext {
    if (!this.#context) throw new DisposedError("Runtime");
    return this.#context;
  }
}
