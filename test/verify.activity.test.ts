// The verify activity over stored samples: verdicts, the extraction failures it counts per source, and the
// `verifier.lastNumberFallback` setting passed through to the verifier.
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFinishedBatch } from '../activities/sampling.js';
import { openStore, toJsonl } from '../activities/store.js';
import { verifySource } from '../activities/verify.js';
import { batchKey, PROBLEMS_KEY, verdictsMetaKey } from '../core/layout.js';
import { EMPTY_LEDGER, type SampleRecord, type VerifySummary } from '../core/records.js';

function sample(questionId: string, sampleIndex: number, text: string, finishReason = 'stop'): SampleRecord {
  return {
    source: 'wc',
    questionId,
    round: 0,
    sampleIndex,
    text,
    finishReason,
    requestId: null,
    requestUsage: { promptTokens: 1, completionTokens: 1 },
    attempt: 1,
    seed: 0,
  };
}

async function runWith(samples: SampleRecord[], lastNumberFallback?: boolean) {
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'wcse-verify-activity-'));
  const store = openStore(runDir);
  await store.write(
    PROBLEMS_KEY,
    toJsonl([
      { id: 'q1', question: 'What is 10 + 7?', gold: '17' },
      { id: 'q2', question: 'What is 2 + 2?', gold: '4' },
    ]),
  );
  await writeFinishedBatch(store, batchKey('wc', 0, 0), samples, {
    fingerprint: 'test',
    questions: 2,
    ledger: EMPTY_LEDGER,
  });
  const summary: VerifySummary = await new MockActivityEnvironment().run(verifySource, {
    runDir,
    source: 'wc' as const,
    format: 'math' as const,
    lastNumberFallback,
  });
  const meta = JSON.parse(await readFile(path.join(runDir, verdictsMetaKey('wc')), 'utf8')) as Record<
    string,
    unknown
  >;
  return { summary, meta };
}

describe('verifySource', () => {
  const samples = [
    sample('q1', 0, 'So the sum is $\\boxed{17}$.'),
    sample('q1', 1, 'We add 10 apples and 7 apples to get 17 apples'), // no marked answer
    sample('q2', 0, 'I am not sure how to go on.'), // no answer at all
    sample('q2', 1, 'Let me compute \\boxed{4', 'length'), // cut off
  ];

  it('counts samples with no answer found and cut-off samples, in its summary and verdicts meta', async () => {
    const { summary, meta } = await runWith(samples);
    expect(summary).toMatchObject({
      samples: 4,
      correct: 1,
      extractionFailures: { noAnswer: 2, truncated: 1 },
    });
    expect(meta).toMatchObject({
      samples: 4,
      correct: 1,
      lastNumberFallback: null,
      extractionFailures: { noAnswer: 2, truncated: 1 },
    });
  });

  it('takes the last number of an unmarked MATH answer only with lastNumberFallback', async () => {
    const { summary, meta } = await runWith(samples, true);
    expect(summary).toMatchObject({ correct: 2, extractionFailures: { noAnswer: 1, truncated: 1 } });
    expect(meta).toMatchObject({ lastNumberFallback: true });
    expect((await runWith(samples, false)).summary.correct).toBe(1);
  });
});
