/// <reference lib="dom" />
// The inspector's list fields: a choice's options (text, condition, next), an intent node's intents (id,
// description, examples one per line, next), a branch node's branches (condition, next) and any node's
// game events (name, arguments as JSON); and an exit's target. Items are added and removed with buttons,
// one undo step each.

import { joinPath } from "../../../plugin/errors.js";
import { commaList, DraftInput, Field, FieldProblems, jsonObject, lines, TargetSelect } from "./fields.js";
import { getIn, type FieldPath } from "./graph-edit.js";
import type { NodeEditor } from "./useNodeEditor.js";

function items(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map((v) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {})) : [];
}

function ListHead({ title, editor, listKey, onAdd, addLabel }: { title: string; editor: NodeEditor; listKey: string; onAdd(): void; addLabel: string }) {
  return (
    <div className="list-head">
      <h3>{title}</h3>
      <button type="button" className="small" onClick={onAdd}>
        {addLabel}
      </button>
      <FieldProblems problems={editor.problemsAt([listKey])} />
    </div>
  );
}

function RemoveButton({ onClick, what }: { onClick(): void; what: string }) {
  return (
    <button type="button" className="small remove" onClick={onClick} aria-label={`Remove ${what}`} title={`Remove ${what}`}>
      ×
    </button>
  );
}

export function OptionsEditor({ editor }: { editor: NodeEditor }) {
  const options = items(editor.node.options);
  return (
    <section className="list-field" aria-label="Options">
      <ListHead
        title="Options"
        editor={editor}
        listKey="options"
        addLabel="Add option"
        onAdd={() => editor.addItem("options", { text: `Option ${options.length + 1}`, next: "" })}
      />
      {options.map((option, i) => (
        <div className="list-item" key={i} data-item={`options-${i}`}>
          <div className="item-head">
            <span>Option {i + 1}</span>
            <RemoveButton what={`option ${i + 1}`} onClick={() => editor.removeItem("options", i)} />
          </div>
          <Field label="Text" problems={editor.problemsAt(["options", i, "text"])}>
            {(id) => <DraftInput id={id} value={option.text} onChange={(v) => editor.type(["options", i, "text"], v)} />}
          </Field>
          <Field label="Condition" hint="shown only when true; empty: always" problems={editor.problemsAt(["options", i, "condition"])}>
            {(id) => (
              <DraftInput
                id={id}
                className="code"
                value={option.condition}
                parse={(t) => (t.trim() === "" ? null : t)}
                onChange={(v) => editor.type(["options", i, "condition"], v)}
              />
            )}
          </Field>
          <ExitField editor={editor} label="Next" path={["options", i, "next"]} optional={false} />
          <Field label="Tags" hint="comma-separated" problems={editor.problemsAt(["options", i, "tags"])}>
            {(id) => <DraftInput id={id} value={option.tags ?? []} {...commaList} onChange={(v) => editor.type(["options", i, "tags"], v)} />}
          </Field>
        </div>
      ))}
    </section>
  );
}

export function IntentsEditor({ editor }: { editor: NodeEditor }) {
  const intents = items(editor.node.intents);
  return (
    <section className="list-field" aria-label="Intents">
      <ListHead
        title="Intents"
        editor={editor}
        listKey="intents"
        addLabel="Add intent"
        onAdd={() => editor.addItem("intents", { id: `intent_${intents.length + 1}`, description: "what the player means", examples: [], next: "" })}
      />
      {intents.map((intent, i) => (
        <div className="list-item" key={i} data-item={`intents-${i}`}>
          <div className="item-head">
            <span>Intent {i + 1}</span>
            <RemoveButton what={`intent ${i + 1}`} onClick={() => editor.removeItem("intents", i)} />
          </div>
          <Field label="Id" problems={editor.problemsAt(["intents", i, "id"])}>
            {(id) => <DraftInput id={id} className="code" value={intent.id} onChange={(v) => editor.type(["intents", i, "id"], v)} />}
          </Field>
          <Field label="Description" problems={editor.problemsAt(["intents", i, "description"])}>
            {(id) => <DraftInput id={id} value={intent.description} onChange={(v) => editor.type(["intents", i, "description"], v)} />}
          </Field>
          <Field label="Examples" hint="one per line; 15–25 varied phrasings route best" problems={[...editor.problemsAt(["intents", i, "examples"])]}>
            {(id) => (
              <DraftInput id={id} value={intent.examples ?? []} {...lines} multiline rows={4} onChange={(v) => editor.type(["intents", i, "examples"], v)} />
            )}
          </Field>
          <ExitField editor={editor} label="Next" path={["intents", i, "next"]} optional={false} />
        </div>
      ))}
    </section>
  );
}

