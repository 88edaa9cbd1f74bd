// The editor's keyboard shortcuts as the help (`?`, ShortcutsHelp.tsx) lists them. The keys themselves are
// handled by useEditorShortcuts.ts (the page's) and React Flow (the canvas's: Delete, Shift); a key added
// there is added here. On macOS, ⌘ does what Ctrl does.

export interface Shortcut {
  /** Each alternative is a list of keys pressed together: [["Ctrl", "Y"], ["Ctrl", "Shift", "Z"]]. */
  keys: string[][];
  does: string;
}

export interface ShortcutGroup {
  title: string;
  shortcuts: Shortcut[];
}

export const SHORTCUTS: ShortcutGroup[] = [
  {
    title: "Anywhere",
    shortcuts: [
      {
        keys: [
          ["Ctrl", "K"],
          ["Ctrl", "F"],
        ],
        does: "Search the whole project",
      },
      { keys: [["Ctrl", "S"]], does: "Save the graph now (it is saved a second after each edit anyway)" },
      { keys: [["Ctrl", "Z"]], does: "Undo the last edit or move" },
      {
        keys: [
          ["Ctrl", "Y"],
          ["Ctrl", "Shift", "Z"],
        ],
        does: "Redo",
      },
      { keys: [["?"]], does: "Show these shortcuts" },
      { keys: [["Esc"]], does: "Close the search or this list" },
    ],
  },
  {
    title: "On the canvas",
    shortcuts: [
      { keys: [["Ctrl", "A"]], does: "Select every node" },
      {
        keys: [
          ["Shift", "Click"],
          ["Shift", "Drag"],
        ],
        does: "Add nodes to the selection",
      },
      { keys: [["Delete"], ["Backspace"]], does: "Delete the selected nodes or edge" },
      { keys: [["Ctrl", "C"]], does: "Copy the selected nodes" },
      { keys: [["Ctrl", "V"]], does: "Paste them, with new ids" },
      { keys: [["Ctrl", "Shift", "L"]], does: "Auto-layout: lay the whole graph out again (one undo step)" },
      { keys: [["Shift", "1"]], does: "Fit the whole graph in view" },
    ],
  },
  {
    title: "In the search",
    shortcuts: [
      { keys: [["↑"], ["↓"]], does: "Choose a match" },
      { keys: [["Enter"]], does: "Open it: the graph, with the node selected and centred" },
    ],
  },
];
