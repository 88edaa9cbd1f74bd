// The editor's project file layer: reading, validating and safely writing a Parley project folder.

export { JsonSyntaxError, jsonErrorPosition, parseJsonText, positionAt, type TextPosition } from "../../plugin/project/json-position.js";
export {
  emptyLayout,
  LAYOUT_SCHEMA,
  LAYOUT_SUFFIX,
  layoutPathFor,
  parseGraphLayout,
  roundCoordinate,
  serializeGraphLayout,
  type GraphLayout,
  type NodePosition,
} from "./layout.js";
export {
  DEFAULT_CONTEXT_SIZE,
  defaultProjectManifest,
  MAX_CONTEXT_SIZE,
  MIN_CONTEXT_SIZE,
  parseProjectManifest,
  PROJECT_MANIFEST_FILE,
  PROJECT_SCHEMA,
  serializeProjectManifest,
  type ProjectManifest,
} from "../../plugin/project/manifest.js";
export { isInside, normalizeProjectPath, PathOutsideProjectError, projectRealRoot, resolveInProject } from "./paths.js";
export {
  CharacterInUseError,
  ExternalChangeError,
  ProjectFolder,
  type CharacterDocument,
  type DialogueDocument,
  type DiskChange,
  type DocumentKind,
  type DocumentProblem,
  type LayoutDocument,
  type ManifestDocument,
  type ProjectDocument,
  type SaveOptions,
} from "./project-folder.js";
