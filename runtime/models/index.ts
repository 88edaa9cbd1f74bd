// The model manager: catalogue, models folder, download with resume and checksum verification.
export {
  BUILTIN_CATALOGUE,
  findEntry,
  getEntry,
  loadCatalogue,
  parseCatalogue,
  validateEntry,
  type CatalogueEntry,
  type LoadCatalogueOptions,
} from "./catalogue.js";
export { downloadModel, verifyModel, type DownloadOptions, type DownloadProgress, type DownloadResult, type VerifyResult } from "./download.js";
export { CatalogueFormatError, ChecksumMismatchError, ModelDownloadError, UnknownModelError } from "./errors.js";
export {
  listInstalled,
  modelsFolder,
  removeModel,
  resolveModelRef,
  sha256File,
  type FolderListing,
  type InstalledModel,
  type PartialDownload,
} from "./store.js";
