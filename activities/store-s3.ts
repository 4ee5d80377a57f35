// The artifact store on an S3-compatible object store (AWS S3, MinIO, R2, GCS's XML API, moto), selected by
// a `s3://bucket/prefix` run location (openStore). Keys are objects under `prefix/`. The local store's
// guarantees, and how each is kept here:
//
// - Atomic whole objects: a PUT makes the whole object visible at once, or nothing; readers never see a
//   partial object. writeLines streams through a multipart upload, which is visible only when completed
//   (an upload abandoned by a crash stays invisible; a bucket lifecycle rule
//   "AbortIncompleteMultipartUpload" reclaims its parts).
// - createOnce: a HEAD, then a conditional PUT (`If-None-Match: *`): of two writers racing, S3 answers 412
//   to the second (409 ConditionalRequestConflict while the first is in flight: retried after a HEAD).
//   AWS S3 (since 2024), MinIO, R2 and moto honour it. A server that IGNORES the header (s3rver, old MinIO)
//   leaves a race window between the HEAD and the PUT where both writers win; set
//   WCSE_S3_CONDITIONAL_WRITES=0 for a server that REJECTS it (501): createOnce is then HEAD + PUT, with
//   that same window. createOnce guards a run's owner record (prepare.ts); nothing paid for depends on it.
// - "An artifact that exists was paid for": kept by the callers' write order (samples, then meta), which a
//   PUT-per-object store keeps as a disk does. S3 is strongly read-after-write consistent (since 2020), and
//   so are the others named above.
// - The crash-safe response log (openLog/readLog): S3 has no append, so each group commit is one new object
//   `<key>/part-<seq>-<writer>` (seq 10 digits, from past the highest existing part; writer a random id, so
//   two attempts of an activity overlapping never overwrite each other's parts). A torn part cannot exist
//   (PUT is atomic); a part never ends a line of the next. read(key) / readLines(key) of a key with no
//   object but parts return the parts in order (seq, then writer), so readLog works unchanged; list() shows
//   the log as one entry, exists() finds it and remove() deletes it, as with the local file. A crash loses
//   only the group being PUT, never a confirmed line: `append` resolves when its part is stored.
// - localPath is null: every caller falls back to `s3://bucket/prefix/key` in messages; fine-tuning reads
//   datasets through read() and uploads the bytes, so no stage needs a local disk for the run directory.
//
// Configuration, read here only (activities), from the standard AWS variables and the SDK's default chain:
// endpoint WCSE_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (none: AWS itself); region
// AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1; credentials AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
// (/AWS_SESSION_TOKEN), or a profile, SSO or instance role through the SDK's chain; path-style addressing
// (`endpoint/bucket/key`, what MinIO and moto need) with WCSE_S3_FORCE_PATH_STYLE=1 (default: on when an
// endpoint is set, off for AWS); WCSE_S3_MAX_ATTEMPTS (default 5) attempts per request, with the SDK's backoff;
// WCSE_S3_IDLE_TIMEOUT_SECONDS (default 60): a request whose connection is idle that long fails and is retried.
// Checksums are sent only where S3 requires them, for the S3-compatible servers that reject the SDK's
// default aws-chunked CRC32 uploads; batch files prove themselves by their own sha256 (sampling.ts).
import type * as S3 from '@aws-sdk/client-s3';
import { createRequire } from 'node:module';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { failure, FailureType } from '../core/failures.js';
import { GroupCommitLog, splitLines, type ArtifactLog, type ArtifactStore } from './store.js';

let loaded: typeof S3 | undefined;

/** The SDK, loaded when the first S3 store is opened: importing it would cost every command ~0.2-0.5 s. */
function s3sdk(): typeof S3 {
  return (loaded ??= createRequire(import.meta.url)('@aws-sdk/client-s3') as typeof S3);
}

/** The bucket and key prefix of a `s3://bucket/prefix` location (prefix '' for a whole bucket). */
export function parseS3Location(location: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(location);
  const bucket = match?.[1] ?? '';
  // S3's bucket naming rules (3 to 63 lowercase letters, digits, dots and hyphens).
  if (!match || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw failure(
      FailureType.UnsupportedRunDir,
      `runDir ${location}: not an S3 location; write s3://<bucket>/<prefix> with a valid bucket name`,
    );
  }
  return { bucket, prefix: match[2].replace(/\/+$/, '') };
}

export interface S3Settings {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  maxAttempts: number;
  /** A request whose connection is idle this long fails (WCSE_S3_IDLE_TIMEOUT_SECONDS, default 60). */
  idleTimeoutMs: number;
  conditionalWrites: boolean;
}

