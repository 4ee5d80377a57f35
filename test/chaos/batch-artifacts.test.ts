// Chaos at the level of one sampling batch (the activity, in a mock activity environment, against the
// scripted server on 127.0.0.1): a crash between writing a batch's meta.json and removing its response
// log, damaged batch files and metas, sends cancelled in flight, and a run directory that stops taking
// writes. Each ends in a batch that proves itself or in a named, non-retryable failure; every request
// paid twice shows in the ledger, with the server's counts as the truth.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { appendFile, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readFinishedBatch,
  sampleQuestions,
  type SampleQuestionsRequest,
} from '../../activities/sampling.js';
import { LocalStore, type ArtifactLog } from '../../activities/store.js';
import { FailureType } from '../../core/failures.js';
import { batchFiles } from '../../core/layout.js';
import type { BatchSummary, Problem } from '../../core/records.js';
import { model, tempDir, testConfig } from '../support/harness.js';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ScriptedServer,
} from '../support/scripted-server.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-chaos-batch';

const QUESTIONS = 6;
const SAMPLES_PER_QUESTION = 2;
/** One request per sample (supportsN false): 12 requests a batch. */
const PLANNED = QUESTIONS * SAMPLES_PER_QUESTION;
const CONCURRENCY = 4;
const KEY = 'samples/wc/round-0000/batch-00000';
const files = batchFiles(KEY);

const problems: Problem[] = Array.from({ length: QUESTIONS }, (_, i) => ({
  id: `q${i + 1}`,
  question: `Q${i + 1}: what is ${i + 1} + ${i + 1}?`,
  gold: String(2 * (i + 1)),
}));

let server: ScriptedServer;
beforeAll(async () => {
  const gold = goldTable(Object.fromEntries(problems.map((p) => [p.question, p.gold])));
  server = await startScriptedServer({
    models: { weak: answerScript({ gold, correctFraction: 0.5, supportsN: false }) },
  });
});
afterAll(async () => {
  await server?.close();
});

/** Failures are expected in these tests: keep the activity environment's logger quiet. */
const quiet = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

function batchRequest(store: LocalStore): SampleQuestionsRequest {
  const config = testConfig({
    problems: { path: 'unused.jsonl', kind: 'generic' },
    models: {
      wc: model(server.baseURL, 'weak', 1e9, { supportsN: false, concurrency: CONCURRENCY }),
      se: model(server.baseURL, 'weak', 1e9),
    },
    budget: { mode: 'ratio', samplesPerQuestion: 1 },
  });
  return {
    store,
    key: KEY,
    label: 'wc',
    model: config.models.wc,
    questions: problems,
    samplesPerQuestion: SAMPLES_PER_QUESTION,
    firstSampleIndex: 0,
    round: 0,
    countPromptTokens: false,
  };
}

function runBatch(store: LocalStore): Promise<BatchSummary> {
  return quiet().run(sampleQuestions, batchRequest(store));
}

/** A store that "crashes" (throws) when asked to remove a batch's response log: the meta/parts window. */
class CrashBeforeLogRemoval extends LocalStore {
  override async remove(prefix: string): Promise<void> {
    if (prefix.endsWith('.parts.jsonl')) throw new Error('simulated crash before the parts log is removed');
    await super.remove(prefix);
  }
}

/** A store whose response log takes `saves` lines and then fails every write, like a disk gone read-only. */
class SavesThenFails extends LocalStore {
  constructor(
    location: string,
    private saves: number,
  ) {
    super(location);
  }

  override async openLog(key: string): Promise<ArtifactLog> {
    const log = await super.openLog(key);
    if (!key.endsWith('.parts.jsonl')) return log;
    return {
      append: (line) => {
        if (this.saves-- > 0) return log.append(line);
        return Promise.reject(Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' }));
      },
      close: () => log.close(),
    };
  }
}

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(
    () => true,
    () => false,
  );
}

describe('a batch between its meta.json and the removal of its response log', () => {
  it('is reused, its leftover log removed, and a damaged batch file is re-derived from that log for free', async () => {
    const dir = await tempDir('chaos-window');
    server.resetStats();
    const crash = await runBatch(new CrashBeforeLogRemoval(dir)).catch((e: unknown) => e);
    expect((crash as Error).message).toMatch(/simulated crash/);
    expect(await exists(path.join(dir, files.meta))).toBe(true);
    expect(await exists(path.join(dir, files.parts))).toBe(true);
    expect(server.stats.served).toBe(PLANNED);
    const intact = await readFile(path.join(dir, files.samples), 'utf8');

    // The batch file cut mid-line while the response log is still there: rebuilt from the log.
    await truncate(path.join(dir, files.samples), Math.floor(intact.length / 2));
    const store = new LocalStore(dir);
    await expect(readFinishedBatch(store, KEY)).rejects.toMatchObject({
      type: FailureType.CorruptArtifact,
      nonRetryable: true,
      message: expect.stringMatching(/batch-00000\.jsonl: line \d+ is not valid JSON/),
    });
    const rebuilt = await runBatch(store);
    expect(server.stats.served).toBe(PLANNED);
    expect(rebuilt.ledger).toMatchObject({ requests: PLANNED, samples: PLANNED, repaidRequests: 0 });
    expect(await readFile(path.join(dir, files.samples), 'utf8')).toBe(intact);
    expect(await exists(path.join(dir, files.parts))).toBe(false);
    expect(await readFinishedBatch(store, KEY)).toHaveLength(PLANNED);

    // Reused as it is, now that it proves itself again: nothing requested.
    const reused = await runBatch(store);
    expect(reused.reused).toBe(true);
    expect(server.stats.received).toBe(PLANNED);
  });

  it('rebuilds a batch whose meta.json is corrupt from its response log, without a request', async () => {
    const dir = await tempDir('chaos-meta-log');
    server.resetStats();
    await runBatch(new CrashBeforeLogRemoval(dir)).catch(() => undefined);
    await writeFile(path.join(dir, files.meta), '{"fingerprint": "trunc');
    const summary = await runBatch(new LocalStore(dir));
    expect(summary.reused).toBe(false);
    expect(summary.ledger.requests).toBe(PLANNED);
    expect(server.stats.served).toBe(PLANNED);
    expect(await readFinishedBatch(new LocalStore(dir), KEY)).toHaveLength(PLANNED);
  });
});

