/// <reference lib="dom" />
// The character form, in the centre of the page when a character is chosen in the project browser: every
// field of the plugin's character schema (plugin/types.ts), the validator's problems under each field as
// the writer types, token counts per field and for the persona prefix, and export as a card file
// (V2 or V3 JSON, or a PNG with both inside). Undo, redo and save are the top bar's and Ctrl+Z / Ctrl+Y / Ctrl+S.

import { useCharacters } from "./character-store.js";
import { CheckField, ListSection, TextField, useProblems } from "./CharacterFields.js";
import { TokenCountsProvider, TokenSummary, useTokenCounts } from "./CharacterTokens.js";
import { commaList, FieldProblems, jsonObject, lines, parseOptionalNumber } from "./fields.js";
import { useCharacterShortcuts } from "./useCharacterShortcuts.js";
import "./character-form.css";

export default function CharacterForm() {
  const open = useCharacters((s) => s.open);
  const json = useCharacters((s) => s.json);
  const tokens = useTokenCounts(json);
  useCharacterShortcuts();
  if (!open) return null;
  const editable = !open.unreadable && json !== null;
  return (
    <section className="character-form" aria-label="Character form" data-character={open.id}>
      <TokenCountsProvider value={tokens}>
        {/* Stays in view while the form scrolls: the persona's share of the context is what long texts change. */}
        <header className="character-head">
          <h2>
            Character <code>{open.id}</code>
            {typeof json?.name === "string" && json.name !== "" && <span className="character-name"> — {json.name}</span>}
          </h2>
          <ExportButtons />
          {editable && <TokenSummary />}
        </header>
        {editable ? (
          <Fields />
        ) : (
          <div className="canvas-message problem">
            <p>{open.path} cannot be edited in the form:</p>
            <pre>{open.unreadable ?? "the file is not a JSON object"}</pre>
          </div>
        )}
      </TokenCountsProvider>
    </section>
  );
}

function ExportButtons() {
  const exportCard = useCharacters((s) => s.exportCard);
  return (
    <div className="character-export" role="group" aria-label="Export as a character card">
      <span className="muted">Export card:</span>
      <button type="button" onClick={() => void exportCard("json")} title="Download a Character Card V2 JSON file">
        JSON
      </button>
      <button type="button" onClick={() => void exportCard("json", "v3")} title="Download a Character Card V3 JSON file">
        V3 JSON
      </button>
      <button
        type="button"
        onClick={() => void exportCard("png")}
        title="Download a PNG card: Card V2 in the chara chunk and Card V3 in the ccv3 chunk, as SillyTavern writes"
      >
        PNG
      </button>
    </div>
  );
}

const number = { parse: parseOptionalNumber };

