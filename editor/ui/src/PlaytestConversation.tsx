/// <reference lib="dom" />
// The conversation as it plays: NPC lines as they stream (click a generated line to inspect its prompt), the
// player's words, intents and game events, then what the run waits for: choice buttons or a free-text box.

import { useEffect, useRef, useState } from "react";
import { usePlaytest } from "./playtest-store.js";

export default function PlaytestConversation() {
  const items = usePlaytest((s) => s.view.items);
  const choices = usePlaytest((s) => s.view.choices);
  const input = usePlaytest((s) => s.view.input);
  const ended = usePlaytest((s) => s.view.ended);
  const run = usePlaytest((s) => s.view.run);
  const inspected = usePlaytest((s) => s.inspected);
  const end = useRef<HTMLDivElement>(null);

  useEffect(() => {
    end.current?.scrollIntoView({ block: "nearest" });
  }, [items, choices, input, ended]);

  if (!run) return <p className="playtest-hint">Start a playtest: the graph plays on the project's model, here beside the graph.</p>;
  return (
    <div className="playtest-conversation" aria-label="Conversation" aria-live="polite">
      {items.map((item, index) => {
        switch (item.kind) {
          case "line":
            return (
              <button
                type="button"
                key={index}
                className={`playtest-line ${item.source}${item.done ? "" : " streaming"}${inspected === index ? " inspected" : ""}`}
                onClick={() => usePlaytest.getState().inspect(index)}
                title={item.source === "generated" ? "Show this line's prompt" : `${item.source} line`}
                data-node={item.nodeId}
              >
                <span className="playtest-speaker">{item.speaker}</span> <span className="playtest-text">{item.text}</span>
                <span className="playtest-source">
                  {item.source} · {item.nodeId}
                </span>
              </button>
            );
          case "player":
            return (
              <div key={index} className="playtest-player" data-node={item.nodeId}>
                <span className="playtest-speaker">Player</span> {item.text}
              </div>
            );
          case "intent":
            return (
              <div key={index} className="playtest-note">
                intent at {item.nodeId}: {item.intent ?? `none (best ${item.best})`} — {Math.round(item.confidence * 100)}% by {item.source}
              </div>
            );
          case "event":
            return (
              <div key={index} className="playtest-note">
                game event at {item.nodeId}: {item.name}
              </div>
            );
        }
      })}
      {choices && (
        <div className="playtest-choices" role="group" aria-label="Choices">
          {choices.map((choice) => (
            <button type="button" key={choice.index} onClick={() => void usePlaytest.getState().choose(choice.index)}>
              {choice.text}
            </button>
          ))}
        </div>
      )}
      {input && <PlayerInput key={input.nodeId + items.length} prompt={input.prompt} />}
      {ended && (
        <div className={`playtest-ended ${ended.reason}`}>
          {ended.reason === "end" && `The conversation ended at ${ended.nodeId}.`}
          {ended.reason === "cancelled" && `Stopped${ended.nodeId ? ` at ${ended.nodeId}` : ""}.`}
          {ended.reason === "error" && `The conversation failed${ended.nodeId ? ` at ${ended.nodeId}` : ""}: ${ended.error}`}
        </div>
      )}
      <div ref={end} />
    </div>
  );
}

function PlayerInput({ prompt }: { prompt: string }) {
  const [text, setText] = useState("");
  const send = (): void => {
    if (text.trim() === "") return;
    void usePlaytest.getState().submit(text);
  };
  return (
    <form
      className="playtest-input"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <input
        autoFocus
        value={text}
        placeholder={prompt || "What the player says…"}
        onChange={(e) => setText(e.target.value)}
        aria-label="Player's words"
        maxLength={1000}
      />
      <button type="submit" disabled={text.trim() === ""}>
        Say
      </button>
    </form>
  );
}
