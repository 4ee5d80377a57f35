// The artifact store's contract, for every store: the local directory and S3 (against a real S3-protocol
// server on 127.0.0.1, test/support/s3-server.ts). Whole objects or none, createOnce with one winner, keys
// that stay inside the run, listings and removal by prefix, streamed lines, and the append-only logs that
// save paid-for responses: readLog drops only what a crash can tear, and a log keeps every line, in order,
// however many appends arrive at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalStore, digestOf, openStore, readLog, type ArtifactStore } from '../../activities/store.js';
import { S3Store } from '../../activities/store-s3.js';
import { rootFailureType } from '../../core/failures.js';
import { useS3Server, type S3TestServer } from '../support/s3-server.js';

/** A store under test, and how to put bytes in it behind its back (as a crash would have left them). */
interface Backend {
  store: ArtifactStore;
  /** Makes `key` a log whose stored bytes are `text` (a torn tail included). */
  rawLog(key: string, text: string): Promise<void>;
}

const BUCKET = 'wcse-contract';

function localBackend(): Backend {
  const backend = {} as Backend;
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wcse-unit-store-'));
    backend.store = new LocalStore(dir);
    backend.rawLog = async (key, text) => {
      await mkdir(path.dirname(path.join(dir, key)), { recursive: true });
      await writeFile(path.join(dir, key), text);
    };
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return backend;
}

function s3Backend(): Backend {
  const backend = {} as Backend;
  const server: S3TestServer = useS3Server(BUCKET);
  beforeAll(() => {
    const prefix = `run-${process.pid}`;
    backend.store = openStore(`s3://${BUCKET}/${prefix}`);
    // A log's bytes on S3 are its part objects: one part holding the text stands for what a crash left.
    backend.rawLog = async (key, text) => {
      await server.client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `${prefix}/${key}/part-0000000000-raw`,
          Body: Buffer.from(text),
        }),
      );
    };
  });
  return backend;
}

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

