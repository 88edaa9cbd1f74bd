/// <reference lib="dom" />
// One dialogue node's box on the canvas: its type and id, a short summary (the line's text, the
// instruction, the effects), and its exits, each with the handle its edge leaves from (choices, intents
// and branches get a row each); dragging from an exit's handle to another node's entry (left) connects it. The start node is marked; a node with problems is outlined in red
// (errors) or amber (warnings only), and hovering it shows the messages.

import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { memo, type CSSProperties } from "react";
import {
  ENTRY_Y,
  exitY,
  HEADER_HEIGHT,
  nodeTypeInfo,
  ROW_HEIGHT,
  ROWS_PADDING_Y,
  SUMMARY_LINE_HEIGHT,
  SUMMARY_PADDING_Y,
  type NodeView,
} from "./graph-model.js";

export type DialogueFlowNode = Node<NodeView, "dialogue">;

function DialogueNode({ data: node, selected }: NodeProps<DialogueFlowNode>) {
  const info = nodeTypeInfo(node.type);
  const hasErrors = node.problems.some((p) => p.severity === "error");
  const status = hasErrors ? "has-errors" : node.problems.length > 0 ? "has-warnings" : "";
  const hover = node.problems.map((p) => `${p.severity === "error" ? "Error" : "Warning"} at ${p.path}: ${p.message}`).join("\n");

  return (
    <div
      className={`dialogue-node ${status} ${selected ? "selected" : ""} ${node.isStart ? "start" : ""}`}
      style={{ width: node.width, height: node.height, "--type-color": info.color } as CSSProperties}
      title={hover || undefined}
      data-node-id={node.id}
    >
      <Handle type="target" position={Position.Left} style={{ top: ENTRY_Y }} />
      <header style={{ height: HEADER_HEIGHT }}>
        <span className="node-type">{info.label}</span>
        <span className="node-id">{node.id}</span>
        {node.isStart && <span className="start-badge">start</span>}
        {node.problems.length > 0 && (
          <span className={`problem-badge ${hasErrors ? "error" : "warning"}`} aria-label={`${node.problems.length} problems`}>
            !
          </span>
        )}
      </header>
      {node.summaryLines > 0 && (
        <p
          className="node-summary"
          style={{
            height: node.summaryLines * SUMMARY_LINE_HEIGHT,
            margin: `${SUMMARY_PADDING_Y}px 0`,
            lineHeight: `${SUMMARY_LINE_HEIGHT}px`,
            WebkitLineClamp: node.summaryLines,
          }}
          title={hover ? undefined : node.summary}
        >
          {node.summary}
        </p>
      )}
      {node.exitStyle === "rows" && (
        <ul className="node-exits" style={{ padding: `${ROWS_PADDING_Y}px 0` }}>
          {node.exits.map((exit) => (
            <li
              key={exit.handle}
              style={{ height: ROW_HEIGHT }}
              className={exit.resolved ? "" : "dangling"}
              title={hover ? undefined : exit.detail || undefined}
            >
              <span className="exit-text">{exit.text || "(empty)"}</span>
              {!exit.resolved && <span className="exit-missing">→ {exit.target || "nothing"}?</span>}
            </li>
          ))}
        </ul>
      )}
      {node.exits.map((exit, i) => (
        <Handle
          key={exit.handle}
          id={exit.handle}
          type="source"
          position={Position.Right}
          style={{ top: exitY(node, i) }}
          className={exit.resolved || exit.open ? "" : "dangling"}
          title={`${exit.text || exit.handle}: drag to the node it leads to`}
        />
      ))}
    </div>
  );
}

// Nodes re-render only when their own data or selection changes, not on every drag of another node.
export default memo(DialogueNode);
