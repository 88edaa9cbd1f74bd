/// <reference lib="dom" />
// Why the model said what it said: the prompt of the inspected generated line (or the latest one), part by
// part — persona, scenario, system prompt, mood, lore, world, memory, history, the player's line, post-history
// instructions, the instruction — each with its token count by the model's own tokenizer, the whole chat's
// count against the context, the line's time to first token and ms per token, and the exact messages.

import { lineSpeed, type ConversationItem } from "./playtest-fold.js";
import { usePlaytest } from "./playtest-store.js";

const PART_LABELS: Record<string, string> = {
  persona: "Persona",
  scenario: "Scenario",
  systemPrompt: "System prompt",
  mood: "Mood",
  lore: "Lore",
  world: "World",
  memory: "Memory",
  history: "History",
  player: "Player line",
  postHistory: "Post-history",
  instruction: "Instruction",
};

type Line = Extract<ConversationItem, { kind: "line" }>;

export default function PlaytestPrompt() {
  const items = usePlaytest((s) => s.view.items);
  const inspected = usePlaytest((s) => s.inspected);
  const picked = inspected !== null ? items[inspected] : undefined;
  const line: Line | undefined =
    picked?.kind === "line" ? picked : (items.filter((i): i is Line => i.kind === "line" && i.prompts.length > 0).at(-1) as Line | undefined);
  return (
    <div className="playtest-box playtest-prompt" aria-label="Prompt inspector">
      <h3>Prompt{line ? ` of ${line.nodeId}` : ""}</h3>
      {!line && <p className="playtest-muted">Generated lines show their prompt here (click a line).</p>}
      {line && line.prompts.length === 0 && <p className="playtest-muted">An {line.source} line: the model was not asked.</p>}
      {line && line.prompts.length > 0 && <PromptDetails line={line} />}
    </div>
  );
}

function PromptDetails({ line }: { line: Line }) {
  const prompt = line.prompts.at(-1)!;
  const counted = prompt.parts.reduce((n, p) => n + p.tokens, 0);
  const speed = line.timing ? lineSpeed(line.timing) : null;
  return (
    <>
      <table className="playtest-parts">
        <tbody>
          {prompt.parts.map((part) => (
            <tr key={part.part} title={part.text}>
              <th>{PART_LABELS[part.part] ?? part.part}</th>
              <td className="playtest-tokens">{part.tokens}</td>
              <td className="playtest-part-text">{part.text}</td>
            </tr>
          ))}
          {prompt.totalTokens > counted && (
            <tr>
              <th>Chat template</th>
              <td className="playtest-tokens">{prompt.totalTokens - counted}</td>
              <td className="playtest-part-text playtest-muted">role markers and the generation prompt</td>
            </tr>
          )}
          <tr className="playtest-total">
            <th>Total</th>
            <td className="playtest-tokens">{prompt.totalTokens}</td>
            <td className="playtest-part-text">tokens, + up to {prompt.maxTokens} for the reply</td>
          </tr>
        </tbody>
      </table>
      <p className="playtest-muted">
        {line.prompts.length > 1 ? `${line.prompts.length} attempts (the guardrails asked again); the last is shown. ` : ""}
        seed {prompt.seed ?? "random"}
        {speed &&
          ` · first token ${Math.round(speed.ttftMs)} ms · ${speed.msPerToken === null ? "–" : `${speed.msPerToken.toFixed(1)} ms/token`} · ${line.timing!.tokens} tokens`}
      </p>
      <details>
        <summary>The exact messages</summary>
        {prompt.messages.map((m, i) => (
          <pre key={i} className="playtest-message">
            <b>{m.role}</b>
            {"\n"}
            {m.content}
          </pre>
        ))}
      </details>
    </>
  );
}
