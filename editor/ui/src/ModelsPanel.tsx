/// <reference lib="dom" />
// The Models panel: the model manager as the host runs it (editor/host/model-routes.ts). The models
// folder's installed files (verify, remove, use for playtests), the catalogue (download with progress from
// the host's event stream, cancel, resume), and which model playtests run (ModelsPlaytest).

import { useCallback, useEffect, useState } from "react";
import { asApiError } from "./api.js";
import {
  formatBytes,
  modelsApi,
  watchDownloads,
  type CatalogueRow,
  type DownloadState,
  type InstalledRow,
  type ModelsListing,
  type VerifyOutcome,
} from "./ModelsApi.js";
import ModelsPlaytest from "./ModelsPlaytest.js";
import "./ModelsPanel.css";

const STATUS_LABELS: Record<CatalogueRow["status"] | InstalledRow["status"], string> = {
  verified: "✓ verified",
  unpinned: "installed (no published checksum)",
  unverified: "installed, not verified yet",
  mismatch: "✗ does not match the catalogue",
  uncatalogued: "not in the catalogue",
  partial: "partial download",
  "not-installed": "not installed",
};

export default function ModelsPanel({ onClose }: { onClose: () => void }) {
  const [listing, setListing] = useState<ModelsListing | null>(null);
  const [downloads, setDownloads] = useState<Record<string, DownloadState>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [verified, setVerified] = useState<Record<string, VerifyOutcome | "running">>({});
  const [confirmRemove, setConfirmRemove] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const next = await modelsApi.list();
      setListing(next);
      setDownloads((old) => ({ ...Object.fromEntries(next.downloads.map((d) => [d.id, d])), ...old }));
    } catch (e) {
      setError(asApiError(e).message);
    }
  }, []);

  /** Runs one host call; its failure is shown in the panel. */
  const act = useCallback(
    async (what: () => Promise<unknown>) => {
      setBusy(true);
      setError(null);
      try {
        await what();
      } catch (e) {
        setError(asApiError(e).message);
      } finally {
        setBusy(false);
        await refresh();
      }
    },
    [refresh],
  );

  useEffect(() => {
    void refresh();
    return watchDownloads((download) => {
      setDownloads((old) => ({ ...old, [download.id]: download }));
      // A download that ended changed the folder: list it again.
      if (download.phase !== "running") void refresh();
    });
  }, [refresh]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  const verify = (file: string) =>
    act(async () => {
      setVerified((old) => ({ ...old, [file]: "running" }));
      try {
        const outcome = await modelsApi.verify(file);
        setVerified((old) => ({ ...old, [file]: outcome }));
      } catch (e) {
        setVerified(({ [file]: _, ...rest }) => rest);
        throw e;
      }
    });

  return (
    <div className="models-backdrop" onClick={(event) => event.target === event.currentTarget && onClose()}>
      <div className="models-panel" role="dialog" aria-modal="true" aria-label="Models">
        <header>
          <h2>Models</h2>
          <button type="button" className="small" onClick={onClose} aria-label="Close the Models panel">
            Close
          </button>
        </header>
        {error && (
          <div className="banner error" role="alert">
            {error}
          </div>
        )}
        {!listing ? (
          <p className="muted">Reading the models folder…</p>
        ) : (
          <>
            <ModelsPlaytest
              listing={listing}
              busy={busy}
              onSet={(model) => act(() => modelsApi.setDefault(model))}
              onDownload={(id) => act(() => modelsApi.download(id))}
            />

            <section className="models-section" aria-label="Installed models">
              <h3>Installed</h3>
              <p className="muted models-hint">
                Models folder: <code>{listing.folder}</code>
              </p>
              {listing.installed.length === 0 ? (
                <p className="muted">No models installed: download one from the catalogue below.</p>
              ) : (
                <table className="models-table">
                  <tbody>
                    {listing.installed.map((model) => {
                      const outcome = verified[model.file];
                      const ref = model.id ?? model.file;
                      return (
                        <tr key={model.file} data-model-file={model.file}>
                          <td>
                            <code>{model.file}</code>
                            {model.id && <div className="muted">{model.id}</div>}
                          </td>
                          <td className="models-size">{formatBytes(model.sizeBytes)}</td>
                          <td className={`models-status ${model.status}`}>{verifyLabel(outcome) ?? STATUS_LABELS[model.status]}</td>
                          <td className="models-actions">
                            <button
                              type="button"
                              className="small"
                              disabled={busy || listing.defaultModel === ref}
                              onClick={() => act(() => modelsApi.setDefault(ref))}
                            >
                              {listing.defaultModel === ref ? "Playtest model" : "Use for playtests"}
                            </button>
                            <button type="button" className="small" disabled={busy} onClick={() => verify(model.file)}>
                              Verify
                            </button>
                            {confirmRemove === model.file ? (
                              <button
                                type="button"
                                className="small remove"
                                disabled={busy}
                                onClick={() => act(() => modelsApi.remove(model.file)).then(() => setConfirmRemove(null))}
                              >
                                Really remove
                              </button>
                            ) : (
                              <button type="button" className="small" disabled={busy} onClick={() => setConfirmRemove(model.file)}>
                                Remove
                              </button>
                            )}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )}
            </section>

            <section className="models-section" aria-label="Model catalogue">
              <h3>Catalogue</h3>
              <table className="models-table">
                <tbody>
                  {listing.catalogue.map((entry) => (
                    <CatalogueLine
                      key={entry.id}
                      entry={entry}
                      download={downloads[entry.id]}
                      busy={busy}
                      onDownload={() => act(() => modelsApi.download(entry.id))}
                      onCancel={() => act(() => modelsApi.cancel(entry.id))}
                    />
                  ))}
                </tbody>
              </table>
            </section>
          </>
        )}
      </div>
    </div>
  );
}

function verifyLabel(outcome: VerifyOutcome | "running" | undefined): string | undefined {
  if (outcome === undefined) return undefined;
  if (outcome === "running") return "verifying…";
  switch (outcome.status) {
    case "ok":
      return "✓ SHA-256 matches the catalogue";
    case "no-published-checksum":
      return `no published checksum; SHA-256 ${outcome.sha256.slice(0, 12)}…`;
    case "size-mismatch":
      return `✗ ${outcome.bytes} bytes, the catalogue says ${outcome.expectedBytes}`;
    case "mismatch":
      return "✗ SHA-256 does not match the catalogue";
  }
}

interface CatalogueLineProps {
  entry: CatalogueRow;
  download: DownloadState | undefined;
  busy: boolean;
  onDownload: () => void;
  onCancel: () => void;
}

function CatalogueLine({ entry, download, busy, onDownload, onCancel }: CatalogueLineProps) {
  const running = download?.phase === "running";
  const total = download?.totalBytes ?? entry.sizeBytes;
  const percent = running && total ? Math.min(100, Math.floor((100 * download.receivedBytes) / total)) : null;
  const installed = entry.status !== "not-installed" && entry.status !== "partial";
  return (
    <tr data-model-id={entry.id}>
      <td>
        <strong>{entry.name}</strong>
        <div className="muted">
          {entry.id}
          {entry.license && ` · ${entry.license}`}
        </div>
        {entry.description && <div className="models-description">{entry.description}</div>}
      </td>
      <td className="models-size">{formatBytes(entry.sizeBytes)}</td>
      <td className={`models-status ${entry.status}`}>
        {running ? (
          <div className="models-progress">
            <progress max={100} value={percent ?? undefined} aria-label={`Downloading ${entry.id}`} />
            <span>
              {percent === null ? "" : `${percent}% · `}
              {formatBytes(download.receivedBytes)} of {formatBytes(total)} · {formatBytes(Math.round(download.bytesPerSecond))}/s
              {download.resumed ? " (resumed)" : ""}
            </span>
          </div>
        ) : (
          <>
            {STATUS_LABELS[entry.status]}
            {entry.status === "partial" && entry.partialBytes !== null && ` (${formatBytes(entry.partialBytes)}: Download resumes it)`}
            {download?.phase === "failed" && <div className="models-error">Download failed: {download.error}</div>}
            {download?.phase === "cancelled" && <div className="muted">Download cancelled.</div>}
          </>
        )}
      </td>
      <td className="models-actions">
        {running ? (
          <button type="button" className="small" onClick={onCancel}>
            Cancel
          </button>
        ) : (
          !installed && (
            <button type="button" className="small" disabled={busy} onClick={onDownload}>
              {entry.status === "partial" ? "Resume download" : "Download"}
            </button>
          )
        )}
      </td>
    </tr>
  );
}
