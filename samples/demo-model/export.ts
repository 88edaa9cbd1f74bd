// Exports the trained demo model (weights.bin + weights.json written by train.py) to a GGUF that Parley and
// llama.cpp load like any other: architecture `llama`, the real Llama 2 vocabulary and TinyLlama-Chat's chat
// template (the metadata of runtime/synth's synthetic models, with this model's shape and name), 2-D weights in
// F16 (or Q8_0), norms in F32, no output.weight (tied: both runtimes use token_embd for the output).
//
//   npx tsx samples/demo-model/export.ts [--in DIR] [--out FILE] [--type f16|q8_0|f32]
//
// Defaults: --in samples/demo-model/.cache/train, --out samples/demo-model/parley-demo.gguf, --type f16.

import { readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { quantize } from "../../runtime/gguf/quant.js";
import { GgmlType, LlamaFileType, gguf, tensorByteSize, type GgufMetadataValue } from "../../runtime/gguf/types.js";
import { writeGguf, type GgufWriterTensor } from "../../runtime/gguf/writer.js";
import { synthMetadata } from "../../runtime/synth/synth.js";

const HERE = dirname(fileURLToPath(import.meta.url));

export interface TrainedConfig {
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  n_ff: number;
  n_ctx: number;
  rms_eps: number;
  rope_base: number;
}

interface Manifest {
  config: TrainedConfig;
  params: number;
  steps: number;
  seed: number;
  tensors: { name: string; dims: number[]; offset: number; bytes: number }[];
}

const TYPES = {
  f32: { ggml: GgmlType.F32, ftype: LlamaFileType.ALL_F32 },
  f16: { ggml: GgmlType.F16, ftype: LlamaFileType.MOSTLY_F16 },
  q8_0: { ggml: GgmlType.Q8_0, ftype: LlamaFileType.MOSTLY_Q8_0 },
} as const;

/** The GGUF metadata of the demo model: runtime/synth's (vocabulary, template, tokenizer flags) with this shape. */
export function demoMetadata(c: TrainedConfig, type: keyof typeof TYPES, steps: number): Array<[string, GgufMetadataValue]> {
  const own: Record<string, GgufMetadataValue> = {
    "general.name": gguf.string(`parley-demo-village-${c.n_embd}x${c.n_layer}-${steps}steps`),
    "general.file_type": gguf.u32(TYPES[type].ftype),
    "llama.context_length": gguf.u32(c.n_ctx),
    "llama.embedding_length": gguf.u32(c.n_embd),
    "llama.block_count": gguf.u32(c.n_layer),
    "llama.feed_forward_length": gguf.u32(c.n_ff),
    "llama.rope.dimension_count": gguf.u32(c.n_embd / c.n_head),
    "llama.attention.head_count": gguf.u32(c.n_head),
    "llama.attention.head_count_kv": gguf.u32(c.n_head_kv),
    "llama.attention.layer_norm_rms_epsilon": gguf.f32(c.rms_eps),
    "llama.rope.freq_base": gguf.f32(c.rope_base),
  };
  // synthMetadata("tiny", …) carries the Llama 2 vocabulary and TinyLlama's template; its shape keys are replaced.
  const base = synthMetadata("tiny", type === "q8_0" ? "q8_0" : type, 0);
  return base.map(([k, v]) => [k, own[k] ?? v]);
}

export async function exportGguf(inDir: string, out: string, type: keyof typeof TYPES = "f16"): Promise<{ bytes: number; params: number }> {
  const manifest = JSON.parse(readFileSync(join(inDir, "weights.json"), "utf8")) as Manifest;
  const blob = readFileSync(join(inDir, "weights.bin"));
  const tensors: GgufWriterTensor[] = manifest.tensors.map((t) => {
    const ggml = t.dims.length >= 2 ? TYPES[type].ggml : GgmlType.F32;
    return {
      name: t.name,
      dims: t.dims,
      type: ggml,
      data: () => {
        const n = t.dims.reduce((a, b) => a * b, 1);
        if (t.bytes !== n * 4) throw new Error(`${t.name}: ${t.bytes} bytes for ${n} floats`);
        const values = new Float32Array(n);
        const view = new DataView(blob.buffer, blob.byteOffset + t.offset, t.bytes);
        for (let i = 0; i < n; i++) values[i] = view.getFloat32(i * 4, true);
        const bytes = quantize(ggml, values);
        if (bytes.length !== tensorByteSize(ggml, t.dims)) throw new Error(`internal: size mismatch for ${t.name}`);
        return bytes;
      },
    };
  });
  await writeGguf(out, { metadata: demoMetadata(manifest.config, type, manifest.steps), tensors });
  return { bytes: statSync(out).size, params: manifest.params };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { in: { type: "string" }, out: { type: "string" }, type: { type: "string" } } });
  const inDir = resolve(values.in ?? join(HERE, ".cache/train"));
  const out = resolve(values.out ?? join(HERE, "parley-demo.gguf"));
  const type = (values.type ?? "f16") as keyof typeof TYPES;
  if (!(type in TYPES)) throw new Error(`--type must be f32, f16 or q8_0, got ${type}`);
  const { bytes, params } = await exportGguf(inDir, out, type);
  console.log(`export: ${out} (${type}, ${params} parameters, ${(bytes / 1e6).toFixed(2)} MB)`);
  if (bytes > 20e6) throw new Error(`the demo model must stay under 20 MB, it is ${bytes} bytes`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
