// Reading workflow histories as text, to check what they do (and do not) contain.

/** Every string and every byte payload (decoded as UTF-8) anywhere in a history, joined. */
export function allText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(allText).join('\n');
  if (value && typeof value === 'object') return Object.values(value).map(allText).join('\n');
  return '';
}
