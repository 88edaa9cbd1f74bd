// Loads the native Vulkan addon (native/build/Release/parley.node, else the package's prebuild for this platform,
// prebuilds/<platform>-<arch>/parley.node), declares what its calls take and return, and maps its errors to
// typed ones.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ContextOverflowError,
  DisposedError,
  GgufFormatError,
  GgufTruncatedError,
  InvalidArgumentError,
  ModelShapeError,
  NativeAddonMissingError,
  NoVulkanDeviceError,
  OutOfDeviceMemoryError,
  ParleyError,
  UnsupportedTensorTypeError,
  VulkanError,
} from "./errors.js";
import { hasPenalties, type SamplingSettings } from "./sampler.js";

export interface MemoryHeap {
  size: number;
  deviceLocal: boolean;
}

export interface DeviceInfo {
  index: number;
  name: string;
  type: "discrete" | "integrated" | "virtual" | "cpu" | "other";
  driverName: string;
  driverInfo: string;
  apiVersion: string;
  vendorId: number;
  deviceId: number;
  memoryHeaps: MemoryHeap[];
  subgroupSize: number;
  maxSharedMemory: number;
  fp16: boolean;
  int8: boolean;
  integerDotProduct: boolean;
  integerDotProductAccelerated: boolean;
  /** The integer dot product kernels can run here (integerDotProduct, and subgroup shuffles on subgroups of at
   * least 8): the `integerDot` tunings and PARLEY_MATVEC_DOT8 / PARLEY_PREFILL_DOT8. */
  integerDotKernels: boolean;
  cooperativeMatrix: boolean;
  /** The cooperative-matrix prefill kernel can run here (VK_NV_cooperative_matrix with 16×16×16 fp16 products
   * on subgroups of 32; prefill kernel "coopmat"). */
  cooperativeMatrixPrefill: boolean;
}

export interface ValidationMessage {
  severity: "error" | "warning";
  message: string;
}

/** The persistent Vulkan pipeline cache of a runtime (see Runtime.pipelineCache). */
/** The compute pipelines a runtime has built (GPU drivers compile each one's shader then; on a first launch, with no pipeline cache, that takes time). */
export interface PipelineBuildStats {
  /** Pipelines built so far (each kernel and specialization once per runtime). */
  pipelines: number;
  /** Wall-clock milliseconds spent building them (a session builds the ones it lacks together, in parallel). */
  wallMs: number;
  /** The most threads that built pipelines at once (PARLEY_PIPELINE_THREADS caps it; default: the CPU's cores, at most 16). */
  maxThreads: number;
}

export interface PipelineCacheStats {
  /** The cache file (named after the device's vendor and device ids and its pipelineCacheUUID); null when disabled. */
  path: string | null;
  /** Bytes of the file the cache started from: 0 unless `hit`. */
  loadedBytes: number;
  /** Bytes this runtime last wrote to the file; 0 while it wrote nothing (disabled, not saved yet, or the data did not change). */
  savedBytes: number;
  /** Times this runtime wrote the file (each write atomic). */
  writes: number;
  /** The file existed and its header matched this device and driver, so the driver started from it. */
  hit: boolean;
  /** The last failure reading or writing the file (an unwritable folder, say); null when none. Such failures never throw. */
  error: string | null;
}

export interface NativeTensor {
  name: string;
  type: number;
  dims: number[];
  offset: number;
  nbytes: number;
}

export interface NativeHParams {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  nVocab: number;
  ropeDim: number;
  headDim: number;
  ropeFreqBase: number;
  rmsEps: number;
}

export interface NativeEvalResult {
  argmax: number;
  rows: number;
  logits?: Float32Array;
  /** Mode topK: the 64 most likely next tokens and their logits (unordered). */
  topIds?: Int32Array;
  topLogits?: Float32Array;
}

/** Eval output modes, as the addon numbers them. */
export const EvalMode = { lastLogits: 0, allLogits: 1, argmax: 2, topK: 3 } as const;

/** How many candidates EvalMode.topK returns (native Session::kTopK). */
export const GPU_TOP_K = 64;

export interface NativeChainSampling {
  /** ≤ 0: greedy (only with penalties; plain greedy takes decodeChain). */
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  /** xoshiro128** state (a, b, c, d), not all zero. */
  rng: Uint32Array;
  repeatPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** How many of the latest tokens the penalties look at: 0 (none) .. GPU_MAX_PENALTY_WINDOW. */
  penaltyWindow: number;
  /** The history tokens just before `first` that the first step's penalty window reaches (penaltyWindow − 1 of them, or all). */
  window: Int32Array;
}

