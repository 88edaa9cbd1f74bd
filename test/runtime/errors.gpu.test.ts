// Bad input gives a typed error with a clear message, and the host process carries on: each case
// below runs in this process, and the runtime still generates afterwards.
import { spawnSync } from "node:child_process";
import { copyFileSync, openSync, closeSync, ftruncateSync, statSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ContextOverflowError,
  DisposedError,
  FileAccessError,
  GgufFormatError,
  GgufTruncatedError,
  InvalidArgumentError,
  ModelShapeError,
  NoVulkanDeviceError,
  OutOfDeviceMemoryError,
  Runtime,
  UnsupportedArchitectureError,
  UnsupportedTensorTypeError,
} from "../../runtime/index.js";
import { readGguf, readTensorData } from "../../runtime/gguf/reader.js";
import { writeGguf } from "../../runtime/gguf/writer.js";
import { gguf, GgmlType, type GgufMetadataValue } from "../../runtime/gguf/types.js";
import { scratchPath, syntheticModel } from "../fixtures/models.js";
import { REPO_ROOT } from "../fixtures/repo-root.js";

let runtime: Runtime;
let tinyPath: string;

beforeAll(async () => {
  runtime = await Runtime.create();
  tinyPath = await syntheticModel("tiny", "q4_0");
});
afterAll(() => runtime?.dispose());

/** Rewrites the tiny model with edited metadata and/or one tensor replaced. */
async function variant(
  name: string,
  edit: {
    metadata?: (m: Map<string, GgufMetadataValue>) => void;
    tensor?: { name: string; type: number; data: Uint8Array };
  },
): Promise<string> {
  const file = await readGguf(tinyPath);
  const metadata = new Map(file.metadata);
  edit.metadata?.(metadata);
  const out = scratchPath(`${name}.gguf`);
  await writeGguf(out, {
    metadata,
    tensors: file.tensors.map((t) =>
      edit.tensor && t.name === edit.tensor.name
        ? { name: t.name, dims: t.dims, type: edit.tensor.type, data: edit.tensor.data }
        : { name: t.name, dims: t.dims, type: t.type, data: () => readTensorData(file, t) },
    ),
  });
  return out;
}

describe("loading bad files", () => {
  it("rejects a file that is not GGUF", async () => {
    const path = scratchPath("not-gguf.gguf");
    writeFileSync(path, "this is a text file, not a model\n".repeat(10));
    const err = await runtime.loadModel(path).catch((e) => e);
    expect(err).toBeInstanceOf(GgufFormatError);
    expect(err.message).toMatch(/not a GGUF file/);
  });

  it("rejects a missing file", async () => {
    const err = await runtime.loadModel(scratchPath("does-not-exist.gguf")).catch((e) => e);
    expect(err).toBeInstanceOf(FileAccessError);
    expect(err.message).toMatch(/does-not-exist.*no such file/);
  });

  it("rejects a truncated file, naming the tensor that is cut", async () => {
    const path = scratchPath("truncated.gguf");
    copyFileSync(tinyPath, path);
    const fd = openSync(path, "r+");
    ftruncateSync(fd, Math.floor(statSync(path).size * 0.6));
    closeSync(fd);
    const err = await runtime.loadModel(path).catch((e) => e);
    expect(err).toBeInstanceOf(GgufTruncatedError);
    expect(err.message).toMatch(/blk\.|token_embd|output/);
  });

  it("rejects an unsupported tensor type, naming it", async () => {
    // Q4_1 (type 3): 20-byte blocks of 32; attn_q of the tiny model is 128 × 128.
    const path = await variant("q4_1", { tensor: { name: "blk.0.attn_q.weight", type: GgmlType.Q4_1, data: new Uint8Array(((128 * 128) / 32) * 20) } });
    const err = await runtime.loadModel(path).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedTensorTypeError);
    expect(err.message).toMatch(/Q4_1/);
    expect(err.message).toMatch(/blk\.0\.attn_q\.weight/);
  });

  it("rejects an unsupported architecture, naming it", async () => {
    const path = await variant("gpt2", { metadata: (m) => m.set("general.architecture", gguf.string("gpt2")) });
    const err = await runtime.loadModel(path).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedArchitectureError);
    expect(err.message).toMatch(/gpt2/);
  });

  it("rejects shapes that disagree with the hyperparameters", async () => {
    const path = await variant("shape", { metadata: (m) => m.set("llama.embedding_length", gguf.u32(256)) });
    const err = await runtime.loadModel(path).catch((e) => e);
    expect(err).toBeInstanceOf(ModelShapeError);
    expect(err.message).toMatch(/expected|shape/i);
  });
});

