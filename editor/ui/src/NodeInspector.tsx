/// <reference lib="dom" />
// The inspector for one node: its id (renamed on Enter or when the field is left: every exit that led to
// it follows), whether the conversation starts there, every field of its type (plugin/types.ts), and the
// tags and game events any node can carry. Each field shows the validation problems at its JSON path.

import { useEffect, useState } from "react";
import { NODE_ID_PATTERN } from "../../../plugin/dialogue/validate.js";
import { commaList, DraftInput, Field, FieldProblems, lines, parseOptionalNumber } from "./fields.js";
import { nodeTypeInfo } from "./graph-model.js";
import { setStart, variablesOf } from "./graph-edit.js";
import { BranchesEditor, EventsEditor, ExitField, IntentsEditor, OptionsEditor } from "./NodeLists.js";
import { useEditor } from "./store.js";
import { useNodeEditor, type NodeEditor } from "./useNodeEditor.js";

export default function NodeInspector({ id }: { id: string }) {
  const editor = useNodeEditor(id);
  if (!editor) return null;
  const { node } = editor;
  const info = nodeTypeInfo(String(node.type));
  const atNode = editor.problemsAt([]);
  return (
    <div className="node-inspector" data-node-id={id}>
      <h2 style={{ color: info.color }}>{info.label}</h2>
      <NodeIdField editor={editor} />
      <StartToggle id={id} />
      <FieldProblems problems={atNode} />
      <TypeFields editor={editor} />
      <Field label="Tags" hint="comma-separated" problems={editor.problemsAt(["tags"])}>
        {(fieldId) => <DraftInput id={fieldId} value={node.tags ?? []} {...commaList} onChange={(v) => editor.type(["tags"], v)} />}
      </Field>
      <EventsEditor editor={editor} />
    </div>
  );
}

function TypeFields({ editor }: { editor: NodeEditor }) {
  const { node } = editor;
  const text = (label: string, key: string, options: { multiline?: boolean; hint?: string } = {}) => (
    <Field label={label} hint={options.hint} problems={editor.problemsAt([key])}>
      {(fieldId) => <DraftInput id={fieldId} value={node[key]} multiline={options.multiline} rows={3} onChange={(v) => editor.type([key], v)} />}
    </Field>
  );
  const number = (label: string, key: string, hint: string) => (
    <Field label={label} hint={hint} problems={editor.problemsAt([key])}>
      {(fieldId) => <DraftInput id={fieldId} value={node[key]} parse={parseOptionalNumber} onChange={(v) => editor.type([key], v)} />}
    </Field>
  );
  const exit = (label: string, key: string, optional: boolean) => <ExitField editor={editor} label={label} path={[key]} optional={optional} />;

  switch (node.type) {
    case "line":
      return (
        <>
          {text("Text", "text", { multiline: true, hint: "{variable} placeholders are filled in" })}
          {exit("Next", "next", true)}
        </>
      );
    case "llm_line":
      return (
        <>
          {text("Instruction", "instruction", { multiline: true, hint: "what the generated line should do" })}
          {number("Max words", "maxWords", "empty: the character's limit")}
          {text("Fallback line", "fallback", { multiline: true, hint: "when no model is loaded or generation fails" })}
          {exit("Next", "next", true)}
        </>
      );
    case "player_input":
      return (
        <>
          {text("Prompt", "prompt", { hint: "shown in the input box" })}
          <Field label="Reply" problems={editor.problemsAt(["reply"])}>
            {(fieldId) => (
              <label className="checkbox">
                <input id={fieldId} type="checkbox" checked={node.reply === true} onChange={(e) => editor.set(["reply"], e.target.checked)} /> the NPC answers
                in character
              </label>
            )}
          </Field>
          {text("Reply instruction", "instruction", { multiline: true })}
          <StoreField editor={editor} />
          {exit("Next", "next", true)}
        </>
      );
    case "choice":
      return <OptionsEditor editor={editor} />;
    case "intent":
      return (
        <>
          <IntentsEditor editor={editor} />
          {exit("Fallback", "fallback", false)}
          {number("Min confidence", "minConfidence", "0–1; empty: 0.5")}
        </>
      );
    case "branch":
      return (
        <>
          <BranchesEditor editor={editor} />
          {exit("Otherwise", "otherwise", false)}
        </>
      );
    case "set":
      return (
        <>
          <Field label="Effects" hint="one per line: gold -= 30, met = true" problems={effectProblems(editor)}>
            {(fieldId) => <DraftInput id={fieldId} value={node.effects} {...lines} multiline rows={3} onChange={(v) => editor.type(["effects"], v)} />}
          </Field>
          {exit("Next", "next", true)}
        </>
      );
    case "jump":
      return exit("Target", "target", false);
    case "end":
      return <p className="muted">Ends the conversation.</p>;
    default:
      return <p className="muted">Unknown node type: edit the file by hand.</p>;
  }
}

/** The effects' problems, each with its line: `effects[1]` is the second line. */
function effectProblems(editor: NodeEditor) {
  const count = Array.isArray(editor.node.effects) ? editor.node.effects.length : 0;
  const all = editor.problemsAt(["effects"]);
  for (let i = 0; i < count; i++) all.push(...editor.problemsAt(["effects", i]).map((p) => ({ ...p, message: `line ${i + 1}: ${p.message}` })));
  return all;
}

function StoreField({ editor }: { editor: NodeEditor }) {
  const json = useEditor((s) => s.json);
  const strings = Object.entries(json ? variablesOf(json) : {})
    .filter(([, v]) => v.type === "string")
    .map(([name]) => name);
  const current = typeof editor.node.store === "string" ? editor.node.store : "";
  return (
    <Field label="Store the text in" hint="a string variable" problems={editor.problemsAt(["store"])}>
      {(fieldId) => (
        <select id={fieldId} value={current} onChange={(e) => editor.set(["store"], e.target.value === "" ? null : e.target.value)}>
          <option value="">(not stored)</option>
          {current !== "" && !strings.includes(current) && <option value={current}>{current} (not a string variable)</option>}
          {strings.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

function NodeIdField({ editor }: { editor: NodeEditor }) {
  const renameNode = useEditor((s) => s.renameNode);
  const [draft, setDraft] = useState(editor.id);
  useEffect(() => setDraft(editor.id), [editor.id]);
  const problem =
    draft === editor.id
      ? ""
      : !NODE_ID_PATTERN.test(draft)
        ? "letters, digits, _ and - only"
        : editor.nodeIds.includes(draft)
          ? `there is already a node "${draft}"`
          : "";
  const commit = () => {
    if (draft !== editor.id && problem === "") renameNode(editor.id, draft);
    else setDraft(editor.id);
  };
  return (
    <Field label="Id" hint="exits that lead here follow a rename" problems={problem ? [{ path: "", message: problem, severity: "error" }] : []}>
      {(fieldId) => (
        <input
          id={fieldId}
          type="text"
          value={draft}
          className={problem ? "invalid" : undefined}
          onChange={(e) => setDraft(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === "Enter") commit();
            if (e.key === "Escape") setDraft(editor.id);
          }}
        />
      )}
    </Field>
  );
}

function StartToggle({ id }: { id: string }) {
  const isStart = useEditor((s) => s.json?.start === id);
  const change = useEditor((s) => s.edit);
  if (isStart) return <p className="start-note">The conversation starts here.</p>;
  return (
    <button type="button" className="small" onClick={() => change((g) => setStart(g, id))}>
      Start the conversation here
    </button>
  );
}
