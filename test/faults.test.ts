// Endpoint faults: transient ones (429 with Retry-After, 500s, hangs past the timeout, malformed JSON,
// empty choices) are retried and change nothing in the results; a 401 fails fast with a clear error.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import {
  problemsBlock,
  rootCauseMessage,
  rootFailureType,
  runExperiment,
  testConfig,
  useStudyFixture,
  wcSeModels,
} from './support/harness.js';
import type { ExperimentConfig } from '../core/config.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-faults';

describe('endpoint faults', () => {
  const questions = 8;
  const fixture = useStudyFixture({ name: 'faults', questions });

  const config = (overrides: Record<string, unknown> = {}): ExperimentConfig =>
    testConfig({
      problems: problemsBlock(fixture.problemsFile),
      models: wcSeModels(fixture.server.baseURL, { wc: 9e9, se: 27e9 }, { requestTimeoutSeconds: 1 }),
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      sampling: { batchSize: 4 },
      datasets: { validationFraction: 0 },
      ...overrides,
    });

  it('retries transient faults and produces the same results as a clean run', async () => {
    const { server, worker, client, dir } = fixture;
    const clean = await runExperiment(client, worker.taskQueue, {
      runDir: path.join(dir, 'clean'),
      config: config(),
    });
    server.resetStats();
    server.injectFaults(
      { kind: 'status', status: 429, retryAfterSeconds: 1, times: 2 },
      { kind: 'status', status: 500, times: 2 },
      { kind: 'status', status: 503, model: 'strong' },
      { kind: 'hang' },
      { kind: 'malformed-json' },
      { kind: 'empty-choices' },
    );
    const faulty = await runExperiment(client, worker.taskQueue, {
      runDir: path.join(dir, 'faulty'),
      config: config(),
    });
    expect(server.pendingFaults()).toBe(0);
    expect(server.stats.faulted).toBeGreaterThanOrEqual(8);
    // Same verdict counts, same datasets; every billed request was needed (one per question and source).
    expect(faulty.verify.wc.correct).toBe(clean.verify.wc.correct);
    expect(faulty.verify.se.correct).toBe(clean.verify.se.correct);
    expect(faulty.datasets.wc.train.examples).toBe(clean.datasets.wc.train.examples);
    expect(faulty.datasets.se.train.examples).toBe(clean.datasets.se.train.examples);
    expect(server.stats.perModel.weak.served).toBe(questions);
    expect(server.stats.perModel.strong.served).toBe(questions);
    expect(faulty.sampling.wc.ledger.completionTokens).toBe(server.stats.perModel.weak.completionTokens);
  });

  it('fails fast on 401 with a message that names the endpoint and the key variable', async () => {
    const { server, worker, client, dir } = fixture;
    server.resetStats();
    server.injectFaults({ kind: 'status', status: 401, message: 'Incorrect API key provided', times: 100 });
    const started = Date.now();
    const error = await runExperiment(client, worker.taskQueue, {
      runDir: path.join(dir, 'unauthorized'),
      config: config({ sampling: { batchSize: 8 } }),
    }).catch((e: unknown) => e);
    server.clearFaults();
    expect(rootFailureType(error)).toBe('Http401');
    const message = rootCauseMessage(error);
    expect(message).toMatch(/at http:\/\/127\.0\.0\.1:\d+\/v1/);
    expect(message).toMatch(/apiKeyEnv/);
    expect(Date.now() - started).toBeLessThan(15_000);
    // Not retried: each of the (at most 8 concurrent) first requests was sent once.
    expect(server.stats.received).toBeLessThanOrEqual(8);
    expect(server.stats.served).toBe(0);
  });
});
