// Runtime: one Vulkan device. Creates models; owns the native context.

import { DisposedError, InvalidArgumentError } from "./errors.js";
import { Model, type LoadModelOptions } from "./model.js";
import { loadAddon, native, type DeviceInfo, type NativeContext, type ValidationMessage } from "./native.js";

export interface RuntimeOptions {
  /** Device index or a substring of its name (see `parley devices`). Default: the best device
   * (discrete > integrated > virtual > CPU). Also read from PARLEY_DEVICE. */
  device?: string | number;
  /** Enable the Khronos validation layer and collect its messages (see validationMessages()). Also PARLEY_VALIDATION=1. */
  validation?: boolean;
  /** Cap on the device memory (bytes) Parley may allocate: weights, KV caches and activations. A load
   * or session that would exceed it fails with OutOfDeviceMemoryError. Default: the device's heap. */
  memoryBudget?: number;
}

export class Runtime {
  #context: NativeContext | undefined;
  readonly #models = new Set<Model>();

  private constructor(context: NativeContext) {
    this.#context = context;
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
    const context = native(() => new addon.Context({ device, validation, memoryBudget: budget }));
    return new Runtime(context);
  }

  get device(): DeviceInfo {
    return this.#live().device;
  }

  /** Device memory (bytes) currently allocated by this runtime. */
  get deviceMemoryInUse(): number {
    return this.#live().deviceMemoryInUse;
  }

  /** Loads a Llama-architecture GGUF file onto the device. */
  async loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
    const model = await Model.load(this.#live(), path, options, () => this.#models.delete(model));
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

  /** Releases the device. Models and sessions created from this runtime are disposed too. */
  dispose(): void {
    for (const m of [...this.#models]) m.dispose();
    this.#context?.dispose();
    this.#context = undefined;
  }

  #live(): NativeContext {
    if (!this.#context) throw new DisposedError("Runtime");
    return this.#context;
  }
}
