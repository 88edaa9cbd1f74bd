// Held-out evaluation of the demo model: perplexity of its replies on a held-out slice of the corpus, computed
// by Parley (Vulkan runtime, session.evaluate) and by llama.cpp (node-llama-cpp's prebuilt CPU backend) on the
// same GGUF, and their relative difference. Perplexity = exp(mean negative log-likelihood of the reply tokens,
// the closing </s> included), each sample teacher-forced after its full village prompt.
//
//   npx tsx samples/demo-model/eval.ts [--model FILE] [--count N] [--json] [--replies]
//
// The held-out slice is regenerated with corpus.ts's generator (seed 1, every 50th sample), so no corpus files
// are needed. --replies also prints three generated replies per NPC for prompts built by the village's prompt
// builder. Exit status 1 when the two perplexities differ by more than 1%.

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { Runtime, type Model } from "../../runtime/index.js";
import { buildPrompt } from "../../plugin/prompt/prompt-builder.js";
import { chatTokens, loadCharacters, makeSample, NPCS, type CorpusSample } from "./corpus.js";

const HERE = dirname(fileURLToPath(import.meta.url));

/** The held-out slice: samples 49, 99, … of the seed-1 stream (the ones corpus.ts puts in heldout.jsonl). */
export function heldoutSlice(count: number, seed = 1): CorpusSample[] {
  const characters = loadCharacters();
  const out: CorpusSample[] = [];
  for (let k = 0; k < count; k++) out.push(makeSample(characters, seed, 50 * k + 49));
  return out;
}