describe('a finished batch without its response log', () => {
  it('fails with a named, non-retryable CorruptArtifact when its meta.json is corrupt', async () => {
    const dir = await tempDir('chaos-meta');
    server.resetStats();
    await runBatch(new LocalStore(dir));
    await writeFile(path.join(dir, files.meta), 'not json at all');
    const error = await runBatch(new LocalStore(dir)).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: FailureType.CorruptArtifact, nonRetryable: true });
    expect((error as Error).message).toContain(path.join(dir, files.meta));
    expect(server.stats.received).toBe(PLANNED);
  });

  it('is sampled again when its batch file was deleted, and the ledger counts every request re-paid', async () => {
    const dir = await tempDir('chaos-deleted');
    server.resetStats();
    const first = await runBatch(new LocalStore(dir));
    await rm(path.join(dir, files.samples));
    const store = new LocalStore(dir);
    await expect(readFinishedBatch(store, KEY)).rejects.toMatchObject({
      type: FailureType.CorruptArtifact,
      message: expect.stringMatching(/batch-00000\.jsonl is missing/),
    });
    const again = await runBatch(store);
    expect(server.stats.served).toBe(2 * PLANNED);
    // The first purchase stays in the ledger and the second is added: the truth is the server's count.
    expect(again.ledger.requests).toBe(server.stats.served);
    expect(again.ledger.repaidRequests).toBe(server.stats.served - PLANNED);
    expect(again.ledger.completionTokens).toBe(server.stats.usage.completionTokens);
    expect(again.ledger.flops).toBeCloseTo(2 * first.ledger.flops);
    expect(await readFinishedBatch(store, KEY)).toHaveLength(PLANNED);
  });

  it('names the file and line of a batch file with a line appended or changed', async () => {
    const dir = await tempDir('chaos-changed');
    await runBatch(new LocalStore(dir));
    const store = new LocalStore(dir);
    await appendFile(path.join(dir, files.samples), '{"extra": true}\n');
    await expect(readFinishedBatch(store, KEY)).rejects.toMatchObject({
      type: FailureType.CorruptArtifact,
      message: expect.stringMatching(
        new RegExp(`batch-00000\\.jsonl has ${PLANNED + 1} lines where its meta\\.json records ${PLANNED}`),
      ),
    });
    const text = await readFile(path.join(dir, files.samples), 'utf8');
    await writeFile(
      path.join(dir, files.samples),
      text.split('\n').slice(0, PLANNED).join('\n').replace('q1', 'q2') + '\n',
    );
    await expect(readFinishedBatch(store, KEY)).rejects.toMatchObject({
      type: FailureType.CorruptArtifact,
      message: expect.stringMatching(/sha256 .* differs from/),
    });
  });
});

describe('paid twice', () => {
  it('counts sends cancelled in flight as re-paid when the batch resumes', async () => {
    const dir = await tempDir('chaos-cancel');
    server.resetStats();
    const saved = 5;
    server.holdAfter(saved);
    const env = quiet();
    const first = env.run(sampleQuestions, batchRequest(new LocalStore(dir))).catch((e: unknown) => e);
    await server.waitForServed(saved, 20_000);
    await server.waitForHeld(1, 20_000);
    // Every served response is saved before the batch goes on; then cancel the held ones in flight.
    await expect
      .poll(async () => (await readFile(path.join(dir, files.parts), 'utf8')).trim().split('\n').length)
      .toBe(saved);
    env.cancel();
    expect(await first).toMatchObject({ name: 'CancelledFailure' });
    await server.waitFor((s) => s.held === 0, 10_000, 'held requests aborted');
    const aborted = server.stats.aborted;
    expect(aborted).toBeGreaterThanOrEqual(1);
    server.release();

    const summary = await runBatch(new LocalStore(dir));
    expect(summary.ledger.requests).toBe(PLANNED);
    expect(server.stats.served).toBe(PLANNED);
    // Truth: every request that reached the server and was not the one saved for its sample.
    expect(summary.ledger.repaidRequests).toBe(server.stats.received - PLANNED);
    expect(summary.ledger.repaidRequests).toBe(aborted);
  });

  it('stops a batch at its first failed save with a non-retryable SaveFailed, and counts what was lost', async () => {
    const dir = await tempDir('chaos-readonly');
    server.resetStats();
    const saves = 3;
    const error = await runBatch(new SavesThenFails(dir, saves)).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: FailureType.SaveFailed, nonRetryable: true });
    expect((error as Error).message).toContain(files.parts);
    // No request is sent after the failed save: only those already in flight then.
    expect(server.stats.received).toBeLessThanOrEqual(saves + CONCURRENCY);
    const paidBeforeFix = server.stats.served;

    // Writable again: the batch finishes; responses paid and never saved are counted as re-paid.
    const summary = await runBatch(new LocalStore(dir));
    expect(summary.ledger.requests).toBe(PLANNED);
    expect(summary.ledger.repaidRequests).toBe(paidBeforeFix - saves);
    expect(summary.ledger.repaidRequests).toBe(server.stats.served - PLANNED);
  });
});
