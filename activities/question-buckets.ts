// Rows grouped by question in bounded memory, for the stages after verify (analyse, datasets): rows arrive
// in sample order, spill to local scratch files by ranges of question ids, and come back one range
// (bucket) at a time. Memory: the question ids, a small write buffer per bucket, and one bucket; the
// number of buckets grows with the rows, so a bucket's size stays the same whatever the run's size.
import { appendFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { splitLines } from './store.js';

/** Lines a bucket buffers before it appends them to its scratch file. */
const WRITE_BUFFER_LINES = 2048;

export class QuestionBuckets<T> {
  private readonly bucketOf = new Map<string, number>();
  private readonly buffers: string[][];
  private rows = 0;

  private constructor(
    private readonly directory: string,
    /** Question ids in the order buckets and their questions come back in. */
    private readonly questionIds: string[],
    private readonly count: number,
  ) {
    this.buffers = Array.from({ length: count }, () => []);
    questionIds.forEach((id, rank) =>
      this.bucketOf.set(id, Math.floor((rank * count) / Math.max(1, questionIds.length))),
    );
  }

  /**
   * Buckets for `questionIds` (in the order wanted back), enough of them that `expectedRows` rows make
   * about `rowsPerBucket` each. Close it (removes the scratch files).
   */
  static async open<T>(
    questionIds: string[],
    expectedRows: number,
    rowsPerBucket: number,
  ): Promise<QuestionBuckets<T>> {
    const count = Math.max(1, Math.min(questionIds.length, Math.ceil(expectedRows / rowsPerBucket)));
    const directory = await mkdtemp(path.join(tmpdir(), 'wcse-buckets-'));
    return new QuestionBuckets<T>(directory, questionIds, count);
  }

  /** Rows added so far (rows of questions not among the ids are dropped, and not counted). */
  get added(): number {
    return this.rows;
  }

  private file(bucket: number): string {
    return path.join(this.directory, `bucket-${bucket}.jsonl`);
  }

  async add(questionId: string, row: T): Promise<void> {
    const bucket = this.bucketOf.get(questionId);
    if (bucket === undefined) return;
    this.rows++;
    const buffer = this.buffers[bucket];
    buffer.push(JSON.stringify([questionId, row]) + '\n');
    if (buffer.length >= WRITE_BUFFER_LINES) await this.flush(bucket);
  }

  private async flush(bucket: number): Promise<void> {
    const buffer = this.buffers[bucket];
    if (!buffer.length) return;
    this.buffers[bucket] = [];
    await appendFile(this.file(bucket), buffer.join(''));
  }

  /**
   * The buckets in order, each as its questions (in the given order, every one of them, with [] where no
   * row came) and their rows in arrival order. Call once all rows are added; may be called again.
   */
  async *buckets(): AsyncIterable<Array<[string, T[]]>> {
    for (let bucket = 0; bucket < this.count; bucket++) await this.flush(bucket);
    let next = 0;
    for (let bucket = 0; bucket < this.count; bucket++) {
      const rows = new Map<string, T[]>();
      while (next < this.questionIds.length && this.bucketOf.get(this.questionIds[next]) === bucket) {
        rows.set(this.questionIds[next++], []);
      }
      let handle;
      try {
        handle = await open(this.file(bucket), 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      if (handle) {
        try {
          for await (const line of splitLines(handle.createReadStream({ autoClose: false }))) {
            if (line === '') continue;
            const [questionId, row] = JSON.parse(line) as [string, T];
            rows.get(questionId)!.push(row);
          }
        } finally {
          await handle.close();
        }
      }
      yield [...rows];
    }
  }

  async close(): Promise<void> {
    await rm(this.directory, { recursive: true, force: true });
  }
}
