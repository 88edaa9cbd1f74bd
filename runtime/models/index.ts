// The model manager: catalogue, models folder, download with resume and checksum verification, default model
// resolution and the download offer.
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
export { DEFAULT_OFFER, offerModelDownload, shouldOfferDownload, type ModelOfferOptions } from "./offer.js";
export { resolveModel, SYNTHETIC_MODEL_NAME, type ModelSource, type ResolvedModel, type ResolveModelOptions } from "./resolve.js";
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
