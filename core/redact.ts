// Text from an endpoint (an error body, a job's error, an HTML page) is untrusted: it may echo the API key
// or be megabytes long. Every such text passes through `redact` before it reaches a Temporal failure, a log
// line or the CLI: secrets are replaced and the rest is cut to a few KB, so it can always be recorded.
// Pure: importable by workflows.

/** The most characters of endpoint text kept in a failure message (the rest is cut, and says so). */
export const MAX_ENDPOINT_TEXT = 4096;

const REDACTED = '[REDACTED]';

/**
 * Patterns of credentials wherever they appear: bearer tokens, OpenAI-style keys (`sk-...`, `sk-proj-...`),
 * JWTs, and `api_key=...` / `"token": "..."` assignments. A value the caller knows (the key itself) is
 * removed exactly, whatever it looks like.
 */
const CREDENTIAL_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/gi, `$1 ${REDACTED}`],
  [/\bsk-[A-Za-z0-9_-]{6,}/g, `sk-${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [
    /\b((?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password|authorization)["']?\s*[:=]\s*["']?)[^\s"',;}&]{4,}/gi,
    `$1${REDACTED}`,
  ],
];

/**
 * `text` with every known secret (values shorter than 4 characters are ignored: they would erase ordinary
 * words) and every credential-looking string replaced by `[REDACTED]`, then cut to `maxChars` characters
 * with a note of the original length.
 */
export function redact(
  text: string,
  secrets: Iterable<string> = [],
  maxChars: number = MAX_ENDPOINT_TEXT,
): string {
  let out = text;
  // Longest first, so a secret that contains another is removed whole.
  const known = [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  for (const secret of known) out = out.split(secret).join(REDACTED);
  for (const [pattern, replacement] of CREDENTIAL_PATTERNS) out = out.replace(pattern, replacement);
  return truncate(out, maxChars);
}

/** `text` cut to `maxChars` characters, ending with how long it was. */
export function truncate(text: string, maxChars: number = MAX_ENDPOINT_TEXT): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}... [truncated: ${text.length} characters in all]`;
}
