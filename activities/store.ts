// The artifact store: where every large thing lives (problems, samples, verdicts, datasets, reports).
// Workflows pass keys, never contents. Writes are atomic (temp file + rename), so a reader sees a whole
// artifact or none, and "the artifact exists" can mean "this work is done and paid for".
import { createHash, randomUUID } from 'node:crypto';
import {
  link,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import path from 'node:path';
import { failure, FailureType } from '../core/failures.js';
import { S3Store } from './store-s3.js';

export interface ArtifactStore {
  /** Where the store lives, for humans (a directory or a URI). */
  readonly location: string;
  read(key: string): Promise<Buffer | null>;
  write(key: string, data: string | Buffer): Promise<void>;
  /**
   * Writes the key only if it does not exist yet, atomically (two writers racing: exactly one wins).
   * True when this call wrote it.
   */
  createOnce(key: string, data: string | Buffer): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /** Keys directly under a prefix ("dir"), sorted. */
  list(prefix: string): Promise<string[]>;
  remove(prefix: string): Promise<void>;
  /** A local path for the key where one exists (for humans and local tools), else null. */
  localPath(key: string): string | null;
  /**
   * An append-only log of JSON lines, for saving paid-for responses one by one at the cost of one write
   * each. A line torn by a crash is skipped when the log is read back.
   */
  openLog(key: string): Promise<ArtifactLog>;
  /**
   * STREAMING READ (fixed interface: other stores implement it; do not change the signature).
   * The lines of the artifact, in order, without their '\n' (a '\r' before it is kept), read in bounded
   * chunks: memory is one chunk plus one line, whatever the artifact's size. Every line is yielded,
   * blank ones included (callers skip them, as parseJsonl does), and a last line without a final '\n' is
   * yielded too; deciding whether a torn tail is corrupt is the caller's (parseJsonl's rule: a line that
   * is not JSON is a CorruptArtifact naming the file and line; readLog's rule: a torn log line is dropped).
   * A missing artifact yields nothing; use exists() to tell missing from empty.
   */
  readLines(key: string): AsyncIterable<string>;
  /**
   * STREAMING ATOMIC WRITE (fixed interface: other stores implement it; do not change the signature).
   * Writes each given line followed by '\n' (a line must not contain '\n') to a temporary place and
   * makes it the artifact at once when the source ends (temp + rename, as write()): a reader sees the
   * whole new artifact or the old one / none. If the source throws, nothing is written and the error
   * propagates. Returns the digest of the bytes written: sha256 (hex), lines (non-blank lines, as
   * digestOf counts them) and bytes.
   */
  writeLines(
    key: string,
    lines: AsyncIterable<string> | Iterable<string>,
  ): Promise<{ sha256: string; lines: number; bytes: number }>;
}

export interface ArtifactLog {
  append(line: string): Promise<void>;
  close(): Promise<void>;
}

/** The complete lines of a log (a torn last line from a crash is dropped), or [] if there is none. */
export async function readLog<T>(store: ArtifactStore, key: string): Promise<T[]> {
  const data = await store.read(key);
  if (!data) return [];
  const rows: T[] = [];
  for (const line of data.toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as T);
    } catch {
      // A partial line written as the process died: that response was never confirmed saved.
    }
  }
  return rows;
}