/** The longest penalty window the GPU sampling loop applies (native Session::kMaxPenaltyWindow). */
export const GPU_MAX_PENALTY_WINDOW = 256;

/**
 * The sampleChain argument for `settings`, the sampler's generator state `rng` and the tokens the cache holds
 * (`history`; the chain starts at its end). The addon copies the fields into a plain C++ struct, reading each
 * by name, so it takes only concrete numbers and typed arrays: the seed gives way to the generator's current
 * state (the device continues the host's random stream); repeatLastN becomes the unsigned window the kernel
 * counts over, 0 when the penalties change nothing (the kernel then skips them) and 2^32 − 1 for the whole
 * history (-1); and the history tokens the first step's window reaches go along, because the device records
 * only the tokens its chains produce.
 */
export function nativeChainSampling(settings: SamplingSettings, rng: Uint32Array, history: readonly number[]): NativeChainSampling {
  const penaltyWindow = hasPenalties(settings) ? (settings.repeatLastN < 0 ? 2 ** 32 - 1 : settings.repeatLastN) : 0;
  // The first step's window covers the chain's first token and the penaltyWindow − 1 tokens before it.
  const before = Math.min(Math.max(0, penaltyWindow - 1), history.length);
  const window = Int32Array.from(history.slice(history.length - before));
  const { temperature, topK, topP, minP, repeatPenalty, frequencyPenalty, presencePenalty } = settings;
  return { temperature, topK, topP, minP, rng, repeatPenalty, frequencyPenalty, presencePenalty, penaltyWindow, window };
}

/** Dispatches and barriers per token of the GPU loop, greedy and sampled (penalties included). */
export interface ChainPlan {
  greedy: { dispatches: number; barriers: number };
  sampled: { dispatches: number; barriers: number };
}

export interface NativeSession {
  eval(tokens: Int32Array, pos: number, mode: number): Promise<NativeEvalResult>;
  plan(): { dispatches: number; barriers: number; pipelines: number; chain: ChainPlan };
  /**
   * GPU-resident greedy loop: evaluates `first` at `pos` and feeds each argmax back, `n` steps (1..64)
   * in one queue submission; resolves to the n greedy tokens. Fills cache positions pos..pos+n-1.
   */
  decodeChain(first: number, pos: number, n: number): Promise<Int32Array>;
  /**
   * GPU-resident sampling loop: as decodeChain, but each step applies the repetition penalties (if any) to
   * the logits and draws the next token from the GPU's top 64 candidates with the sampler's chain (top-k
   * 1..63, top-p, min-p, temperature; greedy with penalties) and xoshiro128** generator, starting from
   * `sampling.rng`; resolves to the n sampled tokens and the generator state after them.
   */
  sampleChain(first: number, pos: number, n: number, sampling: NativeChainSampling): Promise<{ tokens: Int32Array; rng: Uint32Array }>;
  /** Queue submissions (host round trips) this session has made. */
  readonly submits: number;
  /** The kernels' effective settings (matvecDecode false: kernels "cpu", whose decode ignores rowsPerSubgroup..integerDot). */
  readonly tuning: NativeTuning & { matvecDecode: boolean };
  readonly deviceBytes: number;
  dispose(): void;
}

/** Kernel settings as the addon takes them (runtime/tuning/settings.ts's KernelTuning, flattened). */
export interface NativeTuning {
  rowsPerSubgroup: number;
  stageInput: boolean;
  wideLoads: boolean;
  integerDot: boolean;
  prefillKernel: "gemm" | "tiled16" | "matvec" | "lane" | "coopmat";
  prefillIntegerDot: boolean;
}

export interface NativeModel {
  createSession(contextSize: number, ubatch: number, kernels: number, tuning?: Partial<NativeTuning>): NativeSession;
  /** The same on a worker thread (pipeline builds and recording off the JS thread). */
  createSessionAsync(contextSize: number, ubatch: number, kernels: number, tuning?: Partial<NativeTuning>): Promise<NativeSession>;
  readonly deviceBytes: number;
  readonly weightBytes: number;
  dispose(): void;
}

export interface NativeContext {
  loadModel(
    path: string,
    description: { hparams: NativeHParams; tensors: NativeTensor[] },
    onProgress?: (done: number, total: number) => void,
  ): Promise<NativeModel>;
  takeValidationMessages(): ValidationMessage[];
  readonly device: DeviceInfo;
  readonly validation: boolean;
  readonly deviceMemoryInUse: number;
  /** Still readable after dispose(): the stats as dispose() left them. */
  readonly pipelineCache: PipelineCacheStats;
  /** Writes the pipeline cache file now when its data changed; true when written. Never throws. */
  savePipelineCache(): boolean;
  /** While deferred (calls nest), building new pipelines does not write the cache file (Model.tune saves once at its end). */
  deferPipelineCacheSaves(defer: boolean): void;
  /** Still readable after dispose(). */
  readonly pipelineBuilds: PipelineBuildStats;
  /** Saves the pipeline cache, then releases the device. */
  dispose(): void;
}

