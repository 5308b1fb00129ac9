/** Download bounds, apart from source.ts so that reading the settings does not load the download code (`cityseg --help`). */
/** Bounds of one download: a server that stalls, trickles or never ends fails within them. */
export interface DownloadLimits {
  /** Longest wait for the TCP/TLS connection. */
  connectTimeoutMs: number;
  /** Longest wait for the response headers and between two chunks of the body (CITYSEG_DOWNLOAD_IDLE_TIMEOUT_MS). */
  idleTimeoutMs: number;
  /** Longest the whole download may take. */
  deadlineMs: number;
  /** Largest file accepted, in bytes (CITYSEG_DOWNLOAD_MAX_BYTES); a preset's known size is enforced too. */
  maxBytes: number;
}

/**
 * Defaults: a short connect timeout so that an offline start falls back at once; 200 MB, well above torchvision's
 * largest checkpoint for these architectures (22 MB) and any fine-tuned variant of them.
 */
export const DOWNLOAD_LIMITS: Readonly<DownloadLimits> = {
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  deadlineMs: 10 * 60_000,
  maxBytes: 200_000_000,
};
