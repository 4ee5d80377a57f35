// LocalStore's streaming primitives: readLines (bounded chunks, UTF-8 across chunk boundaries, a last line
// without '\n', nothing for a missing key) and writeLines (atomic: temp + rename; digest of the bytes).
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf, LocalStore, streamJsonl } from '../../activities/store.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('LocalStore streaming', () => {
  it('reads lines across 1 MiB chunk boundaries, multi-byte characters included', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wcse-stream-'));
    const store = new LocalStore(dir);
    // Lines of 3-byte characters whose boundaries fall at every offset of a chunk.
    const lines = Array.from({ length: 3000 }, (_, i) => `${i}:` + '€'.repeat(100 + (i % 7)) + ' \r');
    await writeFile(path.join(dir, 'a.jsonl'), lines.join('\n') + '\n\nlast without newline');
    expect(await collect(store.readLines('a.jsonl'))).toEqual([...lines, '', 'last without newline']);
    expect(await collect(store.readLines('missing.jsonl'))).toEqual([]);
  });

  it('writes atomically and returns the digest of the bytes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wcse-stream-'));
    const store = new LocalStore(dir);
    async function* rows() {
      for (let i = 0; i < 50_000; i++) yield JSON.stringify({ i, text: 'x'.repeat(i % 50) });
    }
    const digest = await store.writeLines('d/out.jsonl', rows());
    const bytes = await readFile(path.join(dir, 'd/out.jsonl'));
    expect(digest).toEqual({ ...digestOf(bytes), bytes: bytes.length });
    expect(digest.lines).toBe(50_000);
    expect((await collect(streamJsonl<{ i: number }>(store, 'd/out.jsonl')))[49_999].i).toBe(49_999);
    expect(await store.writeLines('d/empty.jsonl', [])).toEqual({ ...digestOf(''), bytes: 0 });

    // A source that fails leaves the old artifact and no temporary file.
    async function* failing() {
      yield 'new line';
      throw new Error('source failed');
    }
    await expect(store.writeLines('d/out.jsonl', failing())).rejects.toThrow('source failed');
    expect(await readFile(path.join(dir, 'd/out.jsonl'))).toEqual(bytes);
    expect((await readdir(path.join(dir, 'd'))).sort()).toEqual(['empty.jsonl', 'out.jsonl']);
    await expect(store.writeLines('d/bad.jsonl', ['a\nb'])).rejects.toThrow(/contains/);
  });

  it('streamJsonl names the file and line of a torn tail', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wcse-stream-'));
    const store = new LocalStore(dir);
    await writeFile(path.join(dir, 'v.jsonl'), '{"a":1}\n\n{"a":2}\n{"a":');
    await expect(collect(streamJsonl(store, 'v.jsonl'))).rejects.toThrow(
      /v\.jsonl: line 4 is not valid JSON/,
    );
  });
});