/** The store's settings from the environment (see the header). */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): S3Settings {
  const endpoint = env.WCSE_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const flag = (value: string | undefined, fallback: boolean) =>
    value === undefined || value === '' ? fallback : !/^(0|false|no|off)$/i.test(value);
  const attempts = Number(env.WCSE_S3_MAX_ATTEMPTS ?? 5);
  return {
    endpoint,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    forcePathStyle: flag(env.WCSE_S3_FORCE_PATH_STYLE, endpoint !== undefined),
    maxAttempts: Number.isInteger(attempts) && attempts > 0 ? attempts : 5,
    idleTimeoutMs:
      (Number(env.WCSE_S3_IDLE_TIMEOUT_SECONDS) > 0 ? Number(env.WCSE_S3_IDLE_TIMEOUT_SECONDS) : 60) * 1000,
    conditionalWrites: flag(env.WCSE_S3_CONDITIONAL_WRITES, true),
  };
}

/** One client per setting, shared by every store of the process (activities open a store per call). */
const clients = new Map<string, S3.S3Client>();

function clientFor(settings: S3Settings): S3.S3Client {
  const id = JSON.stringify(settings);
  let client = clients.get(id);
  if (!client) {
    client = new (s3sdk().S3Client)({
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      maxAttempts: settings.maxAttempts,
      // A stalled connection fails (and is retried) instead of hanging an activity that keeps heartbeating.
      requestHandler: { connectionTimeout: 10_000, socketTimeout: settings.idleTimeoutMs },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.set(id, client);
  }
  return client;
}

/** The S3 error code of a failed request ('' when it is no S3 answer). */
function codeOf(error: unknown): string {
  if (error instanceof s3sdk().S3ServiceException) return error.name;
  return (error as { name?: string; Code?: string } | null)?.Code ?? '';
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function isMissing(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'NoSuchKey' || code === 'NotFound' || (code !== 'NoSuchBucket' && statusOf(error) === 404);
}

/** Answers no retry can fix: the location or the credentials are wrong. */
const CONFIGURATION_ERRORS = new Set([
  'NoSuchBucket',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'InvalidBucketName',
]);

const LOG_PART = 'part-';
/** Bytes per part of a multipart upload (S3's minimum is 5 MiB, but for the last part). */
const UPLOAD_PART_BYTES = 8 << 20;
/** Parts of a log fetched at once when it is read back. */
const LOG_READ_CONCURRENCY = 16;

export class S3Store implements ArtifactStore {
  readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3.S3Client;
  private readonly settings: S3Settings;

  constructor(
    readonly location: string,
    settings: S3Settings = s3SettingsFromEnv(),
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Location(location));
    this.settings = settings;
    this.client = clientFor(settings);
  }

  /** The object key of an artifact key ('' or '.' is the run location itself). */
  private objectKey(key: string): string {
    const normalized = path.posix.normalize(key);
    if (normalized.startsWith('..') || path.posix.isAbsolute(normalized))
      throw failure(
        FailureType.BadArtifactKey,
        `bad artifact key: ${key} (keys stay inside the run directory)`,
      );
    const relative = normalized === '.' ? '' : normalized.replace(/\/+$/, '');
    return [this.prefix, relative].filter(Boolean).join('/');
  }

  /** Runs a request; a wrong bucket or credentials is UnsupportedRunDir naming the location and variables. */
  private async send<T>(what: string, key: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      const code = codeOf(error);
      if (CONFIGURATION_ERRORS.has(code)) {
        throw failure(
          FailureType.UnsupportedRunDir,
          `${this.location}: ${what} ${key || '(root)'} failed with ${code} (${(error as Error).message}); ` +
            'check the bucket and AWS_ENDPOINT_URL/WCSE_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID/' +
            'AWS_SECRET_ACCESS_KEY and WCSE_S3_FORCE_PATH_STYLE on this worker',
          error as Error,
        );
      }
      throw error;
    }
  }

  async read(key: string): Promise<Buffer | null> {
    const object = this.objectKey(key);
    const body = await this.getObject(object, key);
    if (body !== null) return body;
    const parts = await this.logParts(object);
    if (!parts.length) return null;
    const texts = await mapLimited(parts, LOG_READ_CONCURRENCY, async (part) => {
      const data = await this.getObject(part, key);
      // A part removed under us (the batch finished meanwhile): its lines are in the batch file now.
      return data ?? Buffer.alloc(0);
    });
    // Each part ends its lines; one that does not cannot glue its tail to the next part's first line.
    return Buffer.concat(
      texts.flatMap((data) => (data.length && data[data.length - 1] !== 0x0a ? [data, NL] : [data])),
    );
  }

  private async getObject(object: string, key: string): Promise<Buffer | null> {
    try {
      const answer = await this.send('read', key, () =>
        this.client.send(new (s3sdk().GetObjectCommand)({ Bucket: this.bucket, Key: object })),
      );
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async write(key: string, data: string | Buffer): Promise<void> {
    const object = this.objectKey(key);
    await this.send('write', key, () =>
      this.client.send(
        new (s3sdk().PutObjectCommand)({ Bucket: this.bucket, Key: object, Body: bodyOf(data) }),
      ),
    );
  }

  async createOnce(key: string, data: string | Buffer): Promise<boolean> {
    const object = this.objectKey(key);
    for (let attempt = 0; ; attempt++) {
      if (await this.exists(key)) return false;
      try {
        await this.send('createOnce', key, () =>
          this.client.send(
            new (s3sdk().PutObjectCommand)({
              Bucket: this.bucket,
              Key: object,
              Body: bodyOf(data),
              ...(this.settings.conditionalWrites ? { IfNoneMatch: '*' } : {}),
            }),
          ),
        );
        return true;
      } catch (error) {
        const status = statusOf(error);
        if (status === 412 || codeOf(error) === 'PreconditionFailed') return false;
        // Another conditional write of the key is in flight: once it ends, the HEAD above decides.
        if ((status === 409 || codeOf(error) === 'ConditionalRequestConflict') && attempt < 10) {
          await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
          continue;
        }
        if (status === 501 && this.settings.conditionalWrites) {
          throw failure(
            FailureType.UnsupportedRunDir,
            `${this.location}: the server does not support conditional writes (If-None-Match) for createOnce ` +
              `${key}; set WCSE_S3_CONDITIONAL_WRITES=0 to accept a race window between two writers`,
            error as Error,
          );
        }
        throw error;
      }
    }
  }

  async exists(key: string): Promise<boolean> {
    const object = this.objectKey(key);
    try {
      await this.send('exists', key, () =>
        this.client.send(new (s3sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: object })),
      );
      return true;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    // A "directory" (or a log) exists when anything is under it, as a local directory does.
    const answer = await this.send('exists', key, () =>
      this.client.send(
        new (s3sdk().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: childPrefix(object), MaxKeys: 1 }),
      ),
    );
    return (answer.KeyCount ?? answer.Contents?.length ?? 0) > 0;
  }

  async list(prefix: string): Promise<string[]> {
    const base = childPrefix(this.objectKey(prefix));
    const relative = path.posix.normalize(prefix) === '.' ? '' : prefix.replace(/\/+$/, '');
    const names = new Set<string>();
    for await (const page of this.pages(base, '/')) {
      for (const item of page.Contents ?? []) if (item.Key) names.add(item.Key.slice(base.length));
      for (const common of page.CommonPrefixes ?? [])
        if (common.Prefix) names.add(common.Prefix.slice(base.length).replace(/\/$/, ''));
    }
    return [...names]
      .filter(Boolean)
      .sort()
      .map((name) => (relative ? path.posix.join(relative, name) : name));
  }

  async remove(prefix: string): Promise<void> {
    const object = this.objectKey(prefix);
    let batch: string[] = object ? [object] : [];
    const flush = async () => {
      if (!batch.length) return;
      const keys = batch;
      batch = [];
      const answer = await this.send('remove', prefix, () =>
        this.client.send(
          new (s3sdk().DeleteObjectsCommand)({
            Bucket: this.bucket,
            Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      );
      const failed = (answer.Errors ?? []).filter((error) => error.Code !== 'NoSuchKey');
      if (failed.length) {
        throw new Error(
          `${this.location}: could not remove ${failed.length} object(s) under ${prefix}: ` +
            failed
              .slice(0, 3)
              .map((error) => `${error.Key} (${error.Code})`)
              .join(', '),
        );
      }
    };
    for await (const page of this.pages(childPrefix(object))) {
      for (const item of page.Contents ?? []) {
        if (item.Key) batch.push(item.Key);
        if (batch.length >= 1000) await flush();
      }
    }
    await flush();
  }

  localPath(): string | null {
    return null;
  }

  async openLog(key: string): Promise<ArtifactLog> {
    const object = this.objectKey(key);
    const parts = await this.logParts(object);
    const last = parts.length ? parts[parts.length - 1].slice(childPrefix(object).length) : null;
    const seq = last === null ? 0 : Number(last.slice(LOG_PART.length, LOG_PART.length + 10));
    const writer = randomBytes(6).toString('hex');
    let next = seq + 1;
    // Group commit (GroupCommitLog): one PUT per burst, parts stored one at a time in the order of the appends.
    return new GroupCommitLog(async (text) => {
      const part = `${childPrefix(object)}${LOG_PART}${String(next++).padStart(10, '0')}-${writer}`;
      await this.send('append to', key, () =>
        this.client.send(
          new (s3sdk().PutObjectCommand)({ Bucket: this.bucket, Key: part, Body: bodyOf(text) }),
        ),
      );
    });
  }

  async *readLines(key: string): AsyncIterable<string> {
    const object = this.objectKey(key);
    const body = await this.openBody(object, key);
    if (body !== null) {
      yield* splitLines(body);
      return;
    }
    for (const part of await this.logParts(object)) {
      const partBody = await this.openBody(part, key);
      if (partBody !== null) yield* splitLines(partBody);
    }
  }

  /** The body of an object as a stream of chunks, or null if there is no such object. */
  private async openBody(object: string, key: string): Promise<AsyncIterable<Uint8Array> | null> {
    try {
      const answer = await this.send('read', key, () =>
        this.client.send(new (s3sdk().GetObjectCommand)({ Bucket: this.bucket, Key: object })),
      );
      return answer.Body as Readable;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async writeLines(
    key: string,
    lines: AsyncIterable<string> | Iterable<string>,
  ): Promise<{ sha256: string; lines: number; bytes: number }> {
    const object = this.objectKey(key);
    const hash = createHash('sha256');
    let count = 0;
    let bytes = 0;
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    let uploadId: string | undefined;
    const completed: S3.CompletedPart[] = [];
    const uploadPart = async () => {
      const body = Buffer.concat(buffered);
      buffered = [];
      bufferedBytes = 0;
      if (uploadId === undefined) {
        const created = await this.send('write', key, () =>
          this.client.send(new (s3sdk().CreateMultipartUploadCommand)({ Bucket: this.bucket, Key: object })),
        );
        uploadId = created.UploadId!;
      }
      const PartNumber = completed.length + 1;
      const answer = await this.send('write', key, () =>
        this.client.send(
          new (s3sdk().UploadPartCommand)({
            Bucket: this.bucket,
            Key: object,
            UploadId: uploadId,
            PartNumber,
            Body: body,
          }),
        ),
      );
      completed.push({ PartNumber, ETag: answer.ETag });
    };
    try {
      for await (const line of lines) {
        if (line.includes('\n'))
          throw failure(FailureType.CorruptArtifact, `writeLines ${key}: a line contains '\\n'`);
        if (line.trim() !== '') count++;
        const chunk = Buffer.from(line + '\n', 'utf8');
        hash.update(chunk);
        bytes += chunk.length;
        buffered.push(chunk);
        bufferedBytes += chunk.length;
        if (bufferedBytes >= UPLOAD_PART_BYTES) await uploadPart();
      }
      if (uploadId === undefined) {
        // Small enough for one PUT.
        const body = Buffer.concat(buffered);
        buffered = [];
        await this.write(key, body);
      } else {
        if (bufferedBytes > 0) await uploadPart();
        await this.send('write', key, () =>
          this.client.send(
            new (s3sdk().CompleteMultipartUploadCommand)({
              Bucket: this.bucket,
              Key: object,
              UploadId: uploadId,
              MultipartUpload: { Parts: completed },
            }),
          ),
        );
      }
    } catch (error) {
      if (uploadId !== undefined) {
        const id = uploadId;
        await this.client
          .send(new (s3sdk().AbortMultipartUploadCommand)({ Bucket: this.bucket, Key: object, UploadId: id }))
          .catch(() => undefined);
      }
      throw error;
    }
    return { sha256: hash.digest('hex'), lines: count, bytes };
  }

  /** The part objects of the log at `object`, in order (sequence number, then writer). */
  private async logParts(object: string): Promise<string[]> {
    const base = `${childPrefix(object)}${LOG_PART}`;
    const parts: string[] = [];
    for await (const page of this.pages(base, '/')) {
      for (const item of page.Contents ?? []) if (item.Key) parts.push(item.Key);
    }
    return parts.sort();
  }

  /** Every page of a listing under `prefix` (with a delimiter: one level). */
  private async *pages(prefix: string, delimiter?: string) {
    let token: string | undefined;
    do {
      const page = await this.send('list', prefix, () =>
        this.client.send(
          new (s3sdk().ListObjectsV2Command)({
            Bucket: this.bucket,
            Prefix: prefix,
            ...(delimiter ? { Delimiter: delimiter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

const NL = Buffer.from('\n');

/** Bytes of known length (a string body, '' above all, would be sent as a stream of unknown length). */
function bodyOf(data: string | Buffer): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** The prefix of the objects "inside" an object key ('' for the bucket root). */
function childPrefix(object: string): string {
  return object ? `${object}/` : '';
}

/** `fn` over `items` with at most `limit` running at once; results in the order of `items`. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
