// The append-only logs that save paid-for responses: readLog drops only what a crash can tear, and the
// group-commit log keeps every line, in order, however many appends arrive at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalStore, readLog } from '../../activities/store.js';

let dir: string;
let store: LocalStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wcse-unit-store-'));
  store = new LocalStore(dir);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('readLog', () => {
  it('reads every complete line and drops a torn last line', async () => {
    await writeFile(path.join(dir, 'torn.jsonl'), '{"i":0}\n{"i":1}\n{"i":2,"text":"half a res');
    expect(await readLog(store, 'torn.jsonl')).toEqual([{ i: 0 }, { i: 1 }]);
  });

  it('skips blank and whitespace-only lines, with or without a final newline', async () => {
    await writeFile(path.join(dir, 'blank.jsonl'), '\n{"i":0}\n\n  \n\t\r\n{"i":1}\r\n{"i":2}');
    expect(await readLog(store, 'blank.jsonl')).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  it('is empty when there is no log, or an empty one', async () => {
    expect(await readLog(store, 'never/written.jsonl')).toEqual([]);
    await writeFile(path.join(dir, 'empty.jsonl'), '');
    expect(await readLog(store, 'empty.jsonl')).toEqual([]);
  });
});

describe('the group-commit log', () => {
  it('ends a torn last line before appending, so the first line after a crash is kept', async () => {
    await writeFile(path.join(dir, 'crashed.jsonl'), '{"i":0}\n{"i":1,"text":"torn');
    const log = await store.openLog('crashed.jsonl');
    await log.append('{"i":2}');
    await log.append('{"i":3}');
    await log.close();
    expect(await readLog(store, 'crashed.jsonl')).toEqual([{ i: 0 }, { i: 2 }, { i: 3 }]);
  });

  it('writes 2,000 concurrent appends once each, in the order they were made', async () => {
    const log = await store.openLog('concurrent/parts.jsonl');
    const appended: Array<Promise<void>> = [];
    for (let i = 0; i < 2000; i++) appended.push(log.append(JSON.stringify({ i })));
    await Promise.all(appended);
    await log.close();
    const rows = await readLog<{ i: number }>(store, 'concurrent/parts.jsonl');
    expect(rows.map((row) => row.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });

  it('resolves an append only once its line is in the file', async () => {
    const log = await store.openLog('durable.jsonl');
    const checks: Array<Promise<number>> = [];
    for (let i = 0; i < 300; i++) {
      const line = JSON.stringify({ i });
      checks.push(
        log.append(line).then(async () => {
          const text = await readFile(path.join(dir, 'durable.jsonl'), 'utf8');
          return text.split('\n').indexOf(line);
        }),
      );
      // Bursts of varying size, with the event loop turning between some of them.
      if (i % 37 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const positions = await Promise.all(checks);
    expect(positions).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await log.close();
  });

  it('interleaves awaited and concurrent appends in call order and waits for pending lines on close', async () => {
    const log = await store.openLog('mixed.jsonl');
    const expected: number[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      expected.push(next);
      await log.append(JSON.stringify({ i: next++ }) + '\n'); // a line that ends in a newline keeps just one
      const burst = Array.from({ length: round }, () => {
        expected.push(next);
        return log.append(JSON.stringify({ i: next++ }));
      });
      if (round % 2) await Promise.all(burst);
    }
    // The last bursts are not awaited: close writes them before it closes the file.
    await log.close();
    const text = await readFile(path.join(dir, 'mixed.jsonl'), 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).not.toContain('\n\n');
    expect((await readLog<{ i: number }>(store, 'mixed.jsonl')).map((row) => row.i)).toEqual(expected);
  });

  it('appends to what an earlier attempt saved', async () => {
    const first = await store.openLog('resumed.jsonl');
    await first.append('{"i":0}');
    await first.close();
    const second = await store.openLog('resumed.jsonl');
    await second.append('{"i":1}');
    await second.close();
    expect(await readLog(store, 'resumed.jsonl')).toEqual([{ i: 0 }, { i: 1 }]);
  });
});