/** No such file: ENOENT, or ENOTDIR where a file stands in the place of one of its directories. */
function isAbsent(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A run directory on local (or network-mounted) disk. */
export class LocalStore implements ArtifactStore {
  constructor(readonly location: string) {}

  private resolve(key: string): string {
    const normalized = path.posix.normalize(key);
    if (normalized.startsWith('..') || path.isAbsolute(normalized))
      throw failure(
        FailureType.BadArtifactKey,
        `bad artifact key: ${key} (keys stay inside the run directory)`,
      );
    return path.join(this.location, normalized);
  }

  async read(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.resolve(key));
    } catch (error) {
      if (isAbsent(error)) return null;
      throw error;
    }
  }

  async write(key: string, data: string | Buffer): Promise<void> {
    const target = this.resolve(key);
    const temporary = `${target}.tmp-${randomUUID()}`;
    try {
      await writeFile(temporary, data);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(temporary, data);
    }
    await rename(temporary, target);
  }

  async createOnce(key: string, data: string | Buffer): Promise<boolean> {
    const target = this.resolve(key);
    const temporary = `${target}.tmp-${randomUUID()}`;
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(temporary, data);
    try {
      // link() fails if the target exists: a whole file appears, or none, and never over another's.
      await link(temporary, target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temporary, { force: true });
    }
  }

  async openLog(key: string): Promise<ArtifactLog> {
    const target = this.resolve(key);
    await mkdir(path.dirname(target), { recursive: true });
    const handle = await open(target, 'a+');
    // A crash can leave a torn last line. End it, or the first line appended now would be glued to it and
    // dropped by readLog with it: a response paid for and confirmed saved, then requested again.
    const { size } = await handle.stat();
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await handle.write('\n');
    }
    return new GroupCommitLog(
      (text) => handle.write(text),
      () => handle.close(),
    );
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.resolve(key));
      return true;
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const names = await readdir(this.resolve(prefix));
      return names
        .filter((name) => !name.includes('.tmp-'))
        .sort()
        .map((name) => path.posix.join(prefix, name));
    } catch (error) {
      if (isAbsent(error)) return [];
      throw error;
    }
  }

  async remove(prefix: string): Promise<void> {
    await rm(this.resolve(prefix), { recursive: true, force: true });
  }

  localPath(key: string): string | null {
    return this.resolve(key);
  }

  async *readLines(key: string): AsyncIterable<string> {
    let handle: FileHandle;
    try {
      handle = await open(this.resolve(key), 'r');
    } catch (error) {
      if (isAbsent(error)) return;
      throw error;
    }
    try {
      yield* splitLines(chunksOf(handle));
    } finally {
      await handle.close();
    }
  }

  async writeLines(
    key: string,
    lines: AsyncIterable<string> | Iterable<string>,
  ): Promise<{ sha256: string; lines: number; bytes: number }> {
    const target = this.resolve(key);
    const temporary = `${target}.tmp-${randomUUID()}`;
    await mkdir(path.dirname(target), { recursive: true });
    const handle = await open(temporary, 'w');
    const hash = createHash('sha256');
    let count = 0;
    let bytes = 0;
    let buffered: string[] = [];
    let bufferedLength = 0;
    const flush = async (): Promise<void> => {
      if (!buffered.length) return;
      const chunk = Buffer.from(buffered.join(''), 'utf8');
      buffered = [];
      bufferedLength = 0;
      hash.update(chunk);
      bytes += chunk.length;
      await handle.write(chunk);
    };
    try {
      for await (const line of lines) {
        if (line.includes('\n'))
          throw failure(FailureType.CorruptArtifact, `writeLines ${key}: a line contains '\\n'`);
        if (line.trim() !== '') count++;
        buffered.push(line, '\n');
        bufferedLength += line.length + 1;
        if (bufferedLength >= WRITE_CHUNK) await flush();
      }
      await flush();
      await handle.close();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(temporary, { force: true });
      throw error;
    }
    await rename(temporary, target);
    return { sha256: hash.digest('hex'), lines: count, bytes };
  }
}

/** Bytes read, and characters buffered before a write, by the streaming primitives. */
const READ_CHUNK = 1 << 20;
const WRITE_CHUNK = 1 << 20;

async function* chunksOf(handle: FileHandle): AsyncIterable<Buffer> {
  for (;;) {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null);
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
  }
}

/**
 * The '\n'-separated lines of a byte stream, decoded as UTF-8 across chunk boundaries; a last line without
 * '\n' is yielded unless empty. Memory: one chunk plus the current line. Stores share it for readLines.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer | Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder('utf-8');
  let rest = '';
  for await (const chunk of chunks) {
    const text = rest + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      yield text.slice(start, end);
      start = end + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.decode();
  if (rest !== '') yield rest;
}

/**
 * An append-only log where lines that arrive while a write is in flight are written together by the next
 * write (group commit): one write call per burst instead of per line, and every `append` still resolves
 * only once its line is written. Writes run one at a time, in the order of the appends. The local store
 * appends each write to a file (a crash can tear only the last write, which readLog skips); the S3 store
 * stores each write as the next numbered part object.
 */