function logSoftmaxAt(row: ArrayLike<number>, offset: number, n: number, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, row[offset + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(row[offset + i] - max);
  return row[offset + target] - max - Math.log(sum);
}

/** Sum of reply-token NLLs and their count, by Parley. */
export async function parleyNll(model: Model, samples: readonly CorpusSample[]): Promise<{ nll: number; tokens: number; argmax: number[] }> {
  const n = model.info.vocabularySize;
  let nll = 0;
  let tokens = 0;
  const argmax: number[] = [];
  for (const s of samples) {
    const session = model.createSession({ contextSize: Math.min(model.info.contextLength, 2048) });
    try {
      await session.evaluate(s.prompt.slice(0, -1), { logits: "none" });
      const feed = [s.prompt[s.prompt.length - 1], ...s.reply.slice(0, -1)];
      const r = await session.evaluate(feed, { logits: "all" });
      const logits = r.logits!;
      for (let i = 0; i < feed.length; i++) {
        nll -= logSoftmaxAt(logits, i * n, n, s.reply[i]);
        let best = 0;
        for (let v = 1; v < n; v++) if (logits[i * n + v] > logits[i * n + best]) best = v;
        argmax.push(best);
        tokens++;
      }
    } finally {
      session.dispose();
    }
  }
  return { nll, tokens, argmax };
}

/** Sum of reply-token NLLs and their count, by llama.cpp (logits only where a reply token is predicted). */
export async function llamaCppNll(path: string, samples: readonly CorpusSample[], threads = 2): Promise<{ nll: number; tokens: number; argmax: number[] }> {
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  let nll = 0;
  let tokens = 0;
  const argmax: number[] = [];
  try {
    for (const s of samples) {
      const all = [...s.prompt, ...s.reply.slice(0, -1)];
      const context = await model.createContext({ contextSize: Math.max(all.length + 1, 64), batchSize: 512, sequences: 1, threads, flashAttention: false });
      try {
        const first = s.prompt.length - 1;
        const items = all.map((t, i) => (i >= first ? ([t as Token, { generateNext: { logits: true } }] as const) : (t as Token)));
        const results = await context.getSequence().controlledEvaluate(items as never);
        for (let i = first; i < all.length; i++) {
          const map = results[i]?.next?.logits as Map<Token, number> | undefined;
          if (!map) throw new Error(`llama.cpp returned no logits at position ${i}`);
          const row = new Float64Array(map.size).fill(-Infinity);
          let best = -1;
          let bestValue = -Infinity;
          for (const [tok, v] of map) {
            row[tok] = v;
            if (v > bestValue || (v === bestValue && tok < best)) {
              bestValue = v;
              best = tok;
            }
          }
          nll -= logSoftmaxAt(row, 0, row.length, s.reply[i - first]);
          argmax.push(best);
          tokens++;
        }
      } finally {
        await context.dispose();
      }
    }
  } finally {
    await model.dispose();
    await llama.dispose();
  }
  return { nll, tokens, argmax };
}

const REPLY_PROMPTS: Record<string, string[]> = {
  blacksmith: ["How much for a sword?", "Where is the iron shipment?", "Nice forge you have here."],
  innkeeper: ["Do you have a room for the night?", "Heard any rumours?", "What's good to eat?"],
  guard: ["Any work for a sword arm?", "When is curfew?", "Tell me about the bandits."],
};

export async function sampleReplies(model: Model, seed = 7): Promise<Record<string, { player: string; reply: string }[]>> {
  const characters = loadCharacters();
  const backend = {
    contextSize: 2048,
    countTokens: (t: string) => model.tokenize(t).length,
    countChatTokens: (m: Parameters<typeof chatTokens>[0]) => model.tokenizeChat(m).length,
  };
  const out: Record<string, { player: string; reply: string }[]> = {};
  for (const npc of NPCS) {
    out[npc] = [];
    for (const player of REPLY_PROMPTS[npc]) {
      const character = characters[npc];
      const maxWords = character.speakingStyle.maxWords;
      const prompt = buildPrompt({
        character,
        graphInstruction: "Answer the player in character.",
        world: { time: "evening", weather: "light rain" },
        playerText: player,
        backend,
        replyTokens: maxWords * 2 + 16,
        maxWords,
      });
      const session = model.createSession({ contextSize: 2048 });
      let reply = "";
      for await (const chunk of session.generate(prompt.messages, { temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, seed, maxTokens: maxWords * 2 + 16 }))
        reply += chunk.text;
      session.dispose();
      out[npc].push({ player, reply: reply.trim() });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { model: { type: "string" }, count: { type: "string" }, json: { type: "boolean", default: false }, replies: { type: "boolean", default: false } },
  });
  const path = resolve(values.model ?? join(HERE, "parley-demo.gguf"));
  if (!existsSync(path)) throw new Error(`no model at ${path}: run samples/demo-model/build.sh first`);
  const count = Number(values.count ?? 24);
  const samples = heldoutSlice(count);
  const runtime = await Runtime.create();
  const model = await runtime.loadModel(path);
  const t0 = Date.now();
  const p = await parleyNll(model, samples);
  const t1 = Date.now();
  const replies = values.replies ? await sampleReplies(model) : undefined;
  model.dispose();
  runtime.dispose();
  const t2 = Date.now();
  const l = await llamaCppNll(path, samples);
  const t3 = Date.now();
  const pplParley = Math.exp(p.nll / p.tokens);
  const pplLlama = Math.exp(l.nll / l.tokens);
  const relDiff = Math.abs(pplParley - pplLlama) / pplLlama;
  const agree = p.argmax.filter((a, i) => a === l.argmax[i]).length / p.argmax.length;
  const result = {
    model: path,
    samples: samples.length,
    tokens: p.tokens,
    perplexity: { parley: pplParley, llamaCpp: pplLlama, relativeDifference: relDiff, withinOnePercent: relDiff <= 0.01 },
    top1Agreement: agree,
    seconds: { parley: (t1 - t0) / 1000, llamaCpp: (t3 - t2) / 1000 },
    ...(replies ? { replies } : {}),
  };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`held-out: ${samples.length} samples, ${p.tokens} reply tokens`);
    console.log(
      `perplexity  Parley ${pplParley.toFixed(4)}  llama.cpp ${pplLlama.toFixed(4)}  difference ${(relDiff * 100).toFixed(3)}%  top-1 agreement ${(agree * 100).toFixed(2)}%`,
    );
    if (replies) for (const [npc, rs] of Object.entries(replies)) for (const r of rs) console.log(`${npc} | ${r.player} → ${r.reply}`);
  }
  if (relDiff > 0.01) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
