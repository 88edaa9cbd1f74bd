// A minimal game loop with one NPC conversation (README: "The dialogue plugin").
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Runtime } from "parley-npc/runtime";
import { DialogueRunner, LocalBackend, createDialogueStore, parseCharacter, parseDialogueGraph } from "parley-npc/plugin";

const load = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8"));
const character = parseCharacter(load("./village/characters/blacksmith.json"));
const graph = parseDialogueGraph(load("./village/dialogue/blacksmith.json"));

// Parley's demo model (it knows this village), or another: PARLEY_MODEL=tinyllama-1.1b-chat.Q4_0.gguf.
const modelPath = process.env.PARLEY_MODEL || fileURLToPath(new URL("./demo-model/parley-demo.gguf", import.meta.url));
const runtime = await Runtime.create();
const model = await runtime.loadModel(modelPath);
// Loading screen: pick the kernels for this player's GPU (measured once, then read from the tuning store).
if (runtime.device.type !== "cpu") await model.tune();
const backend = new LocalBackend(model, { device: runtime.device.name });
await backend.prepare(); // builds the GPU pipelines now, off the game's thread, not at the NPC's first line

// The game and its UI read dialogue state from a store; the runner feeds it events.
const store = createDialogueStore();
const runner = new DialogueRunner({ graph, character, backend, seed: 42, world: () => ({ time: "dusk" }) });
runner.on(store.getState().apply);
const conversation = runner.start();

// The player, scripted: what they type and which option they pick.
const typed = ["I need a sword for the road.", "Nice weather for forging."];
let printed = 0;
// A game draws state.bubble as it streams; here each finished line prints with its speaker.
const showLines = () => {
  const { transcript } = store.getState();
  for (const line of transcript.slice(printed)) console.log(`${line.source === "player" ? "You" : line.speaker}: ${line.text}`);
  printed = transcript.length;
};
const handleGameEvents = () => {
  for (const event of store.getState().takeGameEvents()) console.log(`[game] ${event.name} ${JSON.stringify(event.args)}`);
};
const frame = setInterval(() => {
  showLines();
  const state = store.getState();
  if (state.status === "waiting_input" && runner.status === "waiting_input") runner.submit(typed.shift() ?? "Goodbye.");
  if (state.status === "waiting_choice" && runner.status === "waiting_choice") runner.choose(state.choices[0].index);
  handleGameEvents();
}, 16);

await conversation;
clearInterval(frame);
showLines();
handleGameEvents();
console.log(`[conversation ${store.getState().endReason}] gold: ${runner.variables["player.gold"]}`);
backend.dispose();
runtime.dispose();
