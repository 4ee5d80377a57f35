import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  model,
  rootCauseMessage,
  rootFailureType,
  runExperiment,
  testConfig,
  useStudyFixture,
  problemsBlock,
} from './support/harness.js';
import { FailureType } from '../core/failures.js';
import { allText } from './support/history-text.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-secret-value-0123456789';

describe('a full experiment on a small config', () => {
  const questions = 6;
  const fixture = useStudyFixture({ name: 'full', questions });

  it('completes with exact metrics and datasets', async () => {
    const { server, worker, client, dir, problemsFile } = fixture;
    const runDir = path.join(dir, 'run');
    const config = testConfig({
      problems: problemsBlock(problemsFile),
      models: { wc: model(server.baseURL, 'weak', 9e9), se: model(server.baseURL, 'strong', 27e9) },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      sampling: { batchSize: 4 },
      datasets: { validationFraction: 0 },
    });
    const result = await runExperiment(client, worker.taskQueue, { runDir, config });
    expect(result.plan.wc.samplesPerQuestion).toBe(6);
    expect(result.sampling.wc.samplesPerQuestion).toBe(6);
    expect(result.sampling.se.samplesPerQuestion).toBe(2);
    // 6 WC samples at correctFraction 0.5: 3 correct, all distinct; SE: 2 correct, 1 unique.
    expect(result.verify.wc.correct).toBe(questions * 3);
    expect(result.verify.se.correct).toBe(questions * 2);
    const metrics = JSON.parse(await readFile(path.join(runDir, 'metrics.json'), 'utf8'));
    expect(metrics.sources.wc.coverage.at(-1)).toEqual({ k: 6, value: 1 });
    expect(metrics.sources.wc.diversity.at(-1).value).toBeCloseTo(3);
    expect(metrics.sources.se.coverage.at(-1)).toEqual({ k: 2, value: 1 });
    expect(metrics.sources.se.diversity.at(-1).value).toBeCloseTo(1);
    // k=1 for WC: each question has 3 of 6 correct, so P(one random sample correct) = 1/2.
    expect(metrics.sources.wc.coverage[0].value).toBeCloseTo(0.5);
    expect(result.datasets.wc.train.examples).toBe(questions * 3);
    // The paper's datasets by default: every correct solution, SE's repeated one counted and kept.
    expect(result.datasets.se.train.examples).toBe(questions * 2);
    expect(result.datasets.se.duplicates).toBe(questions * 1);
    expect(result.datasets.se.duplicatesDropped).toBe(0);
    expect(metrics.sources.se.solvedQuestions).toBe(questions);
    expect(metrics.sources.se.diversitySolved.at(-1).value).toBeCloseTo(1);
    expect(metrics.sources.wc.extractionFailures).toEqual({ noAnswer: 0, truncated: 0 });
    // Requests: WC asks for 6 per question in one request (n), SE 2.
    expect(server.stats.perModel.weak.served).toBe(questions);
    expect(server.stats.perModel.strong.served).toBe(questions);
    expect(result.sampling.wc.ledger.completionTokens).toBe(server.stats.perModel.weak.completionTokens);

    // The API key never enters workflow history: inputs, results, memos, children.
    const histories = await Promise.all(
      [result.experimentId, ...result.childWorkflowIds].map(async (id) =>
        allText(await client.workflow.getHandle(id).fetchHistory()),
      ),
    );
    expect(histories).toHaveLength(3);
    for (const history of histories) {
      expect(history.length).toBeGreaterThan(1000);
      expect(history).toContain('WCSE_TEST_API_KEY');
      expect(history).not.toContain(process.env.WCSE_TEST_API_KEY);
      expect(history).not.toContain(Buffer.from(process.env.WCSE_TEST_API_KEY!).toString('base64'));
    }
  });

  it('fails before sampling when the problem set is broken, naming the line', async () => {
    const { server, worker, client, dir } = fixture;
    const broken = path.join(dir, 'broken.jsonl');
    await writeFile(broken, '{"id": "a", "question": "q", "answer": "1"}\n{"id": "b", "question": "r"}\n');
    server.resetStats();
    const config = testConfig({
      problems: problemsBlock(broken),
      models: { wc: model(server.baseURL, 'weak', 9e9), se: model(server.baseURL, 'strong', 27e9) },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
    });
    const error = await runExperiment(client, worker.taskQueue, {
      runDir: path.join(dir, 'broken-run'),
      config,
    }).catch((e: unknown) => e);
    expect(rootFailureType(error)).toBe(FailureType.DatasetError);
    expect(rootCauseMessage(error)).toMatch(/broken\.jsonl: invalid problem set\n.*line 2: field "answer"/);
    expect(server.stats.received).toBe(0);
  });
});