export function BranchesEditor({ editor }: { editor: NodeEditor }) {
  const branches = items(editor.node.branches);
  return (
    <section className="list-field" aria-label="Branches">
      <ListHead
        title="Branches"
        editor={editor}
        listKey="branches"
        addLabel="Add branch"
        onAdd={() => editor.addItem("branches", { condition: "true", next: "" })}
      />
      {branches.map((branch, i) => (
        <div className="list-item" key={i} data-item={`branches-${i}`}>
          <div className="item-head">
            <span>Branch {i + 1}</span>
            <RemoveButton what={`branch ${i + 1}`} onClick={() => editor.removeItem("branches", i)} />
          </div>
          <Field label="Condition" problems={editor.problemsAt(["branches", i, "condition"])}>
            {(id) => <DraftInput id={id} className="code" value={branch.condition} onChange={(v) => editor.type(["branches", i, "condition"], v)} />}
          </Field>
          <ExitField editor={editor} label="Next" path={["branches", i, "next"]} optional={false} />
        </div>
      ))}
    </section>
  );
}

export function EventsEditor({ editor }: { editor: NodeEditor }) {
  const events = items(editor.node.events);
  return (
    <section className="list-field" aria-label="Game events">
      <ListHead
        title="Game events"
        editor={editor}
        listKey="events"
        addLabel="Add event"
        onAdd={() => editor.addItem("events", { name: "give_item", args: {} })}
      />
      {events.map((event, i) => (
        <div className="list-item" key={i} data-item={`events-${i}`}>
          <div className="item-head">
            <span>Event {i + 1}</span>
            <RemoveButton what={`event ${i + 1}`} onClick={() => editor.removeItem("events", i)} />
          </div>
          <Field label="Name" problems={editor.problemsAt(["events", i, "name"])}>
            {(id) => <DraftInput id={id} className="code" value={event.name} onChange={(v) => editor.type(["events", i, "name"], v)} />}
          </Field>
          <Field
            label="Arguments"
            hint='JSON: {"item": "sword"}'
            problems={[
              ...editor.problemsAt(["events", i, "args"]),
              ...editor.problems.filter((p) => p.path.startsWith(`${argsPath(editor, i)}.`) || p.path.startsWith(`${argsPath(editor, i)}[`)),
            ]}
          >
            {(id) => <DraftInput id={id} className="code" value={event.args ?? {}} {...jsonObject} onChange={(v) => editor.type(["events", i, "args"], v)} />}
          </Field>
        </div>
      ))}
    </section>
  );
}

function argsPath(editor: NodeEditor, index: number): string {
  return joinPath(joinPath(joinPath(joinPath("nodes", editor.id), "events"), index), "args");
}

/** An exit's target, chosen from the graph's nodes (the same as dragging its handle on the canvas). */
export function ExitField({ editor, label, path, optional }: { editor: NodeEditor; label: string; path: FieldPath; optional: boolean }) {
  return (
    <Field label={label} problems={editor.problemsAt(path)}>
      {(fieldId) => (
        <TargetSelect id={fieldId} value={getIn(editor.node, path)} nodeIds={editor.nodeIds} optional={optional} onChange={(t) => editor.set(path, t)} />
      )}
    </Field>
  );
}
