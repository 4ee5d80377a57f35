// A small deterministic string hash (FNV-1a, 64-bit) usable inside workflows, where node:crypto is not.
// For keys and seeds, not for security.

export function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/** A 31-bit non-negative integer derived from the parts: per-request seeds that are stable across retries. */
export function stableSeed(...parts: Array<string | number>): number {
  return Number(BigInt('0x' + fnv1a64(parts.join('\u0000'))) & 0x7fffffffn);
}
