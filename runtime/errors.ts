// Typed errors: every failure a user can cause or meet surfaces as one of these, with a stable `code`
// and a message that says what went wrong and what to do. Native errors are mapped to them in native.ts.

export type ParleyErrorCode =
  | "FILE_ACCESS"
  | "GGUF_FORMAT"
  | "GGUF_TRUNCATED"
  | "UNSUPPORTED_TENSOR_TYPE"
  | "UNSUPPORTED_ARCHITECTURE"
  | "MODEL_SHAPE"
  | "OUT_OF_DEVICE_MEMORY"
  | "NO_VULKAN_DEVICE"
  | "VULKAN"
  | "NATIVE_ADDON_MISSING"
  | "CONTEXT_OVERFLOW"
  | "DISPOSED"
  | "INVALID_ARGUMENT"
  | "ABORTED"
  | "TUNING_FAILED";

export class ParleyError extends Error {
  readonly code: ParleyErrorCode;
  constructor(code: ParleyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A model file cannot be opened: missing, unreadable, or a folder. */
export class FileAccessError extends ParleyError {
  readonly path: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super("FILE_ACCESS", `cannot open ${path}: ${reason}`, options);
    this.path = path;
  }
}

/** The file is not a GGUF file, or its header/metadata is malformed. */
export class GgufFormatError extends ParleyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("GGUF_FORMAT", message, options);
  }
}

/** The file ends before the data its header describes. */
export class GgufTruncatedError extends ParleyError {
  constructor(message: string) {
    super("GGUF_TRUNCATED", message);
  }
}

export class UnsupportedTensorTypeError extends ParleyError {
  constructor(message: string) {
    super("UNSUPPORTED_TENSOR_TYPE", message);
  }
}

export class UnsupportedArchitectureError extends ParleyError {
  constructor(message: string) {
    super("UNSUPPORTED_ARCHITECTURE", message);
  }
}

/** Tensor shapes disagree with each other or with the hyperparameters in the metadata. */
export class ModelShapeError extends ParleyError {
  constructor(message: string) {
    super("MODEL_SHAPE", message);
  }
}

export class OutOfDeviceMemoryError extends ParleyError {
  constructor(message: string) {
    super("OUT_OF_DEVICE_MEMORY", message);
  }
}

export class NoVulkanDeviceError extends ParleyError {
  constructor(message: string) {
    super("NO_VULKAN_DEVICE", message);
  }
}

/** Any other Vulkan failure; `vkResult` is the raw VkResult name (e.g. VK_ERROR_DEVICE_LOST). */
export class VulkanError extends ParleyError {
  readonly vkResult: string;
  constructor(message: string, vkResult: string) {
    super("VULKAN", message);
    this.vkResult = vkResult;
  }
}

export class NativeAddonMissingError extends ParleyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NATIVE_ADDON_MISSING", message, options);
  }
}

/** A prompt plus generation would not fit the session's context window. */
export class ContextOverflowError extends ParleyError {
  constructor(message: string) {
    super("CONTEXT_OVERFLOW", message);
  }
}

export class DisposedError extends ParleyError {
  constructor(what: string) {
    super("DISPOSED", `${what} was disposed and cannot be used any more`);
  }
}

export class InvalidArgumentError extends ParleyError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

/** Model.tune() could time none of a phase's settings (each failure is in the message). */
export class TuningFailedError extends ParleyError {
  constructor(message: string) {
    super("TUNING_FAILED", message);
  }
}