export class GroupCommitLog implements ArtifactLog {
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private writing: Promise<void> | null = null;

  constructor(
    private readonly write: (text: string) => Promise<unknown>,
    private readonly release: () => Promise<void> = async () => {},
  ) {}

  append(line: string): Promise<void> {
    this.pending.push(line.endsWith('\n') ? line : line + '\n');
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.writing ??= this.flush();
    return done;
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const text = this.pending.join('');
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        await this.write(text);
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.writing = null;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.release();
  }
}

/** Opens the store a run directory names: `s3://bucket/prefix` (store-s3.ts), else a local directory. */
export function openStore(runDir: string): ArtifactStore {
  if (/^s3:\/\//i.test(runDir)) return new S3Store(runDir);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(runDir)) {
    throw failure(
      FailureType.UnsupportedRunDir,
      `runDir ${runDir}: artifact stores are local directories or s3://bucket/prefix locations`,
    );
  }
  return new LocalStore(runDir);
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A CorruptArtifact failure naming the file (and line) of the run directory that does not read back. */
export function corruptArtifact(store: ArtifactStore, key: string, what: string): Error {
  return failure(
    FailureType.CorruptArtifact,
    `${store.localPath(key) ?? `${store.location}/${key}`}: ${what}`,
  );
}

/** A JSON artifact, or null if there is none; unreadable JSON is a CorruptArtifact naming the file. */
export async function readJson<T>(store: ArtifactStore, key: string): Promise<T | null> {
  const data = await store.read(key);
  if (data === null) return null;
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch (error) {
    throw corruptArtifact(store, key, `not valid JSON (${(error as Error).message})`);
  }
}

export async function writeJson(store: ArtifactStore, key: string, value: unknown): Promise<void> {
  await store.write(key, JSON.stringify(value, null, 2) + '\n');
}

/** A JSONL artifact's rows, or null if there is none; a line that is not JSON is a CorruptArtifact naming it. */
export async function readJsonl<T>(store: ArtifactStore, key: string): Promise<T[] | null> {
  const data = await store.read(key);
  return data === null ? null : parseJsonl<T>(store, key, data);
}

/** The rows of JSONL bytes read from `key` (blank lines skipped); names the file and line that is not JSON. */
export function parseJsonl<T>(store: ArtifactStore, key: string, data: Buffer): T[] {
  const rows: T[] = [];
  data
    .toString('utf8')
    .split('\n')
    .forEach((line, index) => {
      if (line.trim() === '') return;
      try {
        rows.push(JSON.parse(line) as T);
      } catch (error) {
        throw corruptArtifact(
          store,
          key,
          `line ${index + 1} is not valid JSON (${(error as Error).message})`,
        );
      }
    });
  return rows;
}

/**
 * The rows of a JSONL artifact as a stream (store.readLines), by parseJsonl's rules: blank lines skipped, a
 * line that is not JSON (a torn tail included) a CorruptArtifact naming the file and line. A missing
 * artifact yields no rows.
 */
export async function* streamJsonl<T>(store: ArtifactStore, key: string): AsyncIterable<T> {
  let index = 0;
  for await (const line of store.readLines(key)) {
    index++;
    if (line.trim() === '') continue;
    let row: T;
    try {
      row = JSON.parse(line) as T;
    } catch (error) {
      throw corruptArtifact(store, key, `line ${index} is not valid JSON (${(error as Error).message})`);
    }
    yield row;
  }
}

/** Rows as JSON lines, lazily: the argument of store.writeLines for a stream of records. */
export async function* jsonLines(rows: AsyncIterable<unknown> | Iterable<unknown>): AsyncIterable<string> {
  for await (const row of rows) yield JSON.stringify(row);
}

/** What proves an artifact: the sha256 of its bytes and its number of lines. */
export interface ArtifactDigest {
  sha256: string;
  lines: number;
}

export function digestOf(data: string | Buffer): ArtifactDigest {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  return { sha256: sha256(data), lines: text.split('\n').filter((line) => line.trim() !== '').length };
}

export function toJsonl(rows: unknown[]): string {
  return rows.map((row) => JSON.stringify(row)).join('\n') + (rows.length ? '\n' : '');
}