describe.each([
  ['LocalStore', localBackend],
  ['S3Store', s3Backend],
] as const)('the %s contract', (name, make) => {
  const backend = make();

  it('is the store openStore opens for its location', () => {
    expect(backend.store).toBeInstanceOf(name === 'LocalStore' ? LocalStore : S3Store);
    expect(backend.store.localPath('a/b.json') === null).toBe(name === 'S3Store');
  });

  describe('whole objects', () => {
    it('reads back what was written, whole, and null for what never was', async () => {
      const { store } = backend;
      expect(await store.read('objects/missing.json')).toBeNull();
      await store.write('objects/a.json', '{"v":1}\n');
      await store.write('objects/a.json', Buffer.from('{"v":2}\n'));
      expect((await store.read('objects/a.json'))?.toString()).toBe('{"v":2}\n');
      await store.write('objects/empty.txt', '');
      expect((await store.read('objects/empty.txt'))?.length).toBe(0);
    });

    it('createOnce: of eight racing writers exactly one wins, and its bytes stay', async () => {
      const { store } = backend;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.createOnce('once/owner.json', `writer ${i}\n`)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect((await store.read('once/owner.json'))?.toString()).toBe(`writer ${winner}\n`);
      expect(await store.createOnce('once/owner.json', 'late\n')).toBe(false);
      expect((await store.read('once/owner.json'))?.toString()).toBe(`writer ${winner}\n`);
    });

    it('refuses keys that leave the run, naming the key', async () => {
      const { store } = backend;
      for (const key of ['../escape.json', 'a/../../escape.json']) {
        const error = await store.read(key).catch((e: unknown) => e);
        expect(rootFailureType(error)).toBe('BadArtifactKey');
        expect((error as Error).message).toContain(key);
        expect(rootFailureType(await store.write(key, 'x').catch((e: unknown) => e))).toBe('BadArtifactKey');
      }
    });
  });

  describe('prefixes', () => {
    it('lists the names directly under a prefix, sorted, sub-prefixes as one entry', async () => {
      const { store } = backend;
      await store.write('tree/b.json', 'b');
      await store.write('tree/a.json', 'a');
      await store.write('tree/sub/deep/c.json', 'c');
      await store.write('treetop.json', 'not under tree/');
      expect(await store.list('tree')).toEqual(['tree/a.json', 'tree/b.json', 'tree/sub']);
      expect(await store.list('tree/sub')).toEqual(['tree/sub/deep']);
      expect(await store.list('no/such/prefix')).toEqual([]);
    });

    it('exists for an object and for a prefix with something under it', async () => {
      const { store } = backend;
      await store.write('present/x/y.json', 'y');
      expect(await store.exists('present/x/y.json')).toBe(true);
      expect(await store.exists('present/x')).toBe(true);
      expect(await store.exists('present/x/z.json')).toBe(false);
      expect(await store.exists('absent')).toBe(false);
    });

    it('removes a key and everything under it, and nothing beside it', async () => {
      const { store } = backend;
      await store.write('gone/one.json', '1');
      await store.write('gone/deep/two.json', '2');
      await store.write('gone-not.json', 'stays');
      await store.remove('gone');
      expect(await store.exists('gone')).toBe(false);
      expect(await store.list('gone')).toEqual([]);
      expect((await store.read('gone-not.json'))?.toString()).toBe('stays');
      await store.write('single.json', 's');
      await store.remove('single.json');
      expect(await store.read('single.json')).toBeNull();
      await store.remove('never/was'); // nothing to remove: no error
    });
  });

  describe('streamed lines', () => {
    it('reads every line in order, blank ones and an unterminated last one included', async () => {
      const { store } = backend;
      expect(await collect(store.readLines('lines/missing.jsonl'))).toEqual([]);
      await store.write('lines/a.jsonl', '{"i":0}\n\n{"i":1}\r\n{"i":2}');
      expect(await collect(store.readLines('lines/a.jsonl'))).toEqual([
        '{"i":0}',
        '',
        '{"i":1}\r',
        '{"i":2}',
      ]);
    });

    it('writes lines atomically with the digest of the bytes written', async () => {
      const { store } = backend;
      const rows = ['{"i":0}', '', '{"text":"é ∑ 😀"}'];
      const digest = await store.writeLines('lines/w.jsonl', rows);
      const bytes = (await store.read('lines/w.jsonl'))!;
      expect(bytes.toString()).toBe(rows.join('\n') + '\n');
      expect(digest).toEqual({ ...digestOf(bytes), bytes: bytes.length });
      expect(await collect(store.readLines('lines/w.jsonl'))).toEqual(rows);
    });

    it('leaves the old artifact in place when the source of a write fails', async () => {
      const { store } = backend;
      await store.write('atomic/kept.jsonl', 'old\n');
      async function* failing() {
        yield 'new';
        // Past one S3 upload part: the multipart upload is started, then aborted.
        yield 'x'.repeat(9 << 20);
        throw new Error('source failed');
      }
      await expect(store.writeLines('atomic/kept.jsonl', failing())).rejects.toThrow('source failed');
      expect((await store.read('atomic/kept.jsonl'))?.toString()).toBe('old\n');
      await expect(store.writeLines('atomic/new.jsonl', failing())).rejects.toThrow('source failed');
      expect(await store.exists('atomic/new.jsonl')).toBe(false);
      expect(await store.list('atomic')).toEqual(['atomic/kept.jsonl']);
    });

    it('streams an artifact larger than one upload part, multibyte text across chunk boundaries', async () => {
      const { store } = backend;
      // ~12 MiB: past the S3 store's 8 MiB upload part and the local store's 1 MiB chunks.
      const line = (i: number) => JSON.stringify({ i, text: `ü${'∑'.repeat(200)}${i}` });
      const count = 20_000;
      function* rows() {
        for (let i = 0; i < count; i++) yield line(i);
      }
      const digest = await store.writeLines('big/rows.jsonl', rows());
      expect(digest.lines).toBe(count);
      expect(digest.bytes).toBeGreaterThan(9 << 20);
      const bytes = (await store.read('big/rows.jsonl'))!;
      expect(digest).toEqual({ ...digestOf(bytes), bytes: bytes.length });
      let i = 0;
      for await (const read of store.readLines('big/rows.jsonl')) expect(read).toBe(line(i++));
      expect(i).toBe(count);
      await store.remove('big');
    });
  });

  describe('readLog', () => {
    it('reads every complete line and drops a torn last line', async () => {
      await backend.rawLog('torn.jsonl', '{"i":0}\n{"i":1}\n{"i":2,"text":"half a res');
      expect(await readLog(backend.store, 'torn.jsonl')).toEqual([{ i: 0 }, { i: 1 }]);
    });

    it('skips blank and whitespace-only lines, with or without a final newline', async () => {
      await backend.rawLog('blank.jsonl', '\n{"i":0}\n\n  \n\t\r\n{"i":1}\r\n{"i":2}');
      expect(await readLog(backend.store, 'blank.jsonl')).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    });

    it('is empty when there is no log, or an empty one', async () => {
      expect(await readLog(backend.store, 'never/written.jsonl')).toEqual([]);
      await backend.rawLog('empty.jsonl', '');
      expect(await readLog(backend.store, 'empty.jsonl')).toEqual([]);
    });
  });

  describe('the append-only log', () => {
    it('ends a torn last line before appending, so the first line after a crash is kept', async () => {
      await backend.rawLog('crashed.jsonl', '{"i":0}\n{"i":1,"text":"torn');
      const log = await backend.store.openLog('crashed.jsonl');
      await log.append('{"i":2}');
      await log.append('{"i":3}');
      await log.close();
      expect(await readLog(backend.store, 'crashed.jsonl')).toEqual([{ i: 0 }, { i: 2 }, { i: 3 }]);
    });

    it('writes 2,000 concurrent appends once each, in the order they were made', async () => {
      const log = await backend.store.openLog('concurrent/parts.jsonl');
      const appended: Array<Promise<void>> = [];
      for (let i = 0; i < 2000; i++) appended.push(log.append(JSON.stringify({ i })));
      await Promise.all(appended);
      await log.close();
      const rows = await readLog<{ i: number }>(backend.store, 'concurrent/parts.jsonl');
      expect(rows.map((row) => row.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    });

    it('resolves an append only once its line is stored', async () => {
      const { store } = backend;
      const log = await store.openLog('durable.jsonl');
      const checks: Array<Promise<number>> = [];
      for (let i = 0; i < 120; i++) {
        const line = JSON.stringify({ i });
        checks.push(
          log.append(line).then(async () => {
            const text = (await store.read('durable.jsonl'))?.toString() ?? '';
            return text.split('\n').indexOf(line);
          }),
        );
        // Bursts of varying size, with the event loop turning between some of them.
        if (i % 37 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const positions = await Promise.all(checks);
      expect(positions).toEqual(Array.from({ length: 120 }, (_, i) => i));
      await log.close();
    });

    it('interleaves awaited and concurrent appends in call order and waits for pending lines on close', async () => {
      const { store } = backend;
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
      // The last bursts are not awaited: close writes them before it closes the log.
      await log.close();
      const text = (await store.read('mixed.jsonl'))!.toString();
      expect(text.endsWith('}\n')).toBe(true);
      expect(text).not.toContain('\n\n');
      expect((await readLog<{ i: number }>(store, 'mixed.jsonl')).map((row) => row.i)).toEqual(expected);
    });

    it('appends to what an earlier attempt saved, and reads back as lines, one entry in its listing', async () => {
      const { store } = backend;
      const first = await store.openLog('resumed/log.jsonl');
      await first.append('{"i":0}');
      await first.close();
      const second = await store.openLog('resumed/log.jsonl');
      await second.append('{"i":1}');
      await second.close();
      expect(await readLog(store, 'resumed/log.jsonl')).toEqual([{ i: 0 }, { i: 1 }]);
      expect(await collect(store.readLines('resumed/log.jsonl'))).toEqual(['{"i":0}', '{"i":1}']);
      expect(await store.list('resumed')).toEqual(['resumed/log.jsonl']);
      expect(await store.exists('resumed/log.jsonl')).toBe(true);
      await store.remove('resumed/log.jsonl');
      expect(await store.exists('resumed/log.jsonl')).toBe(false);
      expect(await readLog(store, 'resumed/log.jsonl')).toEqual([]);
    });

    it('keeps every line of two writers appending at once (an abandoned attempt still running)', async () => {
      const { store } = backend;
      const [a, b] = await Promise.all([store.openLog('overlap.jsonl'), store.openLog('overlap.jsonl')]);
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => [
          a.append(JSON.stringify({ w: 'a', i })),
          b.append(JSON.stringify({ w: 'b', i })),
        ]).flat(),
      );
      await Promise.all([a.close(), b.close()]);
      const rows = await readLog<{ w: string; i: number }>(store, 'overlap.jsonl');
      expect(rows).toHaveLength(100);
      for (const writer of ['a', 'b'])
        expect(rows.filter((row) => row.w === writer).map((row) => row.i)).toEqual(
          Array.from({ length: 50 }, (_, i) => i),
        );
    });
  });
});

describe('openStore', () => {
  it('opens s3:// locations as S3 stores and refuses other schemes and bad buckets, naming the runDir', () => {
    expect(openStore('s3://some-bucket/runs/x')).toBeInstanceOf(S3Store);
    expect(openStore('s3://some-bucket/runs/x').localPath('a.json')).toBeNull();
    for (const runDir of ['gs://bucket/x', 's3://No_Such/x', 's3://']) {
      let error: unknown;
      try {
        openStore(runDir);
      } catch (e) {
        error = e;
      }
      expect(rootFailureType(error)).toBe('UnsupportedRunDir');
      expect((error as Error).message).toContain(runDir);
    }
  });
});