function Fields() {
  const idProblems = useProblems(["id"]);
  const schemaProblems = useProblems(["schema"]);
  const documentProblems = useProblems([]);
  return (
    <div className="character-fields">
      <FieldProblems problems={[...documentProblems, ...schemaProblems, ...idProblems]} />
      <fieldset>
        <legend>Who they are</legend>
        <TextField label="Name" path={["name"]} />
        <TextField label="Role" path={["role"]} hint='what they are in the world: "blacksmith"' />
        <TextField label="Description" path={["description"]} multiline rows={4} hint="who they are, in prose" />
        <TextField label="Scenario" path={["scenario"]} multiline rows={3} hint="the situation the conversation happens in" />
        <TextField label="Personality" path={["personality"]} multiline rows={3} hint="one trait per line" {...lines} />
        <TextField label="Mood" path={["mood"]} hint="games change it at run time" />
      </fieldset>
      <fieldset>
        <legend>How they talk</legend>
        <TextField label="Speaking style" path={["speakingStyle", "description"]} multiline rows={2} />
        <TextField label="Max words per reply" path={["speakingStyle", "maxWords"]} counted={false} {...number} />
        <TextField
          label="Greeting"
          path={["greeting"]}
          multiline
          rows={2}
          hint="the first line when the player starts talking ({npc_greeting} in a graph line); {{char}} and {{user}} become the names"
        />
        <ListSection
          title="Alternate greetings"
          field="alternateGreetings"
          addLabel="Add greeting"
          itemName="alternate greeting"
          newItem={() => ""}
          hint="each conversation's seed picks the greeting or one of these"
        >
          {(i) => <TextField label="Alternate greeting" path={["alternateGreetings", i]} multiline rows={2} />}
        </ListSection>
        <TextField label="Fallback lines" path={["fallbackLines"]} multiline rows={3} hint="one per line; used when no model is loaded" {...lines} />
        <ListSection
          title="Examples"
          field="examples"
          addLabel="Add example"
          itemName="example"
          newItem={() => ({ player: "", npc: "" })}
          hint="exchanges that show the voice"
        >
          {(i) => (
            <>
              <TextField label="Player says" path={["examples", i, "player"]} />
              <TextField label="They answer" path={["examples", i, "npc"]} multiline />
            </>
          )}
        </ListSection>
      </fieldset>
      <fieldset>
        <legend>What they know and want</legend>
        <ListSection
          title="Knowledge"
          field="knowledge"
          addLabel="Add lore entry"
          itemName="lore entry"
          newItem={() => ({ keywords: [], text: "", always: false, priority: 0 })}
          hint="always in the prompt, or brought in when a keyword comes up"
        >
          {(i) => (
            <>
              <TextField label="Text" path={["knowledge", i, "text"]} multiline rows={2} />
              <TextField label="Keywords" path={["knowledge", i, "keywords"]} hint="comma-separated" counted={false} {...commaList} />
              <CheckField label="Always in the prompt" path={["knowledge", i, "always"]} />
              <TextField label="Priority" path={["knowledge", i, "priority"]} hint="higher first when the budget is tight" counted={false} {...number} />
            </>
          )}
        </ListSection>
        <TextField label="Goals" path={["goals"]} multiline rows={3} hint="one per line" {...lines} />
        <ListSection
          title="Secrets"
          field="secrets"
          addLabel="Add secret"
          itemName="secret"
          newItem={() => ({ text: "", leakPatterns: [] })}
          hint="never to be revealed; the guardrails check replies for the leak patterns"
        >
          {(i) => (
            <>
              <TextField label="Secret" path={["secrets", i, "text"]} multiline />
              <TextField label="Leak patterns" path={["secrets", i, "leakPatterns"]} hint="comma-separated" counted={false} {...commaList} />
            </>
          )}
        </ListSection>
        <ListSection
          title="Relationships"
          field="relationships"
          addLabel="Add relationship"
          itemName="relationship"
          newItem={() => ({ target: "player", attitude: "", description: "" })}
        >
          {(i) => (
            <>
              <TextField label="With" path={["relationships", i, "target"]} hint='"player" or a character id' />
              <TextField label="Attitude" path={["relationships", i, "attitude"]} />
              <TextField label="Description" path={["relationships", i, "description"]} />
            </>
          )}
        </ListSection>
      </fieldset>
      <fieldset>
        <legend>Instructions for the model</legend>
        <TextField
          label="System prompt"
          path={["systemPrompt"]}
          multiline
          rows={3}
          hint="how to play them; below Parley's own rules in the prompt, never above"
        />
        <TextField
          label="Post-history instructions"
          path={["postHistoryInstructions"]}
          multiline
          rows={2}
          hint="after the conversation, just before each line's instruction"
        />
      </fieldset>
      <fieldset>
        <legend>Other tools' data</legend>
        <TextField
          label="Extensions"
          path={["extensions"]}
          multiline
          rows={3}
          counted={false}
          hint="JSON kept for other tools (card fields Parley has no place for)"
          {...jsonObject}
        />
      </fieldset>
    </div>
  );
}
