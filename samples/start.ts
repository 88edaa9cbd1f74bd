// `npm start`: until the playable village lands (see the issues), a first conversation on the runtime.
// It resolves a model (--model FILE, then PARLEY_MODEL, else a synthetic TinyLlama-shaped `tiny` model
// written once into ~/.cache/parley), asks an NPC a question and streams the reply.
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Runtime, writeSyntheticModel } from "../runtime/index.js";

const { values } = parseArgs({ options: { model: { type: "string" }, prompt: { type: "string" } } });

async function resolveModel(): Promise<{ path: string; note: string }> {
  const explicit = values.model ?? process.env.PARLEY_MODEL;
  if (explicit) return { path: explicit, note: `model: ${explicit}` };
  const dir = join(process.env.PARLEY_MODELS ?? join(homedir(), ".cache", "parley", "models"));
  const path = join(dir, "synthetic-tiny-q4_0.gguf");
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    await writeSyntheticModel({ shape: "tiny", type: "q4_0", seed: 1, out: path });
  }
  return { path, note: `model: ${path} (random weights: it speaks noise; pass --model or set PARLEY_MODEL to a real TinyLlama-Chat GGUF)` };
}

const { path, note } = await resolveModel();
const runtime = await Runtime.create();
try {
  console.log(`device: ${runtime.device.name} (${runtime.device.type})`);
  console.log(note);
  const model = await runtime.loadModel(path);
  const session = model.createSession({ contextSize: 512 });
  const question = values.prompt ?? "Good morning! Do you have a sword for sale?";
  console.log(`\nplayer: ${question}\nBrom the blacksmith: `);
  let timings;
  for await (const chunk of session.generate(
    [
      { role: "system", content: "You are Brom, the gruff but kind blacksmith of Oakvale. Answer in one or two short sentences." },
      { role: "user", content: question },
    ],
    { temperature: 0.7, seed: 7, maxTokens: 48, stop: ["\n\n"] },
  )) {
    process.stdout.write(chunk.text);
    timings = chunk.timings ?? timings;
  }
  if (timings) {
    const perToken = timings.generatedTokens > 1 ? timings.generateMs / (timings.generatedTokens - 1) : timings.generateMs;
    console.log(`\n\n[first token ${timings.firstTokenMs.toFixed(0)} ms, ${perToken.toFixed(1)} ms/token, ${timings.generatedTokens} tokens]`);
  }
} finally {
  runtime.dispose();
}