describe("device limits", () => {
  it("fails a load that exceeds the device memory budget with OutOfDeviceMemoryError", async () => {
    const small = await Runtime.create({ memoryBudget: 1 << 20 });
    const err = await small.loadModel(tinyPath).catch((e) => e);
    expect(err).toBeInstanceOf(OutOfDeviceMemoryError);
    expect(err.message).toMatch(/budget/);
    // Nothing leaked: the budget is free again, and a model that fits still loads.
    expect(small.deviceMemoryInUse).toBe(0);
    small.dispose();
  });

  it("fails a session whose KV cache exceeds the budget, keeping the model usable", async () => {
    const probe = await runtime.loadModel(tinyPath);
    const weights = runtime.deviceMemoryInUse;
    probe.dispose();
    const rt = await Runtime.create({ memoryBudget: weights + (4 << 20) });
    const model = await rt.loadModel(tinyPath);
    expect(() => model.createSession({ contextSize: 4096, ubatch: 512 })).toThrow(OutOfDeviceMemoryError);
    const s = model.createSession({ contextSize: 32, ubatch: 8 });
    expect((await s.evaluate([1, 2, 3], { logits: "none" })).argmax).toBeGreaterThanOrEqual(0);
    rt.dispose();
  });

  it("names a missing device", async () => {
    await expect(Runtime.create({ device: "no-such-gpu-anywhere" })).rejects.toBeInstanceOf(NoVulkanDeviceError);
  });

  it("reports no Vulkan driver as NoVulkanDeviceError (child process without drivers)", () => {
    const script = `
      import { Runtime } from "./runtime/index.ts";
      try { await Runtime.create(); console.log(JSON.stringify({ ok: true })); }
      catch (e) { console.log(JSON.stringify({ name: e.constructor.name, code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: REPO_ROOT,
      env: { ...process.env, VK_DRIVER_FILES: "/nonexistent/icd.json", VK_ICD_FILENAMES: "/nonexistent/icd.json" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(out.code).toBe("NO_VULKAN_DEVICE");
    expect(out.name).toBe("NoVulkanDeviceError");
    expect(out.message).toMatch(/mesa-vulkan-drivers/);
  });
});

describe("sessions", () => {
  it("rejects context overflow, invalid tokens and use after dispose", async () => {
    const model = await runtime.loadModel(tinyPath);
    const s = model.createSession({ contextSize: 16 });
    await expect(s.evaluate(Array.from({ length: 20 }, (_, i) => 100 + i))).rejects.toBeInstanceOf(ContextOverflowError);
    const long = "word ".repeat(40);
    await expect(async () => {
      for await (const _ of s.generate(long)) void _;
    }).rejects.toBeInstanceOf(ContextOverflowError);
    await expect(s.evaluate([32000])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(s.evaluate([-1])).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => model.createSession({ contextSize: 0 })).toThrow(InvalidArgumentError);
    // Still usable after all of that.
    const ok = await s.evaluate([1, 500, 600], { logits: "last" });
    expect(ok.logits!.length).toBe(32000);
    s.dispose();
    await expect(s.evaluate([1])).rejects.toBeInstanceOf(DisposedError);
    model.dispose();
    expect(() => model.createSession()).toThrow(DisposedError);
  });

  it("still generates after every error above", async () => {
    const model = await runtime.loadModel(tinyPath);
    const s = model.createSession({ contextSize: 64 });
    let n = 0;
    for await (const c of s.generate("Hello", { temperature: 0, maxTokens: 4 })) n += c.tokens.length;
    expect(n).toBeGreaterThan(0);
    model.dispose();
  });
});
