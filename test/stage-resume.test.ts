// A retried verify or analyse attempt continues from the checkpoint its predecessor heartbeated, instead of
// starting over: proven by removing what only a restart would read (the batch or verdicts already done).
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../activities/analyse.js';
import { writeFinishedBatch } from '../activities/sampling.js';
import { openStore, readJson, toJsonl } from '../activities/store.js';
import { verifySource } from '../activities/verify.js';
import {
  batchFiles,
  batchKey,
  METRICS_KEY,
  PROBLEMS_KEY,
  verdictPartKey,
  verdictsKey,
} from '../core/layout.js';
import { EMPTY_LEDGER, type MetricsFile, type SampleRecord, type VerifySummary } from '../core/records.js';

function sample(questionId: string, sampleIndex: number, text: string): SampleRecord {
  return {
    source: 'wc',
    questionId,
    round: sampleIndex,
    sampleIndex,
    text,
    finishReason: 'stop',
    requestId: null,
    requestUsage: { promptTokens: 1, completionTokens: 1 },
    attempt: 1,
    seed: 0,
  };
}

async function runDirWithBatches(): Promise<string> {
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'wcse-stage-resume-'));
  const store = openStore(runDir);
  await store.write(
    PROBLEMS_KEY,
    toJsonl([
      { id: 'q1', question: 'What is 10 + 7?', gold: '17' },
      { id: 'q2', question: 'What is 2 + 2?', gold: '4' },
    ]),
  );
  for (let round = 0; round < 3; round++) {
    await writeFinishedBatch(
      store,
      batchKey('wc', round, 0),
      [sample('q1', round, `so \\boxed{${round === 1 ? 18 : 17}}`), sample('q2', round, '\\boxed{4}')],
      { fingerprint: 'test', questions: 2, ledger: EMPTY_LEDGER },
    );
  }
  return runDir;
}

const verifyInput = (runDir: string) => ({ runDir, source: 'wc' as const, format: 'math' as const });

describe('stages resume from their heartbeat checkpoint', () => {
  it('verify continues after the batches its checkpoint covers', async () => {
    const runDir = await runDirWithBatches();
    const store = openStore(runDir);
    const whole: VerifySummary = await new MockActivityEnvironment().run(verifySource, verifyInput(runDir));
    const verdicts = await readFile(path.join(runDir, verdictsKey('wc')), 'utf8');
    expect(whole).toMatchObject({ samples: 6, correct: 5 });

    // A previous attempt wrote the verdicts of round 0 as part 0 and heartbeated that; round 0's batch is
    // gone, so an attempt that started over would fail on it.
    await store.writeLines(verdictPartKey('wc', 'earlier', 0), verdicts.split('\n').slice(0, 2));
    await rm(path.join(runDir, batchFiles(batchKey('wc', 0, 0)).samples));
    const checkpoint = {
      kind: 'verify',
      attempt: 'earlier',
      parts: 1,
      batches: 1,
      samples: 2,
      correct: 2,
      noAnswer: 0,
      truncated: 0,
    };
    const resumed: VerifySummary = await new MockActivityEnvironment({ heartbeatDetails: checkpoint }).run(
      verifySource,
      verifyInput(runDir),
    );
    expect(resumed).toEqual(whole);
    expect(await readFile(path.join(runDir, verdictsKey('wc')), 'utf8')).toBe(verdicts);
    expect(await store.list('verdicts')).not.toContain('verdicts/wc.parts');

    // Without the checkpoint the same attempt starts over, and meets the missing batch.
    await expect(new MockActivityEnvironment().run(verifySource, verifyInput(runDir))).rejects.toThrow(
      /batch-00000/,
    );
  });

  it('analyse keeps the sources its checkpoint has measured', async () => {
    const runDir = await runDirWithBatches();
    await new MockActivityEnvironment().run(verifySource, verifyInput(runDir));
    await new MockActivityEnvironment().run(analyseRun, { runDir });
    const metrics = (await readJson<MetricsFile>(openStore(runDir), METRICS_KEY))!;
    expect(metrics.sources.wc).toMatchObject({ samples: 6, correctSamples: 5, samplesPerQuestion: 3 });

    // With wc's verdicts gone a fresh attempt fails; one resumed from a checkpoint holding wc does not.
    await rm(path.join(runDir, verdictsKey('wc')));
    await expect(new MockActivityEnvironment().run(analyseRun, { runDir })).rejects.toThrow(/no verdict/);
    const { fpr: _fpr, ...measured } = metrics.sources.wc;
    await new MockActivityEnvironment({ heartbeatDetails: { kind: 'analyse', done: { wc: measured } } }).run(
      analyseRun,
      { runDir },
    );
    const again = (await readJson<MetricsFile>(openStore(runDir), METRICS_KEY))!;
    expect(again.sources).toEqual(metrics.sources);
  });
});
