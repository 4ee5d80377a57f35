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
    return new GroupCommitLog(handle);
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
}

/**
 * An append-only file where lines that arrive while a write is in flight are written together by the next
 * write (group commit): one write call per burst instead of per line, and every `append` still resolves
 * only once its line is written. A crash can tear only the last write, which readLog skips.
 */
class GroupCommitLog implements ArtifactLog {
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private writing: Promise<void> | null = null;

  constructor(private readonly handle: FileHandle) {}

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
        await this.handle.write(text);
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.writing = null;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.handle.close();
  }
}

/** Opens the store a run directory names. Only local paths today; an S3-compatible store slots in here. */
export function openStore(runDir: string): ArtifactStore {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(runDir)) {
    throw failure(
      FailureType.UnsupportedRunDir,
      `runDir ${runDir}: only local directories are supported as artifact stores so far`,
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