export interface NativeContextOptions {
  device?: string | number;
  validation?: boolean;
  memoryBudget?: number;
  /** Absolute folder of the pipeline cache file; absent: no pipeline cache. */
  pipelineCacheDir?: string;
}

export interface NativeAddon {
  listDevices(): DeviceInfo[];
  /** A hash of the compiled compute kernels: stored kernel tunings are keyed by it. */
  kernelsVersion: string;
  Context: new (options: NativeContextOptions) => NativeContext;
}

/** Parley's npm name. */
export const PACKAGE_NAME = "parley-npc";

/** The package root: the nearest folder above this file whose package.json is Parley's. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === PACKAGE_NAME) return dir;
    const up = dirname(dir);
    if (up === dir) throw new NativeAddonMissingError("cannot find Parley's package.json above " + import.meta.url);
    dir = up;
  }
}

/** Where the package keeps the addon prebuilt for this platform (`npm pack` puts it there: native/prebuild.mjs). */
export function prebuiltAddonPath(root: string = packageRoot()): string {
  return join(root, "prebuilds", `${process.platform}-${process.arch}`, "parley.node");
}

/** The addon to load: PARLEY_ADDON, else the one built here (native/build.mjs), else the prebuild for this platform. */
function addonPath(): string {
  if (process.env.PARLEY_ADDON) {
    const path = process.env.PARLEY_ADDON;
    if (!existsSync(path)) throw new NativeAddonMissingError(`the Vulkan runtime PARLEY_ADDON names is missing (${path})`);
    return path;
  }
  const root = packageRoot();
  const built = join(root, "native", "build", "Release", "parley.node");
  if (existsSync(built)) return built;
  const prebuilt = prebuiltAddonPath(root);
  if (existsSync(prebuilt)) return prebuilt;
  throw new NativeAddonMissingError(
    `the Vulkan runtime is not built for ${process.platform}-${process.arch} (neither ${built} nor ${prebuilt} exists): ` +
      `run \`node ${join(root, "native", "build.mjs")}\` (\`npm install\` in a clone of Parley does it; ` +
      "it needs the Debian/Ubuntu packages libvulkan-dev glslc mesa-vulkan-drivers and node-gyp's python3, make and g++)",
  );
}

let addon: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (addon) return addon;
  const path = addonPath();
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    throw new NativeAddonMissingError(
      `cannot load the Vulkan runtime (${path}): ${(e as Error).message}. ` +
        "Is the Vulkan loader installed? sudo apt-get install -y libvulkan1 mesa-vulkan-drivers",
      { cause: e },
    );
  }
  return addon;
}

/** The typed error of each addon error code whose error carries only its message. */
const ERRORS_BY_CODE = new Map<string, new (message: string) => ParleyError>([
  ["OUT_OF_DEVICE_MEMORY", OutOfDeviceMemoryError],
  ["NO_VULKAN_DEVICE", NoVulkanDeviceError],
  ["CONTEXT_OVERFLOW", ContextOverflowError],
  ["MODEL_SHAPE", ModelShapeError],
  ["UNSUPPORTED_TENSOR_TYPE", UnsupportedTensorTypeError],
  ["GGUF_TRUNCATED", GgufTruncatedError],
  ["GGUF_FORMAT", GgufFormatError],
  ["INVALID_ARGUMENT", InvalidArgumentError],
]);

/** Turns an error thrown by the addon (a plain Error with `code`) into the matching typed error. */
export function toParleyError(e: unknown): unknown {
  if (e instanceof ParleyError || !(e instanceof Error)) return e;
  const code = (e as { code?: string }).code;
  if (code === "DISPOSED") return new DisposedError(e.message.replace(/ was disposed.*/, ""));
  if (code === "VULKAN") return new VulkanError(e.message, (e as { vkResult?: string }).vkResult ?? "");
  const ErrorType = ERRORS_BY_CODE.get(code ?? "");
  return ErrorType ? new ErrorType(e.message) : e;
}

/** Calls into the addon, rethrowing its errors as typed errors. */
export function native<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw toParleyError(e);
  }
}

export async function nativeAsync<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw toParleyError(e);
  }
}
