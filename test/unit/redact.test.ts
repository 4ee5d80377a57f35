// Endpoint text made safe to record (core/redact.ts): keys and credential-like strings redacted, cut to a few KB.
import { describe, expect, it } from 'vitest';
import { MAX_ENDPOINT_TEXT, redact } from '../../core/redact.js';

describe('redact', () => {
  it('removes a known key, whatever it looks like, wherever it appears', () => {
    const key = 'my-Own.key/value+1234';
    const out = redact(`Incorrect API key provided: ${key}. You passed ${key}.`, [key]);
    expect(out).not.toContain(key);
    expect(out).toBe('Incorrect API key provided: [REDACTED]. You passed [REDACTED].');
  });

  it('removes bearer tokens, sk- keys, JWTs and key assignments it was not told about', () => {
    const inputs = [
      'header was Authorization: Bearer abcDEF123456789xyz',
      'key sk-proj-ABCdef0123456789_-xyz is invalid',
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
      '{"api_key": "hunter2hunter2"}',
      'url?access_token=zzzzzzzzzz&x=1',
    ];
    const secrets = [
      'abcDEF123456789xyz',
      'ABCdef0123456789',
      'sflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV',
      'hunter2hunter2',
      'zzzzzzzzzz',
    ];
    inputs.forEach((input, i) => {
      const out = redact(input);
      expect(out).toContain('[REDACTED]');
      expect(out).not.toContain(secrets[i]);
    });
    // Ordinary text is left alone.
    expect(redact('max_tokens: 512, completion_tokens=40, skip-this')).toBe(
      'max_tokens: 512, completion_tokens=40, skip-this',
    );
  });

  it('cuts a 3 MB body to a few KB, saying how long it was, after redacting', () => {
    const key = 'sk-live-0123456789abcdef';
    const huge = `${'x'.repeat(MAX_ENDPOINT_TEXT - 5)}${key}${'y'.repeat(3_000_000)}`;
    const out = redact(huge, [key]);
    expect(out.length).toBeLessThan(MAX_ENDPOINT_TEXT + 100);
    expect(out).toMatch(/truncated: 3\d{6} characters in all/);
    expect(out).not.toContain('sk-live');
  });
});
