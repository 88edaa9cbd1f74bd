/// <reference lib="dom" />
// The node palette above the canvas: one tile per node type of the dialogue schema. Drag a tile onto the
// canvas to add that node where it is dropped (GraphCanvas reads the type from the drag's data), or click
// it to add the node in the middle of the view. A new node gets a fresh id from its type (line_1, line_2…)
// and the fields its type requires (graph-edit.ts's newNode).

import { useReactFlow } from "@xyflow/react";
import type { DragEvent } from "react";
import { NODE_TYPES } from "../../../plugin/dialogue/validate.js";
import type { DialogueNodeType } from "../../../plugin/types.js";
import { HEADER_HEIGHT, NODE_TYPE_INFO, NODE_WIDTH } from "./graph-model.js";
import { useEditor } from "./store.js";

/** The drag data's type for a palette tile: its value is the node type. */
export const PALETTE_MIME = "application/x-parley-node-type";

const HINTS: Record<DialogueNodeType, string> = {
  line: "An authored NPC line",
  choice: "Options for the player, with conditions",
  llm_line: "A line generated from an instruction",
  player_input: "Free text from the player",
  intent: "Routes the player's words to intents",
  branch: "Goes where the first true condition says",
  set: "Changes variables (gold -= 30)",
  jump: "Continues at another node",
  end: "Ends the conversation",
};

/** The node type a drag carries (during dragover only whether it carries one: the data is hidden then). */
export function droppedNodeType(data: DataTransfer, duringDrag = false): DialogueNodeType | undefined {
  if (!data.types.includes(PALETTE_MIME)) return undefined;
  if (duringDrag) return "line";
  const type = data.getData(PALETTE_MIME);
  return (NODE_TYPES as readonly string[]).includes(type) ? (type as DialogueNodeType) : undefined;
}

export default function Palette() {
  const { screenToFlowPosition } = useReactFlow();
  const addNode = useEditor((s) => s.addNode);

  const onDragStart = (event: DragEvent, type: DialogueNodeType) => {
    event.dataTransfer.setData(PALETTE_MIME, type);
    event.dataTransfer.effectAllowed = "copy";
  };
  const addInView = (type: DialogueNodeType) => {
    const pane = document.querySelector(".flow .react-flow")?.getBoundingClientRect();
    if (!pane) return;
    const at = screenToFlowPosition({ x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 });
    addNode(type, { x: at.x - NODE_WIDTH / 2, y: at.y - HEADER_HEIGHT / 2 });
  };

  return (
    <div className="palette" role="toolbar" aria-label="Node palette: drag a node onto the canvas">
      {NODE_TYPES.map((type) => (
        <button
          key={type}
          type="button"
          className="palette-item"
          draggable
          data-node-type={type}
          style={{ borderLeftColor: NODE_TYPE_INFO[type].color }}
          title={`${HINTS[type]}. Drag onto the canvas, or click to add it in the middle.`}
          onDragStart={(event) => onDragStart(event, type)}
          onClick={() => addInView(type)}
        >
          {NODE_TYPE_INFO[type].label}
        </button>
      ))}
    </div>
  );
}
