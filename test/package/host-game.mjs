// game.mjs: a conversation with an NPC through parley-npc/host, the whole game side. Run it with `node game.mjs`.
import { ConversationHost } from "parley-npc/host";

const character = {
  schema: "parley.character/1", id: "smith", name: "Brom", role: "blacksmith",
  description: "The village blacksmith of Ashford: a broad man with burn-scarred forearms who sells swords.",
  personality: ["gruff", "honest"],
  speakingStyle: { description: "Short, blunt sentences. Calls the player 'lad'.", maxWords: 30 },
  greeting: "Mind the sparks. What do you need?",
};
const graph = {
  schema: "parley.dialogue/1", id: "smith-talk", character: "smith", start: "hello",
  variables: { request: { type: "string", default: "" } },
  nodes: {
    hello: { type: "llm_line", instruction: "Greet the traveller and ask what they need.", fallback: "Mind the sparks. What do you need?", next: "ask" },
    ask: { type: "player_input", prompt: "Tell Brom what you need...", store: "request", next: "answer" },
    answer: { type: "llm_line", instruction: "Answer the traveller in one sentence.", fallback: "Hm. Come back later.", next: "bye" },
    bye: { type: "choice", options: [{ text: "Thanks, Brom.", next: "done" }] },
    done: { type: "end" },
  },
};

const model = process.env.PARLEY_MODEL || "node_modules/parley-npc/samples/demo-model/parley-demo.gguf";
const host = await ConversationHost.create({ model, npcs: [{ character, graph }], seed: 1 });
const ended = new Promise((resolve) => {
  host.subscribe((e) => {
    if (e.type !== "dialogue") return;
    const event = e.event;
    if (event.type === "line_started") process.stdout.write(`${event.speaker}: `);
    if (event.type === "text_chunk") process.stdout.write(event.text); // generated lines stream in
    if (event.type === "line_complete") process.stdout.write("\n");
    if (event.type === "input_requested") void host.submit("How much for a sword?");
    if (event.type === "choices_offered") void host.choose(event.choices[0].index);
    if (event.type === "player_line") console.log(`You: ${event.text}`);
    if (event.type === "ended") resolve(event.reason);
  });
});
await host.start("smith"); // resolves once the conversation has started; it runs on, reporting through events
console.log(`[ended: ${await ended}]`);
await host.dispose();
